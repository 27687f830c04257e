"""Through a real ``rollout-ledger serve`` (uvicorn) on a free port, with httpx and websockets."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from websockets.sync.client import connect

from ledger.cli import cli
from tests.api.conftest import make_event
from tests.servers import ledger_command, serve

SUBSCRIBE = "subscription($after: Int) { events(afterSeq: $after) { seq actor } }"


@dataclass(frozen=True)
class Server:
    url: str
    db: str
    tokens: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture(scope="module")
def ledger_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    db = str(tmp_path_factory.mktemp("server") / "served.db")
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", db, "init"]).exit_code == 0
    tokens: dict[str, str] = {}
    for role in ("pipeline", "auditor", "admin"):
        result = runner.invoke(cli, ["--db", db, "token", "create", "--name", role, "--role", role])
        assert result.exit_code == 0, result.output
        tokens[role] = result.stdout.strip()
    return db, tokens


@pytest.fixture(scope="module")
def server(ledger_db: tuple[str, dict[str, str]]) -> Iterator[Server]:
    db, tokens = ledger_db
    with serve(db) as url:
        yield Server(url, db, tokens)


def test_the_server_appends_and_answers_graphql_over_http(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        head = http.get("/healthz").json()["seq"]
        acks = http.post(
            "/v1/events", json=[make_event(n) for n in range(3)], headers=server.headers("pipeline")
        ).json()["events"]
        assert [a["seq"] for a in acks] == [head + 1, head + 2, head + 3]
        body = http.post(
            "/graphql",
            json={
                "query": "query($after: String) { events(first: 100, after: $after) "
                "{ edges { node { seq actor } } } }",
                "variables": {"after": None},
            },
            headers=server.headers("auditor"),
        ).json()
        seqs = [e["node"]["seq"] for e in body["data"]["events"]["edges"]]
        assert seqs[-3:] == [a["seq"] for a in acks]
        assert http.get("/v1/checkpoint").status_code == 401
        note = http.get("/v1/checkpoint", headers=server.headers("auditor")).text
        assert note.splitlines()[1] == str(head + 3)


def test_a_subscriber_receives_events_appended_by_another_process(server: Server) -> None:
    head = httpx.get(f"{server.url}/healthz", timeout=5).json()["seq"]
    ws_url = server.url.replace("http://", "ws://") + "/graphql"
    with connect(ws_url, subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:  # type: ignore[list-item]
        ws.send(
            json.dumps(
                {
                    "type": "connection_init",
                    "payload": {"Authorization": f"Bearer {server.tokens['auditor']}"},
                }
            )
        )
        assert json.loads(ws.recv(timeout=10))["type"] == "connection_ack"
        ws.send(
            json.dumps(
                {
                    "id": "s",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIBE, "variables": {"after": head}},
                }
            )
        )
        batch = "\n".join(json.dumps(make_event(n)) for n in range(4))
        appended = subprocess.run(
            ledger_command("--db", server.db, "append", "--file", "-"),
            input=batch.encode(),
            capture_output=True,
            check=True,
        )
        assert len(appended.stdout.splitlines()) == 4
        received: list[dict[str, object]] = []
        while len(received) < 4:
            message = json.loads(ws.recv(timeout=10))
            assert message["type"] == "next", message
            received.append(message["payload"]["data"]["events"])
    assert [e["seq"] for e in received] == [head + 1, head + 2, head + 3, head + 4]
    assert all(str(e["actor"]).startswith("local:") for e in received)


def test_several_workers_append_to_one_chain_without_forks_or_gaps(
    ledger_db: tuple[str, dict[str, str]],
) -> None:
    db, tokens = ledger_db
    headers = {"Authorization": f"Bearer {tokens['pipeline']}"}
    with serve(db, "--workers", "3") as url:
        start = httpx.get(f"{url}/healthz", timeout=5).json()["seq"]

        def post(client_index: int) -> list[int]:
            seqs: list[int] = []
            with httpx.Client(base_url=url, timeout=30) as http:
                for batch in range(10):
                    events = [make_event(client_index * 1000 + batch * 10 + n) for n in range(5)]
                    response = http.post("/v1/events", json=events, headers=headers)
                    assert response.status_code == 200, response.text
                    seqs += [a["seq"] for a in response.json()["events"]]
            return seqs

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(post, range(8)))
        every = sorted(seq for seqs in results for seq in seqs)
        assert every == list(range(start + 1, start + 1 + 8 * 10 * 5))
        for seqs in results:
            assert seqs == sorted(seqs)
    verified = subprocess.run(ledger_command("--db", db, "verify"), capture_output=True)
    assert verified.returncode == 0, verified.stderr
    assert Path(db).exists()
