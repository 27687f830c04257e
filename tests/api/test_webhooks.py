"""Outgoing webhooks: signing, ordering, filtering, retries, the cursor, the admin surfaces."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from ledger.api import Settings, create_app
from ledger.api.webhooks import WorkerOptions
from ledger.catalogue import Catalogue
from ledger.chain import export_line
from ledger.cli import cli
from ledger.service import Ledger
from ledger.store import open_store
from ledger.webhooks import (
    Subscriber,
    add_subscriber,
    backoff,
    get_cursor,
    matches,
    sign,
    verify_signature,
)
from tests.api.conftest import Headers, TestClient, gql, make_event

SECRET = "s3cret"  # noqa: S105 - a test signing key
FAST = WorkerOptions(poll_interval=0.02, base_delay=0.01, max_delay=0.05, timeout=5.0)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A local HTTP receiver that records POSTs and answers 500 to the first ``fail_first``."""

    url: str
    requests: list[Received] = field(default_factory=list)
    fail_first: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def delivered(self) -> list[Received]:
        with self.lock:
            return list(self.requests[self.fail_first :])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            target = box[0]
            with target.lock:
                target.requests.append(Received(dict(self.headers.items()), body))
                failing = len(target.requests) <= target.fail_first
            self.send_response(500 if failing else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box[0]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hook_client(
    signed_ledger: Ledger, settings: Settings, catalogue: Catalogue, tokens: dict[str, str]
) -> Iterator[TestClient]:
    app = create_app(signed_ledger, settings, catalogue=catalogue)
    app.state.webhook_options = FAST
    with TestClient(app) as test_client:
        yield test_client


def _wait(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for webhook deliveries")
        time.sleep(0.02)


def _append(client: TestClient, headers: Headers, count: int, start: int = 0) -> list[int]:
    events = [make_event(n) for n in range(start, start + count)]
    response = client.post("/v1/events", json=events, headers=headers("pipeline"))
    assert response.status_code == 200, response.text
    return [ack["seq"] for ack in response.json()["events"]]


# ---- pure ------------------------------------------------------------------------------


def test_matching_is_exact_prefix_or_star() -> None:
    assert matches(["rollout.*"], "rollout.stage.changed")
    assert matches(["test.result.recorded"], "test.result.recorded")
    assert not matches(["rollout.*"], "rollback.executed")
    assert not matches(["rollout"], "rollout.stage.changed")
    assert matches(["*"], "anything.at.all")


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff(1000, base=0.01, cap=0.05) == 0.05


def test_signature_is_hmac_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"123.{}", hashlib.sha256).hexdigest()
    assert sign("k", "123", b"{}") == f"sha256={expected}"
    assert verify_signature("k", "123", b"{}", f"sha256={expected}")
    assert not verify_signature("other", "123", b"{}", f"sha256={expected}")


# ---- delivery --------------------------------------------------------------------------


def test_every_matching_event_arrives_signed_and_in_order(
    hook_client: TestClient, headers: Headers, receiver: Receiver, signed_ledger: Ledger
) -> None:
    store = signed_ledger.store
    add_subscriber(store, Subscriber("ci", receiver.url, ("test.result.*",), SECRET))
    seqs = _append(hook_client, headers, 3) + _append(hook_client, headers, 2, start=3)
    _wait(lambda: len(receiver.delivered()) == len(seqs))
    got = receiver.delivered()
    assert [int(r.headers["X-Ledger-Event-Seq"]) for r in got] == seqs
    for request, seq in zip(got, seqs, strict=True):
        timestamp = request.headers["X-Ledger-Timestamp"]
        assert verify_signature(
            SECRET, timestamp, request.body, request.headers["X-Ledger-Signature"]
        )
        event = store.get(seq)
        assert event is not None
        assert request.body == export_line(event)
        assert orjson.loads(request.body)["hash"] == event.hash
    _wait(lambda: get_cursor(store, "ci") == seqs[-1])
    assert store.get_meta("webhook_cursor:ci") == str(seqs[-1])


def test_non_matching_types_are_skipped_but_the_cursor_advances(
    hook_client: TestClient, headers: Headers, receiver: Receiver, signed_ledger: Ledger
) -> None:
    store = signed_ledger.store
    add_subscriber(store, Subscriber("rollouts", receiver.url, ("rollout.*",), SECRET))
    seqs = _append(hook_client, headers, 3)
    _wait(lambda: get_cursor(store, "rollouts") == seqs[-1])
    assert receiver.requests == []


def test_a_receiver_failing_twice_gets_the_event_on_the_third_try(
    hook_client: TestClient, headers: Headers, receiver: Receiver, signed_ledger: Ledger
) -> None:
    store = signed_ledger.store
    receiver.fail_first = 2
    add_subscriber(store, Subscriber("flaky", receiver.url, ("test.result.recorded",), SECRET))
    (seq,) = _append(hook_client, headers, 1)
    _wait(lambda: get_cursor(store, "flaky") == seq)
    assert [int(r.headers["X-Ledger-Event-Seq"]) for r in receiver.requests] == [seq] * 3
    query = (
        "query($n: String!) {"
        " webhookDeliveries(name: $n, first: 10) { seq attempt statusCode delivered } }"
    )
    data = gql(hook_client, query, headers("auditor"), n="flaky")["data"]
    assert data == {
        "webhookDeliveries": [
            {"seq": seq, "attempt": 3, "statusCode": 204, "delivered": True},
            {"seq": seq, "attempt": 2, "statusCode": 500, "delivered": False},
            {"seq": seq, "attempt": 1, "statusCode": 500, "delivered": False},
        ]
    }


def test_a_restart_redelivers_from_the_cursor(
    signed_ledger: Ledger,
    settings: Settings,
    catalogue: Catalogue,
    tokens: dict[str, str],
    headers: Headers,
    receiver: Receiver,
) -> None:
    store = signed_ledger.store
    add_subscriber(store, Subscriber("ci", receiver.url, ("test.result.*",), SECRET))
    app = create_app(signed_ledger, settings, catalogue=catalogue)
    app.state.webhook_options = FAST
    with TestClient(app) as client:
        first = _append(client, headers, 2)
        _wait(lambda: get_cursor(store, "ci") == first[-1])
    store.set_meta("webhook_cursor:ci", str(first[0]))  # as if the last 2xx was not recorded
    app = create_app(signed_ledger, settings, catalogue=catalogue)
    app.state.webhook_options = FAST
    with TestClient(app) as client:
        _wait(lambda: len(receiver.requests) == 3)
    assert [int(r.headers["X-Ledger-Event-Seq"]) for r in receiver.requests] == [
        first[0],
        first[1],
        first[1],
    ]


def test_connection_errors_are_retried_and_logged(
    hook_client: TestClient, headers: Headers, signed_ledger: Ledger
) -> None:
    store = signed_ledger.store
    add_subscriber(store, Subscriber("gone", "http://127.0.0.1:9/hook", ("*",), SECRET))
    _append(hook_client, headers, 1)
    query = '{ webhookDeliveries(name: "gone", first: 2) { attempt statusCode error delivered } }'

    def two_failures() -> bool:
        data = gql(hook_client, query, headers("admin"))["data"]
        return len(data["webhookDeliveries"]) == 2  # type: ignore[index]

    _wait(two_failures)
    data = gql(hook_client, query, headers("admin"))["data"]
    rows = data["webhookDeliveries"]  # type: ignore[index]
    assert all(r["statusCode"] is None and r["error"] and not r["delivered"] for r in rows)
    assert get_cursor(store, "gone") == 0


def test_deliveries_query_needs_auditor_or_admin(hook_client: TestClient, headers: Headers) -> None:
    body = gql(hook_client, '{ webhookDeliveries(name: "x") { seq } }', headers("pipeline"))
    assert body["errors"][0]["extensions"]["code"] == "forbidden"  # type: ignore[index]


# ---- admin routes and CLI --------------------------------------------------------------


def test_admin_routes_add_list_and_remove(hook_client: TestClient, headers: Headers) -> None:
    spec = {"name": "ci", "url": "http://127.0.0.1:1/x", "types": ["rollout.*"], "secret": "k"}
    assert (
        hook_client.post("/v1/webhooks", json=spec, headers=headers("operator")).status_code == 403
    )
    created = hook_client.post("/v1/webhooks", json=spec, headers=headers("admin"))
    assert created.status_code == 201
    assert hook_client.post("/v1/webhooks", json=spec, headers=headers("admin")).status_code == 409
    bad = hook_client.post(
        "/v1/webhooks", json={**spec, "name": "x", "url": "ftp://a"}, headers=headers("admin")
    )
    assert bad.status_code == 400
    listed = hook_client.get("/v1/webhooks", headers=headers("admin")).json()
    assert listed == {
        "webhooks": [{"name": "ci", "url": spec["url"], "types": ["rollout.*"], "cursor": 0}]
    }
    assert hook_client.delete("/v1/webhooks/ci", headers=headers("admin")).status_code == 204
    assert hook_client.delete("/v1/webhooks/ci", headers=headers("admin")).status_code == 404


def test_cli_add_list_remove(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", db, "init"]).exit_code == 0
    args = [
        "--name",
        "ci",
        "--url",
        "https://hooks.example/x",
        "--types",
        "rollout.*,model.registered",
    ]
    added = runner.invoke(cli, ["--db", db, "webhook", "add", *args, "--secret", "never-shown"])
    assert added.exit_code == 0, added.output
    again = runner.invoke(cli, ["--db", db, "webhook", "add", *args, "--secret", "never-shown"])
    assert again.exit_code == 3
    listed = runner.invoke(cli, ["--db", db, "webhook", "list"])
    assert "ci" in listed.stdout
    assert "rollout.*,model.registered" in listed.stdout
    assert "never-shown" not in listed.stdout
    store = open_store(db)
    try:
        assert store.get_meta("webhooks") is not None
    finally:
        store.close()
    assert runner.invoke(cli, ["--db", db, "webhook", "remove", "ci"]).exit_code == 0
    assert runner.invoke(cli, ["--db", db, "webhook", "remove", "ci"]).exit_code == 4
