"""The integration routes through the ASGI app, and OpenLineage's own client against a server."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from ledger.cli import cli
from ledger.integrations.mlflow import sign as mlflow_sign
from ledger.service import Ledger
from ledger.store import open_store
from tests.api.conftest import Headers, TestClient, gql
from tests.integrations import payloads as p
from tests.servers import serve

LINEAGE = "/api/v1/lineage"


def _post(client: TestClient, headers: Headers, event: object, role: str = "pipeline") -> Any:
    response = client.post(LINEAGE, json=event, headers=headers(role))
    assert response.status_code == 200, response.text
    return response.json()["events"]


def test_an_openlineage_event_is_recorded_with_its_lineage(
    client: TestClient, headers: Headers, signed_ledger: Ledger
) -> None:
    acks = _post(client, headers, p.AIRFLOW_COMPLETE)
    assert [a["created"] for a in acks] == [True, True, True]
    stored = list(signed_ledger.events())
    assert [e.type for e in stored] == ["openlineage.event.recorded"] + [
        "lineage.edge.recorded"
    ] * 2
    assert {e.actor for e in stored} == {"pipeline"}
    record = stored[0].data
    assert isinstance(record, dict)
    assert record["event"] == p.AIRFLOW_COMPLETE
    body = gql(
        client,
        'query { lineage(ref: "dataset:s3://lake/fraud_features", direction: UPSTREAM, depth: 3)'
        " { edges { source target relation } } }",
        headers("auditor"),
    )
    data: Any = body["data"]
    edges = {(e["source"], e["relation"], e["target"]) for e in data["lineage"]["edges"]}
    run = "run:3b452093-782c-4ef2-9c0c-aafe2aa6f34d"
    assert ("dataset:s3://lake/fraud_features", "produced_by", run) in edges
    assert ("dataset:s3://lake/transactions@2026-11-01", "consumed_by", run) in edges


def test_gzip_bodies_are_accepted(
    client: TestClient, headers: Headers, signed_ledger: Ledger
) -> None:
    body = gzip.compress(json.dumps(p.SPARK_COLUMNS).encode(), compresslevel=3)
    response = client.post(
        LINEAGE,
        content=body,
        headers={
            **headers("pipeline"),
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        },
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["events"]) == 7
    assert signed_ledger.head().seq == 7


def test_a_retried_event_is_acknowledged_not_duplicated(
    client: TestClient, headers: Headers, signed_ledger: Ledger
) -> None:
    first = _post(client, headers, p.GE_VALIDATION)
    again = _post(client, headers, p.GE_VALIDATION)
    assert again == [{**a, "created": False} for a in first]
    assert signed_ledger.head().seq == len(first)


def test_start_and_complete_share_their_lineage_edges(
    client: TestClient, headers: Headers, signed_ledger: Ledger
) -> None:
    _post(client, headers, p.SPEC_START)
    acks = _post(client, headers, p.run_event("COMPLETE", "2020-12-28T20:00:00Z"))
    assert [a["created"] for a in acks] == [True, False, False]
    assert signed_ledger.head().seq == 4


def test_every_kind_of_event_and_a_json_array_of_them(client: TestClient, headers: Headers) -> None:
    acks = _post(client, headers, [p.DATASET_EVENT, p.JOB_EVENT, p.DBT_TESTS])
    assert len(acks) == 1 + 3 + 3


@pytest.mark.parametrize(
    ("role", "status"), [(None, 401), ("auditor", 403), ("approver", 403), ("admin", 200)]
)
def test_only_roles_that_append_lineage_may_post(
    client: TestClient, headers: Headers, role: str | None, status: int
) -> None:
    response = client.post(LINEAGE, json=p.SPEC_START, headers=headers(role) if role else {})
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("body", "extra", "status", "code"),
    [
        (b"{not json", {}, 400, "bad_request"),
        (b"\x1f\x8b garbage", {"Content-Encoding": "gzip"}, 400, "bad_request"),
        (b"{}", {"Content-Encoding": "br"}, 400, "bad_request"),
        (b"[]", {}, 400, "bad_request"),
        (json.dumps({**p.SPEC_START, "eventType": "DONE"}).encode(), {}, 422, "invalid_event"),
    ],
)
def test_bad_bodies_are_refused_and_append_nothing(
    client: TestClient,
    headers: Headers,
    signed_ledger: Ledger,
    body: bytes,
    extra: dict[str, str],
    status: int,
    code: str,
) -> None:
    response = client.post(
        LINEAGE,
        content=body,
        headers={**headers("pipeline"), "Content-Type": "application/json", **extra},
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert signed_ledger.head().seq == 0


def test_out_of_order_events_never_move_a_run_back(client: TestClient, headers: Headers) -> None:
    _post(client, headers, p.run_event("COMPLETE", "2020-12-28T20:00:00Z"))
    _post(client, headers, p.run_event("RUNNING", "2020-12-28T19:55:00Z"))
    _post(client, headers, p.SPEC_START)
    response = client.get(f"{LINEAGE}/runs/{p.RUN_ID}", headers=headers("auditor"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["state"], body["state_event_time"]) == ("COMPLETE", "2020-12-28T20:00:00.000000Z")
    assert [e["event_type"] for e in body["events"]] == ["COMPLETE", "RUNNING", "START"]
    assert body["job"] == "job:my-scheduler-namespace/myjob.mytask"
    missing = client.get(f"{LINEAGE}/runs/nope", headers=headers("auditor"))
    assert missing.status_code == 404


# ---- the official client against a real server ----------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    db = str(tmp_path_factory.mktemp("openlineage") / "served.db")
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", db, "init"]).exit_code == 0
    made = runner.invoke(
        cli, ["--db", db, "token", "create", "--name", "airflow", "--role", "pipeline"]
    )
    assert made.exit_code == 0, made.output
    with serve(db) as url:
        yield url, db, made.stdout.strip()


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_the_openlineage_python_client_posts_to_a_running_server(
    served: tuple[str, str, str], compression: str | None
) -> None:
    ol = pytest.importorskip("openlineage.client")
    from openlineage.client.event_v2 import (
        InputDataset,
        Job,
        OutputDataset,
        Run,
        RunEvent,
        RunState,
    )
    from openlineage.client.facet_v2 import column_lineage_dataset as cl
    from openlineage.client.transport.http import HttpConfig, HttpTransport
    from openlineage.client.uuid import generate_new_uuid

    url, db, token = served
    config = HttpConfig.from_dict(
        {
            "url": url,
            "auth": {"type": "api_key", "apiKey": token},
            **({"compression": compression} if compression else {}),
        }
    )
    client = ol.OpenLineageClient(transport=HttpTransport(config))
    run_id = str(generate_new_uuid())
    lineage = cl.ColumnLineageDatasetFacet(
        fields={
            "amount": cl.Fields(
                inputFields=[cl.InputField(namespace="s3://lake", name="raw", field="amt")]
            )
        }
    )
    for state in (RunState.START, RunState.COMPLETE):
        client.emit(
            RunEvent(
                eventType=state,
                eventTime="2026-11-20T09:00:00.000Z"
                if state == RunState.START
                else "2026-11-20T09:05:00.000Z",
                run=Run(runId=run_id),
                job=Job(namespace="airflow", name=f"etl-{compression}"),
                inputs=[InputDataset(namespace="s3://lake", name="raw")],
                outputs=[
                    OutputDataset(
                        namespace="s3://lake", name="clean", facets={"columnLineage": lineage}
                    )
                ],
                producer="https://example.com/pipeline",
            )
        )
    client.transport.close()
    with _ledger(db) as ledger:
        mine = [e for e in ledger.events() if f"etl-{compression}" in e.body.decode()]
    types = [e.type for e in mine]
    assert types.count("openlineage.event.recorded") == 2
    assert types.count("lineage.edge.recorded") == 3  # in, out and one column edge, once each
    assert {e.actor for e in mine} == {"airflow"}
    state = json.loads(_get(f"{url}{LINEAGE}/runs/{run_id}", token))["state"]
    assert state == "COMPLETE"


def _get(url: str, token: str) -> str:
    response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.text


@contextmanager
def _ledger(db: str) -> Iterator[Ledger]:
    """A ledger over a served database, closed on exit."""
    store = open_store(db)
    try:
        yield Ledger(store)
    finally:
        store.close()


# ---- Flagger ------------------------------------------------------------------------------

V = "model:fraud-detector@1.4.0"
POLICY = {
    "policy_version": 1,
    "scope": {"risk_tiers": ["high"]},
    "environments": {
        "prod": {
            "required_tests": ["evaluation"],
            "required_approvals": {"count": 1},
            "min_minutes_per_stage": 0,
            "max_exposure_step": 50,
        }
    },
}


def _events(client: TestClient, headers: Headers, role: str, *events: dict[str, Any]) -> None:
    response = client.post("/v1/events", json=list(events), headers=headers(role))
    assert response.status_code == 200, response.text


def _registered(client: TestClient, headers: Headers, version: str = V) -> None:
    _events(
        client,
        headers,
        "admin",
        {"type": "policy.defined", "subject": "policy:standard", "data": POLICY},
        {
            "type": "model.registered",
            "subject": "model:fraud-detector",
            "data": {
                "owner": "fraud-ml",
                "risk_tier": "high",
                "business_process": "card-payment-authorisation",
                "description": "Scores card transactions.",
            },
        },
        {
            "type": "model.version.registered",
            "subject": version,
            "data": {
                "artifact_digest": "sha256:" + "ab" * 32,
                "training_run": "run:mlflow/1",
                "code_ref": "git+https://git.example.com/fraud@1",
                "author": "alice",
            },
        },
    )


def _evidence(client: TestClient, headers: Headers) -> None:
    _events(
        client,
        headers,
        "pipeline",
        {
            "type": "test.result.recorded",
            "subject": V,
            "data": {"suite": "holdout", "kind": "evaluation", "passed": True, "metrics": {}},
        },
    )
    _events(
        client,
        headers,
        "approver",
        {
            "type": "approval.granted",
            "subject": V,
            "data": {
                "environment": "prod",
                "approver_role": "ml_lead",
                "justification": "Holdout AUC above threshold.",
                "evidence": [{"seq": 4}],
            },
        },
    )


def _gate(client: TestClient, headers: Headers, kind: str, weight: int = 0, **meta: str) -> Any:
    return client.post(
        f"/api/v1/flagger/{kind}",
        json=p.flagger_gate(kind, weight=weight, **meta),
        headers=headers("operator"),
    )


def _flagger_event(client: TestClient, headers: Headers, message: str, weight: int = 0) -> Any:
    response = client.post(
        "/api/v1/flagger/event",
        json=p.flagger_event(message, weight=weight),
        headers=headers("operator"),
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_the_gates_answer_403_with_the_unmet_requirements_until_the_policy_allows(
    client: TestClient, headers: Headers, signed_ledger: Ledger
) -> None:
    _registered(client, headers)
    denied = _gate(client, headers, "confirm-rollout", stepWeight="10")
    assert denied.status_code == 403, denied.text
    body = denied.json()
    assert body["allowed"] is False
    assert body["policy"] == "policy:standard"
    assert len(body["unmet"]) == 2
    assert any("evaluation" in u for u in body["unmet"])
    assert body["error"]["code"] == "policy_denied"
    assert "evaluation" in body["error"]["message"]

    _evidence(client, headers)
    allowed = _gate(client, headers, "confirm-rollout", stepWeight="10")
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["unmet"] == []

    too_far = _gate(client, headers, "confirm-promotion")  # 0 -> 100 is over the 50-point step
    assert too_far.status_code == 403
    assert any("50" in u for u in too_far.json()["unmet"])

    _flagger_event(client, headers, "Starting canary analysis for fraud-detector.prod")
    up = _gate(client, headers, "confirm-traffic-increase", 0, stepWeight="50")
    assert up.status_code == 200, up.text
    _flagger_event(client, headers, "Advance fraud-detector.prod canary weight 50", 50)
    promote = _gate(client, headers, "confirm-promotion", 50)
    assert promote.status_code == 200, promote.text
    _flagger_event(client, headers, "Promotion completed! Scaling down fraud-detector.prod")

    gates = [e.data for e in signed_ledger.events() if e.type == "rollout.gate.checked"]
    assert [(g["gate"], g["allowed"]) for g in gates] == [  # type: ignore[index]
        ("confirm-rollout", False),
        ("confirm-rollout", True),
        ("confirm-promotion", False),
        ("confirm-traffic-increase", True),
        ("confirm-promotion", True),
    ]
    stages = [e.data for e in signed_ledger.events() if e.type == "rollout.stage.changed"]
    assert [(s["strategy"], s["exposure_percent"]) for s in stages] == [  # type: ignore[index]
        ("canary", 0),
        ("canary", 50),
        ("full", 100),
    ]
    assert not [e for e in signed_ledger.events() if e.type == "policy.denied"]


def test_an_unchanged_re_ask_is_recorded_once(
    client: TestClient, headers: Headers, signed_ledger: Ledger
) -> None:
    _registered(client, headers)
    first = _gate(client, headers, "confirm-promotion").json()["events"]
    again = _gate(client, headers, "confirm-promotion").json()["events"]
    assert again == [{**first[0], "created": False}]
    _evidence(client, headers)  # the state changed: a new answer is a new record
    third = _gate(client, headers, "confirm-promotion").json()["events"]
    assert third[0]["created"] is True


def test_the_version_may_come_from_the_ledger_and_the_token_from_metadata(
    client: TestClient, headers: Headers, tokens: dict[str, str], signed_ledger: Ledger
) -> None:
    _registered(client, headers)
    _events(
        client,
        headers,
        "approver",
        {
            "type": "deployment.decided",
            "subject": V,
            "data": {
                "environment": "staging",
                "decision": "promote",
                "target_exposure": 10,
                "justification": "try it",
            },
        },
    )
    payload = p.flagger_gate("confirm-rollout", token=tokens["operator"])
    payload["metadata"].pop("version")
    payload["metadata"]["deployment"] = "fraud-detector/staging"
    response = client.post("/api/v1/flagger/confirm-rollout", json=payload)
    assert response.status_code == 200, response.text  # staging is not governed
    assert response.json()["version"] == V
    (record,) = [e for e in signed_ledger.events() if e.type == "rollout.gate.checked"]
    assert record.actor == "operator"
    assert tokens["operator"] not in record.body.decode()


@pytest.mark.parametrize(
    ("role", "status"), [(None, 401), ("pipeline", 403), ("auditor", 403), ("admin", 200)]
)
def test_flagger_routes_need_an_operator_token(
    client: TestClient, headers: Headers, role: str | None, status: int
) -> None:
    response = client.post(
        "/api/v1/flagger/confirm-promotion?deployment=fraud-detector/canary-env",
        json=p.flagger_gate("confirm-promotion"),
        headers=headers(role) if role else {},
    )
    assert response.status_code == status, response.text


def test_an_unknown_gate_is_404(client: TestClient, headers: Headers) -> None:
    response = client.post(
        "/api/v1/flagger/pre-rollout", json=p.flagger_gate("x"), headers=headers("operator")
    )
    assert response.status_code == 404


def test_a_failed_canary_is_recorded_as_a_rollback_to_the_stable_version(
    client: TestClient, headers: Headers, signed_ledger: Ledger
) -> None:
    _registered(client, headers, "model:fraud-detector@1.3.2")
    _registered_again = {
        "type": "model.version.registered",
        "subject": V,
        "data": {
            "artifact_digest": "sha256:" + "cd" * 32,
            "training_run": "run:mlflow/2",
            "code_ref": "git+https://git.example.com/fraud@2",
            "author": "alice",
        },
    }
    _events(client, headers, "admin", _registered_again)
    _events(
        client,
        headers,
        "operator",
        {
            "type": "rollout.stage.changed",
            "subject": "deployment:fraud-detector/staging",
            "data": {
                "version": "model:fraud-detector@1.3.2",
                "strategy": "full",
                "exposure_percent": 100,
            },
        },
    )
    event = p.flagger_event("Rolling back fraud-detector.staging failed checks threshold reached 5")
    event["metadata"]["deployment"] = "fraud-detector/staging"
    response = client.post("/api/v1/flagger/event", json=event, headers=headers("operator"))
    assert response.status_code == 200, response.text
    last = list(signed_ledger.events())[-1]
    assert last.type == "rollback.executed"
    assert last.data == {
        "from_version": V,
        "to_version": "model:fraud-detector@1.3.2",
        "reason": "Rolling back fraud-detector.staging failed checks threshold reached 5",
        "trigger": "policy",
    }
    ignored = client.post(
        "/api/v1/flagger/event",
        json=p.flagger_event("Halt advancement waiting for approval"),
        headers=headers("operator"),
    )
    assert ignored.json()["events"] == []
    assert ignored.json()["notes"]


# ---- MLflow -------------------------------------------------------------------------------

SECRET = "whsec-test-0123456789"  # noqa: S105 - a test secret


def _deliver(
    client: TestClient, envelope: dict[str, Any], delivery: str, secret: str = SECRET
) -> Any:
    body = json.dumps(envelope).encode()
    stamp = str(int(time.time()))
    return client.post(
        "/api/v1/mlflow/webhook",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-MLflow-Delivery-Id": delivery,
            "X-MLflow-Timestamp": stamp,
            "X-MLflow-Signature": mlflow_sign(secret, delivery, stamp, body),
        },
    )


@pytest.fixture
def mlflow_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_MLFLOW_SECRET", SECRET)


@pytest.mark.usefixtures("mlflow_on")
def test_a_signed_mlflow_delivery_registers_the_version(
    client: TestClient, signed_ledger: Ledger
) -> None:
    response = _deliver(client, p.mlflow_version_created(), "d-1")
    assert response.status_code == 200, response.text
    stored = list(signed_ledger.events())
    assert [(e.type, e.subject, e.actor) for e in stored] == [
        ("mlflow.webhook.received", "model:fraud-detector@7", "mlflow"),
        ("model.version.registered", "model:fraud-detector@7", "mlflow"),
    ]
    again = _deliver(client, p.mlflow_version_created(), "d-1")  # MLflow's retry
    assert [a["created"] for a in again.json()["events"]] == [False, False]


@pytest.mark.usefixtures("mlflow_on")
def test_the_production_alias_at_a_time_comes_from_mlflows_events(
    client: TestClient, headers: Headers
) -> None:
    def alias(action: str, version: str | None, at: str, delivery: str) -> None:
        data = {
            "name": "fraud-detector",
            "alias": "production",
            **({"version": version} if version else {}),
        }
        envelope = p.mlflow_envelope("model_version_alias", action, data, at)
        assert _deliver(client, envelope, delivery).status_code == 200

    alias("created", "6", "2026-11-01T00:00:00+00:00", "d-1")
    alias("created", "7", "2026-11-10T00:00:00+00:00", "d-2")
    alias("deleted", None, "2026-11-15T00:00:00+00:00", "d-3")

    def at(moment: str) -> Any:
        response = client.get(
            f"/api/v1/models/fraud-detector/aliases?at={moment}", headers=headers("auditor")
        )
        assert response.status_code == 200, response.text
        return response.json()["aliases"]

    assert at("2026-11-05T00:00:00Z") == {"production": "model:fraud-detector@6"}
    assert at("2026-11-12T00:00:00Z") == {"production": "model:fraud-detector@7"}
    assert at("2026-11-16T00:00:00Z") == {}


@pytest.mark.usefixtures("mlflow_on")
def test_a_bad_signature_is_401_and_appends_nothing(
    client: TestClient, signed_ledger: Ledger
) -> None:
    response = _deliver(client, p.mlflow_version_created(), "d-1", secret="wrong")  # noqa: S106
    assert response.status_code == 401
    assert response.json()["error"]["field"] == "X-MLflow-Signature"
    unsigned = client.post("/api/v1/mlflow/webhook", json=p.mlflow_version_created())
    assert unsigned.status_code == 401
    assert signed_ledger.head().seq == 0


def test_mlflow_webhooks_are_off_without_a_secret(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEDGER_MLFLOW_SECRET", raising=False)
    response = _deliver(client, p.mlflow_version_created(), "d-1")
    assert response.status_code == 404
    assert "LEDGER_MLFLOW_SECRET" in response.json()["error"]["message"]


# ---- Argo Rollouts ------------------------------------------------------------------------


def test_argo_notifications_are_recorded_as_rollout_events(
    client: TestClient, headers: Headers, signed_ledger: Ledger
) -> None:
    for step in (1, 3):
        response = client.post(
            "/api/v1/argo/notification",
            json=p.argo_notification(
                "rollout-step-completed", step=step, deployment="fraud-detector/staging"
            ),
            headers=headers("operator"),
        )
        assert response.status_code == 200, response.text
    stages = [e.data for e in signed_ledger.events() if e.type == "rollout.stage.changed"]
    assert [s["exposure_percent"] for s in stages] == [10, 50]  # type: ignore[index]
    no_token = client.post(
        "/api/v1/argo/notification", json=p.argo_notification("rollout-completed")
    )
    assert no_token.status_code == 401
