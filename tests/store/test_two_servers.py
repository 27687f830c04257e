"""Two ``rollout-ledger serve`` processes over one PostgreSQL database.

Clients append through both servers at once; the result must be one gapless
chain that verifies, and a GraphQL subscriber on server A must receive, live
and in order, the events appended through server B. Server A's poll interval
is set far beyond the test's deadline, so B's events can only reach it
through the store's ``wait_for_append`` (LISTEN/NOTIFY, see ledger.api.feed).

Everything is bounded: every wait has a deadline, the servers are killed at
the end, and the ``pg_url`` fixture drops the schema.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner
from websockets.sync.client import connect

from ledger.cli import cli
from tests.servers import serve

CLIENTS = 6
BATCHES = 8
PER_BATCH = 5
TOTAL = CLIENTS * BATCHES * PER_BATCH
B_ONLY = 3
DEADLINE_S = 60.0
SUBSCRIBE = "subscription { events(afterSeq: 0) { seq actor type } }"


@dataclass(frozen=True)
class Server:
    name: str
    url: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _event(n: int) -> dict[str, object]:
    return {
        "type": "test.result.recorded",
        "subject": f"model:x@1.{n % 3}",
        "data": {"suite": "s", "kind": "unit", "passed": True, "metrics": {"n": n}},
    }


class _Subscriber:
    """Collects a subscription's events in a thread until it has ``want`` or the deadline."""

    def __init__(self, url: str, token: str, want: int) -> None:
        self.received: list[dict[str, Any]] = []
        self.arrived: list[float] = []
        self.error: BaseException | None = None
        self._ws_url = url.replace("http://", "ws://") + "/graphql"
        self._token = token
        self._want = want
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="subscriber", daemon=True)

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(15), "the subscription was not acknowledged"

    def join(self) -> None:
        self._thread.join(DEADLINE_S + 5)
        assert not self._thread.is_alive(), "the subscriber did not stop"
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            protocols = ["graphql-transport-ws"]
            with connect(self._ws_url, subprotocols=protocols, open_timeout=10) as ws:  # type: ignore[arg-type]
                auth = {"Authorization": f"Bearer {self._token}"}
                ws.send(json.dumps({"type": "connection_init", "payload": auth}))
                assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
                payload = {"query": SUBSCRIBE}
                ws.send(json.dumps({"id": "s", "type": "subscribe", "payload": payload}))
                self._ready.set()
                deadline = time.monotonic() + DEADLINE_S
                while len(self.received) < self._want:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise AssertionError(
                            f"subscriber got {len(self.received)} of {self._want} events in time"
                        )
                    message = json.loads(ws.recv(timeout=left))
                    assert message["type"] == "next", message
                    assert "errors" not in message["payload"], message
                    self.received.append(message["payload"]["data"]["events"])
                    self.arrived.append(time.monotonic())
        except BaseException as exc:
            self.error = exc
            self._ready.set()


def _token(db: str, key_dir: Path, name: str) -> str:
    args = ["--db", db, "--key-dir", str(key_dir), "token", "create", "--name", name]
    result = CliRunner().invoke(cli, [*args, "--role", "admin"])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_two_servers_share_one_gapless_chain_and_live_updates(pg_url: str, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    init = CliRunner().invoke(cli, ["--db", pg_url, "--key-dir", str(keys), "init"])
    assert init.exit_code == 0, init.output

    with ExitStack() as stack:
        # A's head polling is off in effect: only wait_for_append can tell it of B's appends.
        slow_poll = {"LEDGER_POLL_INTERVAL": "600"}
        a = serve(pg_url, key_dir=keys, log=tmp_path / "a.log", env=slow_poll, stop_timeout=10)
        b = serve(pg_url, key_dir=keys, log=tmp_path / "b.log", stop_timeout=10)
        url_a = stack.enter_context(a)
        url_b = stack.enter_context(b)
        servers = [
            Server("a", url_a, _token(pg_url, keys, "via-a")),
            Server("b", url_b, _token(pg_url, keys, "via-b")),
        ]
        subscriber = _Subscriber(url_a, servers[0].token, TOTAL + B_ONLY)
        subscriber.start()

        def post(client: int) -> list[tuple[int, str, float]]:
            acked: list[tuple[int, str, float]] = []
            clients = {s.name: httpx.Client(base_url=s.url, timeout=30) for s in servers}
            try:
                for batch in range(BATCHES):
                    server = servers[(client + batch) % 2]  # every client uses both
                    base = (client * BATCHES + batch) * PER_BATCH
                    response = clients[server.name].post(
                        "/v1/events",
                        json=[_event(base + n) for n in range(PER_BATCH)],
                        headers=server.headers,
                    )
                    assert response.status_code == 200, response.text
                    now = time.monotonic()
                    acked += [(a["seq"], server.name, now) for a in response.json()["events"]]
            finally:
                for http in clients.values():
                    http.close()
            return acked

        with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
            results = list(pool.map(post, range(CLIENTS)))
        # Then appends through B alone: nothing happens on A that could wake it.
        with httpx.Client(base_url=url_b, timeout=30) as http:
            for n in range(B_ONLY):
                response = http.post("/v1/events", json=[_event(-n)], headers=servers[1].headers)
                assert response.status_code == 200, response.text
                assert response.json()["events"][0]["seq"] == TOTAL + 1 + n
        subscriber.join()

        acks = sorted(ack for acked in results for ack in acked)
        assert [seq for seq, _, _ in acks] == list(range(1, TOTAL + 1)), "gaps or forks"
        for acked in results:  # each client's own appends are in its order
            assert [seq for seq, _, _ in acked] == sorted(seq for seq, _, _ in acked)
        via = {seq: server for seq, server, _ in acks}
        assert set(via.values()) == {"a", "b"}

        via.update({TOTAL + 1 + n: "b" for n in range(B_ONLY)})
        got = subscriber.received
        assert [e["seq"] for e in got] == list(range(1, TOTAL + B_ONLY + 1))
        assert [e["actor"] for e in got] == [f"via-{via[e['seq']]}" for e in got]

        for server in servers:
            health = httpx.get(f"{server.url}/healthz", timeout=5).json()
            assert health["seq"] == TOTAL + B_ONLY

    verified = CliRunner().invoke(cli, ["--db", pg_url, "--key-dir", str(keys), "verify"])
    assert verified.exit_code == 0, verified.output
    assert f"ok: {TOTAL + B_ONLY} events verified" in verified.stdout
