"""Subscriptions over graphql-transport-ws through the ASGI app."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from ledger.events import draft_from_json
from ledger.service import Ledger
from ledger.store import open_store
from tests.api.conftest import Headers, TestClient, make_event

SUBSCRIBE = """subscription($types: [String!], $subjects: [String!], $afterSeq: Int) {
  events(types: $types, subjects: $subjects, afterSeq: $afterSeq) { seq type subject actor }
}"""


@contextmanager
def _socket(
    client: TestClient, token: str | None, **variables: object
) -> Iterator[WebSocketTestSession]:
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        ws.send_json({"type": "connection_init", "payload": payload})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE, "variables": variables},
            }
        )
        yield ws


def _next_seqs(ws: WebSocketTestSession, count: int) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    while len(received) < count:
        message = ws.receive_json()
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        received.append(message["payload"]["data"]["events"])
    return received


def _append(client: TestClient, headers: Headers, events: list[dict[str, object]]) -> None:
    assert client.post("/v1/events", json=events, headers=headers("admin")).status_code == 200


def test_a_subscriber_gets_each_new_event_once_in_order(
    client: TestClient, headers: Headers, tokens: dict[str, str]
) -> None:
    _append(client, headers, [make_event(0)])
    with _socket(client, tokens["auditor"]) as ws:
        _append(client, headers, [make_event(n) for n in range(1, 4)])
        _append(client, headers, [make_event(4)])
        events = _next_seqs(ws, 4)
    assert [e["seq"] for e in events] == [2, 3, 4, 5]
    assert {e["actor"] for e in events} == {"admin"}


def test_a_subscriber_resumes_after_a_seq_without_gaps(
    client: TestClient, headers: Headers, tokens: dict[str, str]
) -> None:
    _append(client, headers, [make_event(n) for n in range(5)])
    with _socket(client, tokens["auditor"], afterSeq=2) as ws:
        replayed = _next_seqs(ws, 3)
        _append(client, headers, [make_event(9)])
        live = _next_seqs(ws, 1)
    assert [e["seq"] for e in replayed + live] == [3, 4, 5, 6]


def test_a_subscriber_gets_only_the_types_and_subjects_it_asked_for(
    client: TestClient, headers: Headers, tokens: dict[str, str]
) -> None:
    subject = "model:fraud-detector@1.3.0"
    with _socket(client, tokens["auditor"], types=["test.*"], subjects=[subject], afterSeq=0) as ws:
        _append(client, headers, [make_event(n) for n in range(10)])
        events = _next_seqs(ws, 2)
    assert [e["seq"] for e in events] == [4, 9]
    assert {e["subject"] for e in events} == {subject}


def test_events_appended_by_another_writer_reach_subscribers(
    client: TestClient, tokens: dict[str, str], db_path: Path
) -> None:
    other = open_store(db_path)
    try:
        # afterSeq pins the start: without it the subscription starts at whatever
        # the head is when the server gets to it, which may be after this append.
        with _socket(client, tokens["auditor"], afterSeq=0) as ws:
            Ledger(other).append([draft_from_json(make_event(n)) for n in range(3)], "local:cron")
            events = _next_seqs(ws, 3)
    finally:
        other.close()
    assert [(e["seq"], e["actor"]) for e in events] == [
        (1, "local:cron"),
        (2, "local:cron"),
        (3, "local:cron"),
    ]


def test_a_subscription_without_a_token_is_unauthorized(client: TestClient) -> None:
    with _socket(client, None) as ws:
        message = ws.receive_json()
    assert message["type"] in {"next", "error"}
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert [e["extensions"]["code"] for e in errors] == ["unauthorized"]


def test_a_bad_token_in_connection_init_closes_the_socket(client: TestClient) -> None:
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"Authorization": "Bearer rl_nope"}})
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4403


def test_the_handshake_header_also_authenticates(client: TestClient, headers: Headers) -> None:
    with client.websocket_connect(
        "/graphql", subprotocols=["graphql-transport-ws"], headers=headers("auditor")
    ) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE, "variables": {"afterSeq": 0}},
            }
        )
        _append(client, headers, [make_event(0)])
        assert [e["seq"] for e in _next_seqs(ws, 1)] == [1]
