"""GraphQL timelines against the demo story: the incident, widened through lineage, in order."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import error_codes
from tests.api.test_graphql_models import DemoApi, demo_api, load_demo

INCIDENT = "incident:INC-2291"
VERSION = "model:product-recommender@2.4.0"
DEPLOYMENT = "deployment:product-recommender/prod"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoApi]:
    with demo_api(load_demo(tmp_path_factory.mktemp("demo"))) as made:
        yield made


TIMELINE = """
query(
  $subjects: [String!]!, $from: DateTime, $to: DateTime, $types: [String!],
  $related: Boolean! = false, $asOf: AsOf, $first: Int! = 100, $after: String
) {
  timeline(
    subjects: $subjects, from: $from, to: $to, types: $types, related: $related,
    asOf: $asOf, first: $first, after: $after
  ) {
    subjects
    edges { cursor node { seq type subject hash occurredAt recordedAt canonical } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""


def _timeline(api: DemoApi, **variables: object) -> Any:
    return api.data(TIMELINE, **variables)["timeline"]


def _nodes(timeline: Any) -> list[Any]:
    return [edge["node"] for edge in timeline["edges"]]


def _all(api: DemoApi, first: int, **variables: object) -> list[Any]:
    nodes: list[Any] = []
    after = None
    while True:
        page = _timeline(api, first=first, after=after, **variables)
        nodes += _nodes(page)
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def test_the_incident_alone_is_its_own_events(api: DemoApi) -> None:
    nodes = _nodes(_timeline(api, subjects=[INCIDENT]))
    assert [n["type"] for n in nodes] == ["incident.opened", "incident.resolved", "review.recorded"]
    assert {n["subject"] for n in nodes} == {INCIDENT}


def test_related_pulls_in_tests_approvals_alert_and_the_rollback(api: DemoApi) -> None:
    timeline = _timeline(api, subjects=[INCIDENT], related=True)
    assert {INCIDENT, VERSION, DEPLOYMENT, "model:product-recommender"} <= set(timeline["subjects"])
    assert timeline["subjects"] == sorted(timeline["subjects"])
    nodes = _nodes(timeline)
    seqs = [n["seq"] for n in nodes]
    assert seqs == sorted(set(seqs))
    kinds = {(n["type"], n["subject"]) for n in nodes}
    assert ("test.result.recorded", VERSION) in kinds
    assert ("approval.granted", VERSION) in kinds
    assert ("approval.revoked", VERSION) in kinds
    assert ("alert.raised", DEPLOYMENT) in kinds
    assert ("rollback.executed", DEPLOYMENT) in kinds
    assert ("rollback.verified", DEPLOYMENT) in kinds
    assert ("review.recorded", INCIDENT) in kinds
    # the training data of the version is pulled in too
    assert any(
        t == "dataset.version.registered" and s.startswith("dataset:recs-training-pairs@")
        for t, s in kinds
    )
    # ... but not another model's story
    assert not any("fraud-detector" in s or "credit-limits" in s for _, s in kinds)


def test_each_line_carries_a_hash_that_proves_it(api: DemoApi) -> None:
    nodes = _nodes(_timeline(api, subjects=[INCIDENT], related=True, first=10))
    for node in nodes:
        assert node["hash"] == hashlib.sha256(node["canonical"].encode()).hexdigest()
    proof = api.data(
        "query($seq: Int!) { inclusionProof(seq: $seq) { leafHash } }", seq=nodes[-1]["seq"]
    )
    leaf = hashlib.sha256(b"\x00" + nodes[-1]["canonical"].encode()).hexdigest()
    assert proof["inclusionProof"]["leafHash"] == leaf


@pytest.mark.parametrize("first", [1, 4, 7])
def test_paging_a_timeline_has_no_duplicates_or_holes(api: DemoApi, first: int) -> None:
    everything = [n["seq"] for n in _nodes(_timeline(api, subjects=[INCIDENT], related=True))]
    paged = [n["seq"] for n in _all(api, first, subjects=[INCIDENT], related=True)]
    assert paged == everything


def test_the_window_is_from_inclusive_to_exclusive(api: DemoApi) -> None:
    everything = _nodes(_timeline(api, subjects=[INCIDENT], related=True))
    opened = next(n for n in everything if n["type"] == "incident.opened")
    verified = next(n for n in everything if n["type"] == "rollback.verified")
    window = _nodes(
        _timeline(
            api,
            subjects=[INCIDENT],
            related=True,
            **{"from": opened["occurredAt"]},
            to=verified["occurredAt"],
        )
    )
    assert window[0]["seq"] == opened["seq"]
    assert all(opened["occurredAt"] <= n["occurredAt"] < verified["occurredAt"] for n in window)
    assert [n["type"] for n in window] == [
        n["type"]
        for n in everything
        if opened["occurredAt"] <= n["occurredAt"] < verified["occurredAt"]
    ]
    assert "rollback.executed" in {n["type"] for n in window}
    assert "rollback.verified" not in {n["type"] for n in window}


def test_types_filter_exactly_or_by_prefix(api: DemoApi) -> None:
    exact = _nodes(_timeline(api, subjects=[INCIDENT], related=True, types=["rollback.executed"]))
    assert [n["type"] for n in exact] == ["rollback.executed"]
    prefix = _nodes(
        _timeline(api, subjects=[INCIDENT], related=True, types=["alert.*", "incident.opened"])
    )
    assert [n["type"] for n in prefix] == ["alert.raised", "incident.opened", "alert.resolved"]


def test_as_of_shows_the_timeline_as_the_ledger_stood(api: DemoApi) -> None:
    everything = _nodes(_timeline(api, subjects=[INCIDENT], related=True))
    rollback = next(n for n in everything if n["type"] == "rollback.executed")
    by_seq = _nodes(
        _timeline(api, subjects=[INCIDENT], related=True, asOf={"seq": rollback["seq"]})
    )
    assert by_seq[-1]["seq"] == rollback["seq"]
    assert by_seq == [n for n in everything if n["seq"] <= rollback["seq"]]
    by_time = _nodes(
        _timeline(api, subjects=[INCIDENT], related=True, asOf={"time": rollback["recordedAt"]})
    )
    assert [n["seq"] for n in by_time] == [n["seq"] for n in by_seq]


def test_timeline_of_a_deployment_widens_to_its_incident(api: DemoApi) -> None:
    timeline = _timeline(api, subjects=[DEPLOYMENT], related=True)
    assert INCIDENT in timeline["subjects"]
    assert "incident.opened" in {n["type"] for n in _nodes(timeline)}


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"subjects": []}, "subjects"),
        ({"subjects": ["not a ref"]}, "subjects[0]"),
        ({"subjects": [INCIDENT, "bad"]}, "subjects[1]"),
        (
            {"subjects": [INCIDENT], "from": "2026-11-20T00:00:00Z", "to": "2026-11-19T00:00:00Z"},
            "to",
        ),
        ({"subjects": [INCIDENT], "from": "2026-11-20T00:00:00"}, "from"),
        ({"subjects": [INCIDENT], "first": 101}, "first"),
        ({"subjects": [INCIDENT], "first": 0}, "first"),
    ],
)
def test_bad_arguments_are_errors_naming_the_argument(
    api: DemoApi, variables: dict[str, object], field: str
) -> None:
    body = api.post(TIMELINE, **variables)
    assert error_codes(body) == ["bad_request"]
    assert body["errors"][0]["extensions"]["field"] == field


def test_timeline_needs_a_token(api: DemoApi) -> None:
    assert api.codes(TIMELINE, None, subjects=[INCIDENT]) == ["unauthorized"]
