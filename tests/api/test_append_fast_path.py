"""The single-event append path: same answers, headers, metrics and auth as ever."""

from __future__ import annotations

import orjson

from ledger.store import EventStore
from tests.api.conftest import Headers, TestClient, make_event


def test_the_acknowledgement_is_compact_json_with_its_length(
    client: TestClient, headers: Headers
) -> None:
    response = client.post("/v1/events", json=[make_event(1)], headers=headers("pipeline"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    acks = response.json()["events"]
    assert response.content == orjson.dumps({"events": acks})
    assert [sorted(a) for a in acks] == [["created", "hash", "id", "seq"]]
    assert acks[0]["seq"] == 1
    assert acks[0]["created"] is True


def test_a_retry_is_acknowledged_alike_and_counted_once(
    client: TestClient, headers: Headers
) -> None:
    event = make_event(2, id="6f1f2c8e-8f7d-4b8e-9a53-0d8b1f7c7a11")
    first = client.post("/v1/events", json=[event], headers=headers("pipeline")).json()
    again = client.post("/v1/events", json=[event], headers=headers("pipeline")).json()
    assert again["events"][0] == {**first["events"][0], "created": False}
    metrics = client.get("/metrics", headers=headers("auditor")).text
    assert 'ledger_appends_total{type="test.result.recorded"} 1.0' in metrics


def test_refusals_are_counted_by_code_each_time(client: TestClient, headers: Headers) -> None:
    for _ in range(3):
        bad = client.post("/v1/events", json=[{"type": "x"}], headers=headers("pipeline"))
        assert bad.status_code == 422
        assert bad.json()["error"]["field"].startswith("events[0]")
    client.post("/v1/events", json=[make_event()])  # no token
    metrics = client.get("/metrics", headers=headers("auditor")).text
    assert 'ledger_rejects_total{code="invalid_event"} 3.0' in metrics
    assert 'ledger_rejects_total{code="unauthorized"} 1.0' in metrics


def test_a_token_revoked_between_two_appends_fails_the_second(
    client: TestClient, headers: Headers, store: EventStore
) -> None:
    ok = client.post("/v1/events", json=[make_event(3)], headers=headers("pipeline"))
    assert ok.status_code == 200
    assert store.revoke_token("pipeline", "2026-11-02T00:00:00Z")
    refused = client.post("/v1/events", json=[make_event(4)], headers=headers("pipeline"))
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]["message"]


def test_a_body_with_a_declared_length_under_the_limit_and_a_charset_is_read_whole(
    client: TestClient, headers: Headers
) -> None:
    body = orjson.dumps([make_event(n) for n in range(3)])
    response = client.post(
        "/v1/events",
        content=body,
        headers={
            **headers("pipeline"),
            "Content-Type": "application/json; charset=utf-8",
            "Content-Length": str(len(body)),
        },
    )
    assert response.status_code == 200
    assert [a["seq"] for a in response.json()["events"]] == [1, 2, 3]
