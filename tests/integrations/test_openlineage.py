"""OpenLineage -> drafts, table first, on payloads shaped like the spec's own examples."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from ledger.catalogue import Catalogue
from ledger.errors import BadRequest, InvalidEvent, PayloadTooLarge
from ledger.events import MAX_DATA_BYTES, EventDraft
from ledger.integrations.openlineage import (
    RUN_STATES,
    dataset_ref,
    furthest_state,
    job_ref,
    translate,
)
from ledger.refs import parse_ref
from ledger.schema_files import load_catalogue
from tests.integrations import payloads as p


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def drafts_of(event: dict[str, Any], actor: str = "airflow") -> list[EventDraft]:
    return translate(copy.deepcopy(event), actor=actor).drafts


def summary(drafts: list[EventDraft]) -> list[tuple[str, str, str | None, str | None]]:
    """(type, subject, relation, target) per draft."""
    out = []
    for draft in drafts:
        data = draft.data
        assert isinstance(data, dict)
        out.append((draft.type, draft.subject, data.get("relation"), data.get("target")))
    return out


RUN = f"run:{p.RUN_ID}"
IN = "dataset:my-datasource-namespace/instance.schema.table"
OUT = "dataset:my-datasource-namespace/instance.schema.output_table"
SF = "dataset:SnowflakeOpenLineage"

CASES = [
    (
        "spec minimal START",
        p.SPEC_START,
        [
            ("openlineage.event.recorded", RUN, None, None),
            ("lineage.edge.recorded", IN, "consumed_by", RUN),
            ("lineage.edge.recorded", OUT, "produced_by", RUN),
        ],
    ),
    (
        "airflow COMPLETE with a dataset version",
        p.AIRFLOW_COMPLETE,
        [
            ("openlineage.event.recorded", "run:3b452093-782c-4ef2-9c0c-aafe2aa6f34d", None, None),
            (
                "lineage.edge.recorded",
                "dataset:s3://lake/transactions@2026-11-01",
                "consumed_by",
                "run:3b452093-782c-4ef2-9c0c-aafe2aa6f34d",
            ),
            (
                "lineage.edge.recorded",
                "dataset:s3://lake/fraud_features",
                "produced_by",
                "run:3b452093-782c-4ef2-9c0c-aafe2aa6f34d",
            ),
        ],
    ),
    (
        "spark column lineage",
        p.SPARK_COLUMNS,
        [
            ("openlineage.event.recorded", "run:a8f7cf7a-8a3e-4e8a-9d1c-1f2e3d4c5b6a", None, None),
            (
                "lineage.edge.recorded",
                f"{SF}/CUSTOMERS",
                "consumed_by",
                "run:a8f7cf7a-8a3e-4e8a-9d1c-1f2e3d4c5b6a",
            ),
            (
                "lineage.edge.recorded",
                f"{SF}/DISCOUNTS",
                "consumed_by",
                "run:a8f7cf7a-8a3e-4e8a-9d1c-1f2e3d4c5b6a",
            ),
            (
                "lineage.edge.recorded",
                f"{SF}/CUSTOMER_DISCOUNTS",
                "produced_by",
                "run:a8f7cf7a-8a3e-4e8a-9d1c-1f2e3d4c5b6a",
            ),
            (
                "lineage.edge.recorded",
                f"{SF}/CUSTOMER_DISCOUNTS#NAME",
                "derived_from",
                f"{SF}/CUSTOMERS#NAME",
            ),
            (
                "lineage.edge.recorded",
                f"{SF}/CUSTOMER_DISCOUNTS#NAME",
                "derived_from",
                f"{SF}/CUSTOMERS#ID",
            ),
            (
                "lineage.edge.recorded",
                f"{SF}/CUSTOMER_DISCOUNTS",
                "derived_from",
                f"{SF}/DISCOUNTS#CUSTOMERS_ID",
            ),
        ],
    ),
    (
        "great expectations assertions",
        p.GE_VALIDATION,
        [
            ("openlineage.event.recorded", "run:a1b2c3d4-e5f6-7890-abcd-ef1234567890", None, None),
            (
                "lineage.edge.recorded",
                "dataset:postgres_prod/public.users",
                "consumed_by",
                "run:a1b2c3d4-e5f6-7890-abcd-ef1234567890",
            ),
            ("data_quality.result.recorded", "dataset:postgres_prod/public.users", None, None),
        ],
    ),
    (
        "dbt test run facet",
        p.DBT_TESTS,
        [
            ("openlineage.event.recorded", "run:6f9a0c4e-2b7d-4e1a-9c3b-8d5e6f7a8b9c", None, None),
            (
                "lineage.edge.recorded",
                "dataset:postgres://db:5432/shop.public.orders",
                "consumed_by",
                "run:6f9a0c4e-2b7d-4e1a-9c3b-8d5e6f7a8b9c",
            ),
            (
                "data_quality.result.recorded",
                "run:6f9a0c4e-2b7d-4e1a-9c3b-8d5e6f7a8b9c",
                None,
                None,
            ),
        ],
    ),
    (
        "DatasetEvent",
        p.DATASET_EVENT,
        [("openlineage.event.recorded", "dataset:s3://lake/transactions", None, None)],
    ),
    (
        "JobEvent",
        p.JOB_EVENT,
        [
            ("openlineage.event.recorded", "job:airflow/fraud_features.build", None, None),
            (
                "lineage.edge.recorded",
                "dataset:s3://lake/transactions",
                "consumed_by",
                "job:airflow/fraud_features.build",
            ),
            (
                "lineage.edge.recorded",
                "dataset:s3://lake/fraud_features",
                "produced_by",
                "job:airflow/fraud_features.build",
            ),
        ],
    ),
]


@pytest.mark.parametrize(("name", "event", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_event_becomes_its_record_and_its_lineage(
    name: str, event: dict[str, Any], expected: list[tuple[str, ...]], catalogue: Catalogue
) -> None:
    drafts = drafts_of(event)
    assert summary(drafts) == expected
    for draft in drafts:  # every draft is one the ledger accepts
        catalogue.check_subject(draft.type, draft.subject)
        catalogue.validate(draft.type, draft.data)


@pytest.mark.parametrize(("name", "event", "expected"), CASES, ids=[c[0] for c in CASES])
def test_the_event_is_kept_verbatim_unknown_facets_included(
    name: str, event: dict[str, Any], expected: object
) -> None:
    record = drafts_of(event)[0].data
    assert isinstance(record, dict)
    assert record["event"] == event
    assert "elided" not in record


def test_the_record_names_kind_state_time_job_and_run() -> None:
    record = drafts_of(p.SPEC_START)[0]
    assert record.occurred_at == "2020-12-28T09:52:00.001000Z"
    data = record.data
    assert isinstance(data, dict)
    assert {k: v for k, v in data.items() if k != "event"} == {
        "kind": "run",
        "event_type": "START",
        "event_time": "2020-12-28T09:52:00.001000Z",
        "job": "job:my-scheduler-namespace/myjob.mytask",
        "run": RUN,
        "producer": "https://github.com/OpenLineage/OpenLineage/blob/v1-0-0/client",
        "schema_url": p.SPEC_START["schemaURL"],
    }


@pytest.mark.parametrize("state", RUN_STATES)
def test_every_run_state_is_accepted(state: str) -> None:
    record = drafts_of(p.run_event(state, "2026-11-20T09:00:00Z"))[0].data
    assert isinstance(record, dict)
    assert record["event_type"] == state


def test_ids_are_the_events_identity_so_retries_are_idempotent() -> None:
    first, again = drafts_of(p.SPEC_START), drafts_of(p.SPEC_START)
    assert [d.id for d in first] == [d.id for d in again]
    other_time = drafts_of(p.run_event("START", "2020-12-28T19:52:01+10:00"))
    other_type = drafts_of(p.run_event("RUNNING", "2020-12-28T19:52:00.001+10:00"))
    assert len({first[0].id, other_time[0].id, other_type[0].id}) == 3


def test_a_fact_seen_by_start_and_complete_is_one_draft_id() -> None:
    start = drafts_of(p.SPEC_START)
    complete = drafts_of(p.run_event("COMPLETE", "2020-12-28T20:00:00Z"))
    assert start[0].id != complete[0].id
    assert [d.id for d in start[1:]] == [d.id for d in complete[1:]]


def test_derived_ids_are_salted_by_the_actor() -> None:
    assert drafts_of(p.SPEC_START, "a")[0].id == drafts_of(p.SPEC_START, "b")[0].id
    assert drafts_of(p.SPEC_START, "a")[1].id != drafts_of(p.SPEC_START, "b")[1].id


def test_column_edges_keep_transformations() -> None:
    edges = [d.data for d in drafts_of(p.SPARK_COLUMNS) if "#" in d.subject]
    assert edges[0] == {
        "target": f"{SF}/CUSTOMERS#NAME",
        "relation": "derived_from",
        "run": "run:a8f7cf7a-8a3e-4e8a-9d1c-1f2e3d4c5b6a",
        "producer": p.SPARK_COLUMNS["producer"],
        "facets": {
            "job": "job:spark/customer_discounts",
            "transformationDescription": "SELECT NAME",
            "transformationType": "IDENTITY",
            "transformations": [{"type": "DIRECT", "masking": False}],
        },
    }


def test_assertions_become_a_failed_result_with_metrics() -> None:
    result = drafts_of(p.GE_VALIDATION)[-1].data
    assert isinstance(result, dict)
    assert result["passed"] is False
    assert result["source"] == "openlineage:dataQualityAssertions"
    assert [(c["column"], c["status"]) for c in result["checks"]] == [
        ("user_id", "pass"),
        ("email", "fail"),
    ]
    assert result["metrics"] == {
        "rowCount": 1234567,
        "user_id.nullCount": 0,
        "user_id.distinctCount": 1234567,
    }


def test_the_test_run_facet_keeps_pass_fail_and_skip() -> None:
    result = drafts_of(p.DBT_TESTS)[-1].data
    assert isinstance(result, dict)
    assert [c["status"] for c in result["checks"]] == ["pass", "fail", "skip"]
    assert result["passed"] is False
    assert result["checks"][1]["expected"] == "1000"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-11-20T09:14:03.123456789Z", "2026-11-20T09:14:03.123456Z"),
        ("2026-11-20T09:14:03.123456", "2026-11-20T09:14:03.123456Z"),  # naive: read as UTC
        ("2026-11-20T10:14:03+01:00", "2026-11-20T09:14:03.000000Z"),
    ],
)
def test_event_times_are_normalised(given: str, expected: str) -> None:
    assert drafts_of(p.run_event("START", given))[0].occurred_at == expected


@pytest.mark.parametrize(
    ("change", "error", "field"),
    [
        ({"run": {}}, BadRequest, "run.runId"),
        ({"eventType": "DONE"}, InvalidEvent, "eventType"),
        ({"eventTime": "yesterday"}, InvalidEvent, "eventTime"),
        ({"job": {"namespace": "x"}}, BadRequest, "job.name"),
        ({"inputs": {"namespace": "x"}}, InvalidEvent, "inputs"),
        (
            {"schemaURL": "https://openlineage.io/spec/3-0-0/OpenLineage.json#/$defs/RunEvent"},
            InvalidEvent,
            "schemaURL",
        ),
    ],
)
def test_malformed_events_are_refused_naming_the_field(
    change: dict[str, Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as raised:
        translate({**p.SPEC_START, **change}, actor="a")
    assert getattr(raised.value, "field", None) == field


def test_something_that_is_not_an_event_is_refused() -> None:
    with pytest.raises(InvalidEvent):
        translate({"eventTime": "2026-11-20T09:00:00Z"}, actor="a")
    with pytest.raises(BadRequest):
        translate([1, 2], actor="a")


def test_references_escape_what_would_break_them() -> None:
    ref = dataset_ref("kafka://user@broker:9092", "topic #1", version="v 2")
    assert ref == "dataset:kafka://user%40broker:9092/topic%20%231@v%202"
    assert parse_ref(ref).version == "v%202"
    long = dataset_ref("s3://lake", "x" * 600, version="7")
    assert len(long) == 512
    assert long.endswith("@7")
    assert job_ref("ns", "a b") == "job:ns/a%20b"


def test_a_huge_event_keeps_lineage_and_elides_its_largest_facets() -> None:
    event = copy.deepcopy(p.AIRFLOW_COMPLETE)
    event["run"]["facets"]["spark_logicalPlan"] = {"plan": "x" * (MAX_DATA_BYTES + 10)}
    drafts = drafts_of(event)
    record = drafts[0].data
    assert isinstance(record, dict)
    assert [e["path"] for e in record["elided"]] == ["run.facets.spark_logicalPlan"]
    assert (
        record["event"]["run"]["facets"]["spark_logicalPlan"]["_elided"]["bytes"] > MAX_DATA_BYTES
    )
    assert record["event"]["run"]["facets"]["acme_costCenter"] == {
        "_producer": "https://acme.example/ol",
        "team": "fraud-ml",
    }
    assert len(record["event_sha256"]) == 64
    assert len(drafts) == 3  # the lineage is derived from the whole event
    assert event["run"]["facets"]["spark_logicalPlan"]["plan"].startswith("x")  # input untouched


def test_an_event_too_large_without_facets_is_refused() -> None:
    event = copy.deepcopy(p.SPEC_START)
    event["inputs"] = [{"namespace": "s3://lake", "name": f"t{i:06d}" * 20} for i in range(1000)]
    with pytest.raises(PayloadTooLarge):
        translate(event, actor="a")


OBSERVED = [("START", "2026-11-20T09:00:00Z"), ("RUNNING", "2026-11-20T09:01:00Z"),
            ("OTHER", "2026-11-20T09:02:00Z"), ("COMPLETE", "2026-11-20T09:03:00Z")]  # fmt: skip


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_the_run_state_never_moves_backwards_whatever_the_arrival_order(
    order: tuple[int, ...],
) -> None:
    arrived = [(OBSERVED[i][0], OBSERVED[i][1], seq) for seq, i in enumerate(order, 1)]
    state = furthest_state(arrived)
    assert state is not None
    assert (state.state, state.event_time) == ("COMPLETE", "2026-11-20T09:03:00Z")


def test_other_alone_is_no_state_and_a_later_terminal_wins() -> None:
    assert furthest_state([("OTHER", "2026-11-20T09:00:00Z", 1)]) is None
    state = furthest_state(
        [("FAIL", "2026-11-20T09:05:00Z", 2), ("COMPLETE", "2026-11-20T09:03:00Z", 3)]
    )
    assert state is not None
    assert state.state == "FAIL"
