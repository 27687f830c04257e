"""The REST routes through the ASGI app: append, checkpoint, proofs, health, metrics, errors."""

from __future__ import annotations

import json
from collections.abc import Iterator

import orjson
import pytest

from ledger.checkpoint import verify_checkpoint
from ledger.note import parse_verifier_key
from ledger.proofs import ConsistencyProof, InclusionProof
from ledger.service import Ledger
from tests.api.conftest import Headers, TestClient, make_event


def _append(
    client: TestClient, headers: Headers, events: list[dict[str, object]]
) -> list[dict[str, object]]:
    response = client.post("/v1/events", json=events, headers=headers("pipeline"))
    assert response.status_code == 200, response.text
    acks = response.json()["events"]
    assert isinstance(acks, list)
    return acks


def test_a_json_array_is_appended_in_order_and_acknowledged_per_event(
    client: TestClient, headers: Headers, signed_ledger: Ledger
) -> None:
    acks = _append(client, headers, [make_event(n) for n in range(3)])
    assert [a["seq"] for a in acks] == [1, 2, 3]
    assert [a["created"] for a in acks] == [True, True, True]
    stored = list(signed_ledger.events())
    assert [e.hash for e in stored] == [a["hash"] for a in acks]
    assert [e.id for e in stored] == [a["id"] for a in acks]
    assert {e.actor for e in stored} == {"pipeline"}


def test_ndjson_is_accepted_by_content_type(client: TestClient, headers: Headers) -> None:
    body = b"\n".join(orjson.dumps(make_event(n)) for n in range(4)) + b"\n\n"
    response = client.post(
        "/v1/events",
        content=body,
        headers={**headers("pipeline"), "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 200
    assert [a["seq"] for a in response.json()["events"]] == [1, 2, 3, 4]


def test_a_retry_with_the_same_id_returns_the_original_event(
    client: TestClient, headers: Headers, signed_ledger: Ledger
) -> None:
    event = make_event(1, id="7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f")
    first = _append(client, headers, [event])
    again = _append(client, headers, [event])
    assert again == [{**first[0], "created": False}]
    assert signed_ledger.head().seq == 1


def test_the_same_id_with_other_content_is_a_conflict_and_appends_nothing(
    client: TestClient, headers: Headers, signed_ledger: Ledger
) -> None:
    uid = "7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f"
    _append(client, headers, [make_event(1, id=uid)])
    response = client.post(
        "/v1/events", json=[make_event(2), make_event(3, id=uid)], headers=headers("pipeline")
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert response.json()["error"]["field"] == "events[1].id"
    assert signed_ledger.head().seq == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code", "field"),
    [
        (b"{not json", "application/json", 400, "bad_request", "body"),
        (b'{"type": "x"}', "application/json", 400, "bad_request", "body"),
        (b"[]", "application/json", 400, "bad_request", "events"),
        (b'{"type": 1}\n{oops', "application/x-ndjson", 400, "bad_request", "events[1]"),
        (
            orjson.dumps([make_event(0), make_event(1, type="Bad")]),
            "application/json",
            422,
            "invalid_event",
            "events[1].type",
        ),
        (
            orjson.dumps([make_event(0, subject="fraud-detector")]),
            "application/json",
            422,
            "invalid_event",
            "events[0].subject",
        ),
        (
            orjson.dumps([make_event(0, occurred_at="yesterday")]),
            "application/json",
            422,
            "invalid_event",
            "events[0].occurred_at",
        ),
        (
            orjson.dumps([make_event(0, id="not-a-uuid")]),
            "application/json",
            422,
            "invalid_event",
            "events[0].id",
        ),
        (
            orjson.dumps([make_event(0, actor="root")]),
            "application/json",
            422,
            "invalid_event",
            "events[0].actor",
        ),
        (
            orjson.dumps([{"type": "test.result.recorded", "subject": "model:x@1"}]),
            "application/json",
            422,
            "invalid_event",
            "events[0].data",
        ),
        (
            orjson.dumps(
                [make_event(0, data={"suite": "s", "kind": "vibes", "passed": True, "metrics": {}})]
            ),
            "application/json",
            422,
            "schema_violation",
            "events[0].data.kind",
        ),
        (
            orjson.dumps([make_event(0), make_event(1, subject="model:fraud-detector")]),
            "application/json",
            422,
            "invalid_event",
            "events[1].subject",
        ),
        (
            orjson.dumps([make_event(0, type="model.card.published")]),
            "application/json",
            422,
            "invalid_event",
            "events[0].type",
        ),
        (
            orjson.dumps([make_event(0, type="no.such.type")]),
            "application/json",
            403,
            "forbidden",
            "events[0].type",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_appends_nothing(
    client: TestClient,
    headers: Headers,
    signed_ledger: Ledger,
    body: bytes,
    content_type: str,
    status: int,
    code: str,
    field: str,
) -> None:
    response = client.post(
        "/v1/events", content=body, headers={**headers("pipeline"), "Content-Type": content_type}
    )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"].startswith(field.split(".")[0])
    assert signed_ledger.head().seq == 0


def test_a_body_over_the_limit_gets_413_and_appends_nothing(
    client: TestClient, headers: Headers, signed_ledger: Ledger
) -> None:
    body = b"[" + b" " * (10 * 1024 * 1024) + b"]"
    response = client.post(
        "/v1/events",
        content=body,
        headers={**headers("pipeline"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert signed_ledger.head().seq == 0


def test_a_chunked_body_over_the_limit_gets_413(client: TestClient, headers: Headers) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(11):
            yield b" " * (1024 * 1024)

    response = client.post(
        "/v1/events",
        content=chunks(),
        headers={**headers("pipeline"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_the_checkpoint_is_a_signed_note_of_the_head_reused_until_the_head_moves(
    client: TestClient, headers: Headers, signed_ledger: Ledger
) -> None:
    _append(client, headers, [make_event(n) for n in range(5)])
    response = client.get("/v1/checkpoint", headers=headers("auditor"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert signed_ledger.signer is not None
    verifier = parse_verifier_key(signed_ledger.signer.verifier_key())
    checkpoint = verify_checkpoint(response.text, verifier)
    assert (checkpoint.size, checkpoint.root_hash) == (5, signed_ledger.root(5))
    assert client.get("/v1/checkpoint", headers=headers("auditor")).text == response.text
    assert len(signed_ledger.store.checkpoints()) == 1
    _append(client, headers, [make_event(9)])
    newer = client.get("/v1/checkpoint", headers=headers("auditor")).text
    assert verify_checkpoint(newer, verifier).size == 6


def test_proofs_are_json_that_verifies(client: TestClient, headers: Headers) -> None:
    _append(client, headers, [make_event(n) for n in range(7)])
    auditor = headers("auditor")
    inclusion = client.get("/v1/proof/inclusion?seq=3&tree_size=6", headers=auditor)
    assert inclusion.status_code == 200
    InclusionProof.from_json(inclusion.json()).verify()
    assert inclusion.json()["tree_size"] == 6
    consistency = client.get("/v1/proof/consistency?first=2&second=7", headers=auditor)
    ConsistencyProof.from_json(consistency.json()).verify()
    to_head = client.get("/v1/proof/consistency?first=3", headers=auditor).json()
    assert to_head["second"] == 7


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/v1/proof/inclusion", 400, "seq"),
        ("/v1/proof/inclusion?seq=abc", 400, "seq"),
        ("/v1/proof/inclusion?seq=1&tree_size=-1", 400, "tree_size"),
        ("/v1/proof/inclusion?seq=9", 404, "seq"),
        ("/v1/proof/inclusion?seq=1&tree_size=99", 404, "tree_size"),
        ("/v1/proof/consistency?second=2", 400, "first"),
        ("/v1/proof/consistency?first=3&second=2", 404, "first"),
    ],
)
def test_bad_proof_parameters_name_the_parameter(
    client: TestClient, headers: Headers, path: str, status: int, field: str
) -> None:
    _append(client, headers, [make_event(n) for n in range(2)])
    response = client.get(path, headers=headers("auditor"))
    assert response.status_code == status
    assert response.json()["error"]["field"] == field


def test_healthz_reports_the_head_without_a_token(client: TestClient, headers: Headers) -> None:
    _append(client, headers, [make_event(0)])
    assert client.get("/healthz").json() == {"status": "ok", "seq": 1}


def test_metrics_count_appends_rejects_latency_size_and_checkpoint_age(
    client: TestClient, headers: Headers
) -> None:
    _append(client, headers, [make_event(n) for n in range(3)])
    client.post(
        "/v1/events", json=[make_event(0, type="approval.granted")], headers=headers("pipeline")
    )
    client.get("/v1/checkpoint", headers=headers("auditor"))
    text = client.get("/metrics", headers=headers("auditor")).text
    assert 'ledger_appends_total{type="test.result.recorded"} 3.0' in text
    assert 'ledger_rejects_total{code="forbidden"} 1.0' in text
    assert (
        'ledger_request_duration_seconds_count{method="POST",route="/v1/events",status="200"} 1.0'
        in text
    )
    assert "ledger_size 3.0" in text
    assert "ledger_last_checkpoint_age_seconds" in text


def test_unknown_routes_and_methods_answer_in_the_json_error_shape(client: TestClient) -> None:
    missing = client.get("/v2/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = client.get("/v1/events")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "bad_request"


def test_unexpected_errors_are_masked_and_logged(
    signed_ledger: Ledger,
    headers: Headers,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ledger.api import create_app

    def explode(*_: object) -> None:
        raise RuntimeError("secret detail /etc/passwd")

    monkeypatch.setattr(signed_ledger, "inclusion_proof", explode)
    with TestClient(create_app(signed_ledger), raise_server_exceptions=False) as client:
        response = client.get("/v1/proof/inclusion?seq=1", headers=headers("auditor"))
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "secret" not in response.text
    assert "secret detail" in caplog.text
    assert json.loads(response.text)["error"]["field"] is None


@pytest.mark.parametrize("ndjson", [False, True], ids=["array", "ndjson"])
def test_a_small_but_deeply_nested_body_is_a_400_not_a_server_error(
    client: TestClient, headers: Headers, ndjson: bool
) -> None:
    """Under 8 KiB, parsed on the event loop: nesting past the parser's recursion
    limit is bad input like any other, and the server keeps serving."""
    nested = b"[" * 3000 + b"]" * 3000
    body, media = (b"[" + nested + b"]", "application/json")
    if ndjson:
        body, media = (nested + b"\n", "application/x-ndjson")
    response = client.post(
        "/v1/events", content=body, headers={**headers("pipeline"), "Content-Type": media}
    )
    assert response.status_code == 400, response.text
    assert "not valid JSON" in response.json()["error"]["message"]
    assert client.get("/healthz").status_code == 200
