"""The convenience mutations: one typed event each, through the same append path as the rest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.api.graphql.inputs import (
    Comparator,
    DeploymentDecision,
    LineageRelation,
    RollbackTrigger,
    RolloutStrategy,
    TestKind,
)
from ledger.catalogue import Catalogue
from tests.api.conftest import error_codes
from tests.api.test_graphql_models import DemoApi, copy_demo, demo_api, load_demo

DIGEST = "sha256:" + "ab" * 32


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return load_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def api(demo_db: Path, tmp_path: Path) -> Iterator[DemoApi]:
    """A private copy of the demo per test: these tests append."""
    with demo_api(copy_demo(demo_db, tmp_path)) as made:
        yield made


REGISTER = """
mutation($input: RegisterModelVersionInput!) {
  registerModelVersion(input: $input) { seq hash eventId created }
}
"""

NEW_VERSION = {
    "ref": "model:fraud-detector@1.5.0",
    "artifactDigest": DIGEST,
    "trainingRun": "run:mlflow/feedbeef01",
    "codeRef": "git+https://git.acme.example/fraud-models@9a9a9a9",
    "author": "alice",
    "framework": "xgboost 2.1.1",
    "parameters": {"max_depth": 8},
    "trainedOn": ["dataset:fraud-features@2026-11-12"],
}


def _event(api: DemoApi, seq: int) -> Any:
    return api.data(
        "query($seq: Int!) { event(seq: $seq) { seq type subject actor hash eventId data } }",
        seq=seq,
    )["event"]


def test_register_model_version_appends_one_event_and_shows_in_the_registry(
    api: DemoApi,
) -> None:
    head = api.store.head().seq
    ack = api.data(REGISTER, "pipeline", input=NEW_VERSION)["registerModelVersion"]
    assert ack["seq"] == head + 1
    assert ack["created"] is True
    event = _event(api, ack["seq"])
    assert event["type"] == "model.version.registered"
    assert event["subject"] == "model:fraud-detector@1.5.0"
    assert event["actor"] == api.names["pipeline"]
    assert event["hash"] == ack["hash"]
    assert event["eventId"] == ack["eventId"]
    assert event["data"] == {
        "artifact_digest": DIGEST,
        "training_run": "run:mlflow/feedbeef01",
        "code_ref": "git+https://git.acme.example/fraud-models@9a9a9a9",
        "author": "alice",
        "framework": "xgboost 2.1.1",
        "parameters": {"max_depth": 8},
        "trained_on": ["dataset:fraud-features@2026-11-12"],
    }
    version = api.data(
        '{ modelVersion(ref: "model:fraud-detector@1.5.0") { author registeredBy trainedOn '
        "lineage(direction: UPSTREAM, depth: 1) { nodes { ref } } } }"
    )["modelVersion"]
    assert version["author"] == "alice"
    assert version["registeredBy"] == api.names["pipeline"]
    assert "dataset:fraud-features@2026-11-12" in {n["ref"] for n in version["lineage"]["nodes"]}


def test_a_retry_with_the_same_id_is_acknowledged_not_appended(api: DemoApi) -> None:
    item = {**NEW_VERSION, "id": "4b1d6a8e-0f38-4c1e-9d53-3c2a7f1f5e10"}
    first = api.data(REGISTER, "pipeline", input=item)["registerModelVersion"]
    again = api.data(REGISTER, "pipeline", input=item)["registerModelVersion"]
    assert again == {**first, "created": False}
    assert api.store.head().seq == first["seq"]


def test_record_test_result_and_lineage_edge(api: DemoApi) -> None:
    test = api.data(
        """mutation($input: RecordTestResultInput!) { recordTestResult(input: $input) { seq } }""",
        "pipeline",
        input={
            "ref": "model:fraud-detector@1.4.0",
            "suite": "nightly-drift",
            "kind": "EVALUATION",
            "passed": True,
            "metrics": {"auc": 0.948},
            "evaluatedOn": "dataset:card-transactions-holdout@2026-11-12",
            "occurredAt": "2026-11-20T10:00:00+01:00",
        },
    )["recordTestResult"]
    event = _event(api, test["seq"])
    assert event["data"]["kind"] == "evaluation"
    tests = api.data(
        '{ modelVersion(ref: "model:fraud-detector@1.4.0") { tests { suite seq passed } } }'
    )["modelVersion"]["tests"]
    assert {"suite": "nightly-drift", "seq": test["seq"], "passed": True} in tests
    occurred = api.data("query($s: Int!) { event(seq: $s) { occurredAt } }", s=test["seq"])[
        "event"
    ]["occurredAt"]
    assert occurred == "2026-11-20T09:00:00.000000Z"
    edge = api.data(
        "mutation($input: RecordLineageEdgeInput!) { recordLineageEdge(input: $input) { seq } }",
        "pipeline",
        input={
            "source": "feature:txn_amount_zscore",
            "target": "model:fraud-detector@1.4.0",
            "relation": "FEATURE_OF",
            "run": "run:airflow/features-77",
        },
    )["recordLineageEdge"]
    lineage = api.data(
        '{ lineage(ref: "model:fraud-detector@1.4.0", direction: UPSTREAM, depth: 1) '
        "{ edges { source relation seq } } }"
    )["lineage"]["edges"]
    assert {
        "source": "feature:txn_amount_zscore",
        "relation": "feature_of",
        "seq": edge["seq"],
    } in (lineage)


APPROVE = """
mutation($input: ApproveInput!) { approve(input: $input) { seq hash } }
"""

APPROVAL = {
    "ref": "model:product-recommender@2.4.1",
    "environment": "prod",
    "approverRole": "ml_lead",
    "justification": "Offline ranking eval beats 2.3.0; taxonomy fix verified.",
    "evidence": [{"seq": 81, "note": "offline eval"}],
    "expiresAt": "2026-12-31T00:00:00Z",
}


def test_an_approver_approves_and_the_approval_shows_on_the_version(api: DemoApi) -> None:
    ack = api.data(APPROVE, "approver", input=APPROVAL)["approve"]
    approvals = api.data(
        '{ modelVersion(ref: "model:product-recommender@2.4.1") '
        "{ approvals { seq actor role environment expiresAt revoked evidence { seq note } } } }"
    )["modelVersion"]["approvals"]
    assert approvals == [
        {
            "seq": ack["seq"],
            "actor": api.names["approver"],
            "role": "ml_lead",
            "environment": "prod",
            "expiresAt": "2026-12-31T00:00:00.000000Z",
            "revoked": False,
            "evidence": [{"seq": 81, "note": "offline eval"}],
        }
    ]


@pytest.mark.parametrize("role", ["pipeline", "operator", "auditor"])
def test_only_approvers_and_admins_may_approve(api: DemoApi, role: str) -> None:
    head = api.store.head().seq
    assert api.codes(APPROVE, role, input=APPROVAL) == ["forbidden"]
    assert api.store.head().seq == head


def test_mutations_need_a_token(api: DemoApi) -> None:
    assert api.codes(APPROVE, None, input=APPROVAL) == ["unauthorized"]


DECIDE = """
mutation($input: DecideDeploymentInput!) { decideDeployment(input: $input) { seq } }
"""


def test_a_promotion_the_policy_refuses_is_a_policy_denied_error_with_the_unmet_list(
    api: DemoApi,
) -> None:
    head = api.store.head().seq
    body = api.post(
        DECIDE,
        "approver",
        input={
            "ref": "model:product-recommender@2.4.1",
            "environment": "prod",
            "decision": "PROMOTE",
            "targetExposure": 5,
            "strategy": "CANARY",
            "justification": "ship it",
        },
    )
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "policy_denied"
    unmet = error["extensions"]["unmet"]
    assert any("approvals" in reason for reason in unmet)
    assert any("shadow test" in reason for reason in unmet)
    assert all(reason in error["message"] for reason in unmet)
    # only the denial itself was recorded, for the auditors
    assert api.store.head().seq == head + 1
    denials = api.data(
        '{ modelVersion(ref: "model:product-recommender@2.4.1") { denials { seq actor unmet } } }'
    )["modelVersion"]["denials"]
    assert denials == [{"seq": head + 1, "actor": api.names["approver"], "unmet": unmet}]


def test_a_hold_decision_is_recorded(api: DemoApi) -> None:
    ack = api.data(
        DECIDE,
        "approver",
        input={
            "ref": "model:product-recommender@2.4.1",
            "environment": "prod",
            "decision": "HOLD",
            "justification": "wait for the shadow run",
            "evidence": [{"seq": 82}],
        },
    )["decideDeployment"]
    decisions = api.data(
        '{ modelVersion(ref: "model:product-recommender@2.4.1") { decisions { seq decision } } }'
    )["modelVersion"]["decisions"]
    assert decisions == [{"seq": ack["seq"], "decision": "hold"}]


def test_change_stage_then_roll_back(api: DemoApi) -> None:
    stage = api.data(
        """mutation($input: ChangeStageInput!) { changeStage(input: $input) { seq } }""",
        "operator",
        input={
            "deployment": "deployment:product-recommender/staging",
            "version": "model:product-recommender@2.4.1",
            "strategy": "FULL",
            "exposurePercent": 100,
            "exitCriteria": [{"metric": "error_rate", "comparator": "LT", "value": 0.01}],
            "reason": "staging soak",
        },
    )["changeStage"]
    assert _event(api, stage["seq"])["data"]["exit_criteria"] == [
        {"metric": "error_rate", "comparator": "lt", "value": 0.01}
    ]
    staging = api.data(
        '{ deployment(ref: "deployment:product-recommender/staging") { version exposure } }'
    )["deployment"]
    assert staging == {"version": "2.4.1", "exposure": 100.0}
    rollback = api.data(
        """mutation($input: RollBackInput!) { rollBack(input: $input) { seq } }""",
        "operator",
        input={
            "deployment": "deployment:credit-limits/prod",
            "fromVersion": "model:credit-limits@3.2.0",
            "toVersion": "model:credit-limits@3.1.0",
            "reason": "limit deltas above plan in the canary cohort",
            "trigger": "MANUAL",
        },
    )["rollBack"]
    credit = api.data(
        '{ deployment(ref: "deployment:credit-limits/prod") '
        "{ version serving { version exposure } rollbacks { seq actor trigger } } }"
    )["deployment"]
    assert credit["version"] == "3.1.0"
    assert credit["serving"] == [{"version": "3.1.0", "exposure": 100.0}]
    assert credit["rollbacks"] == [
        {"seq": rollback["seq"], "actor": api.names["operator"], "trigger": "manual"}
    ]


def test_the_catalogue_validates_and_errors_name_the_input_field(api: DemoApi) -> None:
    head = api.store.head().seq
    bad_digest = api.post(REGISTER, "pipeline", input={**NEW_VERSION, "artifactDigest": "sha256:1"})
    assert error_codes(bad_digest) == ["schema_violation"]
    assert bad_digest["errors"][0]["extensions"]["field"] == "input.artifactDigest"
    assert bad_digest["errors"][0]["message"].startswith("input.artifactDigest:")
    bad_ref = api.post(REGISTER, "pipeline", input={**NEW_VERSION, "ref": "fraud-detector"})
    assert error_codes(bad_ref) == ["invalid_event"]
    assert bad_ref["errors"][0]["extensions"]["field"] == "input.ref"
    no_version = api.post(
        REGISTER, "pipeline", input={**NEW_VERSION, "ref": "model:fraud-detector"}
    )
    assert no_version["errors"][0]["extensions"]["field"] == "input.ref"
    assert api.store.head().seq == head


def test_appends_count_in_the_metrics_like_any_append(api: DemoApi) -> None:
    api.data(REGISTER, "pipeline", input=NEW_VERSION)
    metrics = api.client.get(
        "/metrics", headers={"Authorization": f"Bearer {api.tokens['auditor']}"}
    ).text
    assert 'ledger_appends_total{type="model.version.registered"} 1.0' in metrics


@pytest.mark.parametrize(
    ("enum", "event_type", "path"),
    [
        (TestKind, "test.result.recorded", ["kind"]),
        (LineageRelation, "lineage.edge.recorded", ["relation"]),
        (DeploymentDecision, "deployment.decided", ["decision"]),
        (RolloutStrategy, "deployment.decided", ["strategy"]),
        (RolloutStrategy, "rollout.stage.changed", ["strategy"]),
        (RollbackTrigger, "rollback.executed", ["trigger"]),
    ],
)
def test_input_enums_are_the_catalogues(
    catalogue: Catalogue, enum: Any, event_type: str, path: list[str]
) -> None:
    schema: Any = catalogue.get(event_type).schema
    node = schema["properties"]
    for key in path:
        node = node[key]
    assert [member.value for member in enum] == node["enum"]


def test_the_comparator_enum_is_the_catalogues(catalogue: Catalogue) -> None:
    schema: Any = catalogue.get("rollout.stage.changed").schema
    text = json.dumps(schema)
    assert [c.value for c in Comparator] == ["gt", "gte", "lt", "lte"]
    assert '"enum": ["gt", "gte", "lt", "lte"]' in text
