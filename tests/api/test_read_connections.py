"""Reads on per-thread connections: they never wait for the writer, and see every commit."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from ledger.errors import StoreError
from ledger.store import EventStore
from ledger.store.sqlite import SQLiteStore
from tests.api.conftest import Headers, TestClient, gql, make_event


def test_a_token_revoked_by_another_process_stops_working_at_once(
    client: TestClient, headers: Headers, store_url: str
) -> None:
    assert client.get("/v1/checkpoint", headers=headers("auditor")).status_code == 200
    other = SQLiteStore(store_url)  # as `rollout-ledger token revoke` does: its own connection
    try:
        assert other.revoke_token("auditor", "2026-11-02T00:00:00Z")
    finally:
        other.close()
    response = client.get("/v1/checkpoint", headers=headers("auditor"))
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
    body = client.post(
        "/graphql", json={"query": "{ __typename }"}, headers=headers("auditor")
    ).json()
    assert body["error"]["code"] == "unauthorized"


def test_reads_and_token_lookups_do_not_wait_for_a_commit(
    client: TestClient, headers: Headers, store_url: str
) -> None:
    # Another writer holds SQLite's write lock (as the group-commit thread does during fsync).
    writer = sqlite3.connect(store_url, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = time.perf_counter()
        assert client.get("/healthz").json()["status"] == "ok"
        body = gql(client, "{ events(first: 5) { edges { node { seq } } } }", headers("auditor"))
        assert "errors" not in body
        assert time.perf_counter() - started < 5  # the busy timeout is 120 s
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_an_acknowledged_append_is_visible_to_the_next_read(
    client: TestClient, headers: Headers
) -> None:
    for n in range(5):
        ack = client.post("/v1/events", json=[make_event(n)], headers=headers("pipeline")).json()
        seq = ack["events"][0]["seq"]
        body = gql(client, "query($s: Int!) { event(seq: $s) { seq } }", headers("auditor"), s=seq)
        assert body["data"]["event"] == {"seq": seq}
        assert client.get("/healthz").json()["seq"] == seq


def test_a_thread_reader_cannot_write_and_each_thread_has_its_own(store: EventStore) -> None:
    if not isinstance(store, SQLiteStore) or store.path == ":memory:":
        pytest.skip("per-thread readers are SQLite files' only")
    reader = store.reader()
    assert reader is store.reader()
    with pytest.raises(StoreError):
        reader.set_meta("x", "y")
    others: list[object] = []
    thread = threading.Thread(target=lambda: others.append(store.reader()))
    thread.start()
    thread.join()
    assert others[0] is not reader
    assert store.get_meta("x") is None


def test_a_memory_store_is_its_own_reader(tmp_path: Path) -> None:
    memory = SQLiteStore(":memory:")
    try:
        assert memory.reader() is memory
    finally:
        memory.close()
