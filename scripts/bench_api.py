"""Benchmark the HTTP + GraphQL server against plain starlette and the store (issue 5, "Speed").

Usage::

    python scripts/bench_api.py                      # full run: 10 s per measurement
    python scripts/bench_api.py --quick              # 4 s per measurement, 20k-node lineage
    python scripts/bench_api.py --profile            # also py-spy the server on each path
    python scripts/bench_api.py --workers 2 --connections 64 --out-json r.json

One run, on 127.0.0.1 only, with Debian's ``wrk`` as the load generator
(bounded: ``--duration`` seconds per measurement after ``--warmup`` seconds
of warm-up; a Lua script sends the POST bodies and prints the latency
percentiles). Servers are started by this script and stopped at the end:

1. baseline: a plain starlette app (``baseline_app`` below) in its own uvicorn
   process with the same options as the ledger's (workers, httptools, uvloop),
   whose POST routes read and parse the JSON body and answer with
   ``JSONResponse`` of (a) ``{"data":{"__typename":"Query"}}`` and (b) the exact
   JSON of the 100-event page that the ledger server returned for query 3;
2. ``{ __typename }`` through ``POST /graphql`` -> overhead vs 1a (target <= 4x);
3. ``events(first: 100) { edges { node { seq hash type subject actor } } }`` on
   a ledger of >= 1,000 events -> overhead vs 1b (target <= 8x);
   1a, 2, 1b, 3 run interleaved for ``--rounds`` rounds (the median round by
   req/s is reported) so that drift in the machine's load hits both sides;
   2 and 3 once more with a bearer token (one token lookup per request; the
   headline rows are anonymous reads, the server runs with ``--anonymous-reads``);
4. ``POST /v1/events`` with 1,000-event JSON batches (events/s, counted from the
   head seq before and after) vs ``Ledger.append`` of the same 1,000-event
   batches in-process on a fresh ledger with the same catalogue, for the same
   duration, before any server runs (target >= 70%);
5. single-event ``POST /v1/events`` from ``--connections`` concurrent
   connections (target >= 10,000 events/s with group commit), with p99, next
   to two ceilings measured in the same run: the store's own in-process rate
   for groups of ``--connections`` one-event requests (``Ledger.validate`` +
   ``append_group``), and connections / the disk's durable-commit latency;
   and, interleaved with it for ``--rounds`` rounds, the same requests to a
   bare starlette route of the baseline app (read, orjson-parse, answer 201):
   what this machine's HTTP stack and load generator allow for this shape;
6. ``lineage(ref, depth: 3, asOf: {time})`` on the synthetic layered graph of
   tests/projections/lineage_data.py (100,000 nodes, 300,000 edges by default),
   appended as ``lineage.edge.recorded`` events, queried as of a time two
   thirds into the load, from random model versions (p99 target < 20 ms), at 1
   connection (a user's latency) and at 8 (under load); skipped with a note when
   the schema has no ``lineage`` field.

Every measure also reports the server's CPU time per request (user + system
of the uvicorn process tree, from /proc), which depends far less on what else
the machine runs than req/s does. Ledgers are made with the CLI (``init``,
``demo``, ``token create``), servers with ``rollout-ledger serve
--checkpoint-interval 0``. Every GraphQL body is sent once before its
measurement and must answer without ``errors``; wrk's non-2xx and socket
errors are reported. wrk 4 corrects its latency histogram for coordinated
omission (``stats_correct``: a response slower than the mean interval
between requests on a connection adds the samples that requests sent at that
rate would have seen), so one long stall, e.g. a full garbage collection,
shows in p99 as it would for clients arriving at a steady rate.

With ``--profile`` each server path is run once more, unmeasured, under
``py-spy record --gil`` (raw collapsed stacks in the work directory), and the
samples are summed per area (HTTP I/O, graphql-core execution, resolvers, JSON,
thread-pool hops, ...) with the hottest functions.

Nothing here is a test: the numbers go to docs/benchmarks-api.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(ROOT))

__all__ = ["baseline_app", "main"]

BIN = Path(sys.executable).parent
CLI = str(BIN / "rollout-ledger") if (BIN / "rollout-ledger").exists() else "rollout-ledger"
BATCH = 1_000
FILL_EVENTS = 1_000
SUBJECT = "model:bench@1.0.0"
CHEAP_EVENT: dict[str, Any] = {
    "type": "test.result.recorded",
    "subject": SUBJECT,
    "data": {"suite": "s", "kind": "unit", "passed": True, "metrics": {"auc": 0.9}},
}
BARE_ACK: dict[str, Any] = {
    "events": [
        {
            "seq": 1234,
            "hash": "ab" * 32,
            "id": "0190f3c2-6c1e-7b3a-9d5e-2f4a1b7c8d90",
            "created": "2026-11-26T03:40:00.123456Z",
        }
    ]
}
"""The bare route's answer to a single-event append: the ledger's acknowledgement, in size."""
TRIVIAL_QUERY = "{ __typename }"
PAGE_QUERY = "{ events(first: 100) { edges { node { seq hash type subject actor } } } }"
LINEAGE_QUERY = (
    "query L($ref: String!, $t: DateTime!) { lineage(ref: $ref, direction: %s, depth: 3, "
    "asOf: {time: $t}) { nodes { ref kind } edges { source target relation seq time } } }"
)
# The generator's relations that lineage.edge.recorded does not accept, and what
# carries the same upstream/downstream meaning (ledger.projections.edges).
# version_of is left out: the projection implies it from every versioned ref.
RELATION_MAP = {"serves": "deployed_as", "affects": "consumed_by"}
TARGETS = {
    "graphql_trivial_overhead": 4.0,
    "graphql_page_overhead": 8.0,
    "batch_vs_store": 0.70,
    "single_events_per_s": 10_000.0,
    "lineage_p99_ms": 20.0,
}

WRK_LUA = r"""
-- POST bodies for bench_api.py: one JSON body per line of $BENCH_BODIES (a random
-- line per request when there are several), optional bearer token $BENCH_TOKEN.
local bodies = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do
  if #line > 0 then bodies[#bodies + 1] = line end
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local token = os.getenv("BENCH_TOKEN")
if token and #token > 0 then wrk.headers["Authorization"] = "Bearer " .. token end
wrk.body = bodies[1]
if #bodies > 1 then
  math.randomseed(os.time())
  request = function()
    return wrk.format(nil, nil, nil, bodies[math.random(#bodies)])
  end
end
done = function(summary, latency, requests)
  io.write(string.format(
    "BENCH_JSON {\"requests\":%d,\"duration_us\":%d,\"p50_us\":%d,\"p90_us\":%d," ..
    "\"p99_us\":%d,\"max_us\":%d,\"non2xx\":%d,\"connect\":%d,\"read\":%d," ..
    "\"write\":%d,\"timeout\":%d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout))
end
"""


# --------------------------------------------------------------------------- baseline app


def baseline_app() -> Any:
    """The plain starlette app (a uvicorn factory): POST routes answering fixed JSON.

    ``BENCH_API_BASELINE`` names a JSON file ``{"/path": document, ...}``. Each
    route reads and parses the request body (as any JSON endpoint does) and
    answers ``JSONResponse(document)``, serialized per request. ``POST /v1/events``
    orjson-parses the body and answers 201 with an acknowledgement the size of
    the ledger's (``BARE_ACK``): the ceiling of measure 5 on this machine.
    """
    import orjson
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    documents = json.loads(Path(os.environ["BENCH_API_BASELINE"]).read_text(encoding="utf-8"))

    def route(document: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            await request.json()
            return JSONResponse(document)

        return endpoint

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def bare_append(request: Request) -> Response:
        # Measure 5's ceiling: what any JSON POST costs here, without the ledger.
        orjson.loads(await request.body())
        return Response(orjson.dumps(BARE_ACK), status_code=201, media_type="application/json")

    routes = [Route(path, route(doc), methods=["POST"]) for path, doc in documents.items()]
    return Starlette(
        routes=[
            *routes,
            Route("/v1/events", bare_append, methods=["POST"]),
            Route("/healthz", healthz),
        ]
    )


# --------------------------------------------------------------------------- helpers


def log(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(db: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [CLI, "--db", str(db), *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if done.returncode != 0:
        raise SystemExit(f"rollout-ledger {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def make_ledger(db: Path, env: dict[str, str] | None = None) -> str:
    """``init``, ``demo`` and an admin token; returns the token."""
    run_cli(db, "init", env=env)
    run_cli(db, "demo", env=env)
    out = run_cli(db, "token", "create", "--name", "bench", "--role", "admin", env=env)
    tokens = [word for word in out.split() if word.startswith("rl_")]
    if not tokens:
        raise SystemExit(f"no token in the output of token create: {out!r}")
    return tokens[0]


def http(
    url: str, body: bytes | None = None, token: str | None = None, timeout: float = 120.0
) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"only the local servers of this script: {url}")
    method = "POST" if body else "GET"
    req = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def gql_body(query: str, variables: dict[str, Any] | None = None) -> str:
    doc: dict[str, Any] = {"query": query}
    if variables:
        doc["variables"] = variables
    return json.dumps(doc, separators=(",", ":"))


def gql_ok(base: str, body: str, token: str | None = None) -> bytes:
    status, raw = http(f"{base}/graphql", body.encode(), token)
    parsed = json.loads(raw)
    if status != 200 or "errors" in parsed:
        raise SystemExit(f"GraphQL request failed ({status}): {raw[:500]!r}\nbody: {body[:300]}")
    return raw


def head_seq(base: str) -> int:
    status, raw = http(f"{base}/healthz")
    if status != 200:
        raise SystemExit(f"/healthz answered {status}: {raw[:200]!r}")
    return int(json.loads(raw).get("seq", 0))


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def server(
    name: str, argv: list[str], port: int, workdir: Path, env: dict[str, str]
) -> Iterator[Server]:
    """Start ``argv`` in its own process group, wait for /healthz, stop it on exit."""
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            start_new_session=True,
        )
    srv = Server(name, proc, port, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited:\n{log_path.read_text(errors='replace')[-2000:]}")
            try:
                if http(f"{srv.base}/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{name} did not start in 60 s")
            time.sleep(0.2)
        yield srv
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # our own process group (uvicorn and its workers)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def ledger_server(
    db: Path, port: int, workdir: Path, workers: int, env: dict[str, str] | None = None
) -> Any:
    argv = [
        CLI,
        "--db",
        str(db),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--anonymous-reads",
        "--checkpoint-interval",
        "0",
        "--log-level",
        "warning",
    ]
    return server(f"ledger-{db.stem}", argv, port, workdir, env or {})


def baseline_server(documents: Path, port: int, workdir: Path, workers: int) -> Any:
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench_api:baseline_app",
        "--factory",
        "--app-dir",
        str(Path(__file__).resolve().parent),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--lifespan",
        "on",
    ]
    return server("baseline", argv, port, workdir, {"BENCH_API_BASELINE": str(documents)})


# --------------------------------------------------------------------------- wrk


def _proc_stats() -> dict[int, tuple[int, float]]:
    """pid -> (ppid, utime + stime in seconds) of every process (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        out[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    return out


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) used so far by ``root`` and its live descendants."""
    stats = _proc_stats()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
        todo.extend(children.get(pid, []))
    return total


@dataclass
class WrkResult:
    name: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]
    connections: int
    server_cpu_ms: float  # server CPU (user + system, all its processes) per request
    load: str  # 1-minute load average before and after
    events_per_s: float | None = None
    rounds: list[float] = field(default_factory=list)  # req/s of every round
    note: str = ""


@dataclass
class Bench:
    args: argparse.Namespace
    workdir: Path
    lua: Path
    results: dict[str, WrkResult] = field(default_factory=dict)
    runs: dict[str, list[WrkResult]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    profiles: dict[str, list[str]] = field(default_factory=dict)

    def bodies_file(self, name: str, bodies: Sequence[str]) -> Path:
        path = self.workdir / f"bodies-{name}.txt"
        path.write_text("\n".join(bodies) + "\n", encoding="utf-8")
        return path

    def wrk(
        self, url: str, bodies: Path, *, seconds: float, connections: int, token: str | None
    ) -> dict[str, int]:
        argv = [
            "wrk",
            "-t",
            str(min(self.args.threads, connections)),
            "-c",
            str(connections),
            "-d",
            f"{seconds:g}s",
            "--timeout",
            "30s",
            "-s",
            str(self.lua),
            url,
        ]
        env = {**os.environ, "BENCH_BODIES": str(bodies), "BENCH_TOKEN": token or ""}
        done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=seconds + 120)
        for line in done.stdout.splitlines():
            if line.startswith("BENCH_JSON "):
                return dict(json.loads(line[len("BENCH_JSON ") :]))
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    def measure(
        self,
        name: str,
        srv: Server,
        path: str,
        bodies: Path,
        *,
        connections: int,
        token: str | None = None,
        events_per_request: int | None = None,
        note: str = "",
    ) -> WrkResult:
        """A warm-up and a measured wrk run; over several rounds the median (by req/s) is kept."""
        url = srv.base + path
        if self.args.warmup > 0:
            self.wrk(url, bodies, seconds=self.args.warmup, connections=connections, token=token)
        before = head_seq(srv.base) if events_per_request else 0
        load0 = os.getloadavg()[0]
        cpu0 = tree_cpu_seconds(srv.proc.pid)
        raw = self.wrk(
            url, bodies, seconds=self.args.duration, connections=connections, token=token
        )
        cpu = tree_cpu_seconds(srv.proc.pid) - cpu0
        load1 = os.getloadavg()[0]
        seconds = raw["duration_us"] / 1e6
        errors = {k: raw[k] for k in ("non2xx", "connect", "read", "write", "timeout") if raw[k]}
        result = WrkResult(
            name=name,
            requests=raw["requests"],
            seconds=seconds,
            rps=raw["requests"] / seconds,
            p50_ms=raw["p50_us"] / 1e3,
            p90_ms=raw["p90_us"] / 1e3,
            p99_ms=raw["p99_us"] / 1e3,
            max_ms=raw["max_us"] / 1e3,
            errors=errors,
            connections=connections,
            server_cpu_ms=1e3 * cpu / max(1, raw["requests"]),
            load=f"{load0:.1f}→{load1:.1f}",
            note=note,
        )
        if events_per_request:
            appended = head_seq(srv.base) - before
            result.events_per_s = appended / seconds
            expected = raw["requests"] * events_per_request
            if appended < expected:  # wrk counts a request once its answer is read
                result.note += f" appended {appended} < {expected} acknowledged!"
        runs = self.runs.setdefault(name, [])
        runs.append(result)
        log(
            f"  {name:<34} {result.rps:>9,.0f} req/s  p50 {result.p50_ms:7.2f} ms  "
            f"p99 {result.p99_ms:7.2f} ms  c={connections}  cpu {result.server_cpu_ms:.3f} ms/req"
            f"  load {result.load}"
            + (f"  {result.events_per_s:,.0f} events/s" if result.events_per_s else "")
            + (f"  ERRORS {errors}" if errors else "")
        )
        # The round with the median req/s stands for the measure (lower middle of an even count).
        chosen = sorted(runs, key=lambda r: r.rps)[(len(runs) - 1) // 2]
        self.results[name] = WrkResult(**{**asdict(chosen), "rounds": [r.rps for r in runs]})
        if self.args.profile and len(runs) == 1:
            self.profile(name, srv, url, bodies, connections=connections, token=token)
        return self.results[name]

    def profile(
        self, name: str, srv: Server, url: str, bodies: Path, *, connections: int, token: str | None
    ) -> None:
        """Run the same load once more under ``py-spy record`` (not measured) and summarize."""
        slug = "".join(ch if ch.isalnum() else "-" for ch in name).strip("-")
        out = self.workdir / "profiles" / f"{slug}.txt"
        out.parent.mkdir(exist_ok=True)
        seconds = self.args.profile_seconds
        mode = ["--gil"] if self.args.profile_mode == "gil" else []
        spy = subprocess.Popen(
            [
                str(BIN / "py-spy"),
                "record",
                "--pid",
                str(srv.proc.pid),
                "--subprocesses",
                *mode,
                "--rate",
                "250",
                "--duration",
                f"{seconds:g}",
                "--format",
                "raw",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.5)
        self.wrk(url, bodies, seconds=seconds + 1, connections=connections, token=token)
        try:
            _, err = spy.communicate(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            spy.kill()
            _, err = spy.communicate()
        if not out.exists():
            log(f"    py-spy failed: {err.decode(errors='replace')[-500:]}")
            return
        lines = summarize_profile(out, self.args.profile_top, seconds * 250)
        self.profiles[name] = lines
        for line in lines:
            log(f"    {line}")


def _function(frame: str) -> str:
    """``func (path/file.py:123)`` -> ``func (path/file.py)`` with a short path."""
    func, _, where = frame.rpartition(" (")
    if not func:
        return frame
    file = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{func} ({file})"


IDLE_LEAVES = ("Condition.wait (", "Event.wait (", "Queue.get (", "_worker (", "select (")
"""Leaf frames of threads that wait (idle pool threads, the committer's queue)."""


def _thread_of(stack: str) -> str:
    if "GroupCommitter._run" in stack:
        return "group-commit thread"
    if "WorkerThread.run" in stack or "_worker (" in stack:
        return "thread pool"
    if "Runner.run" in stack or "Server.run" in stack:
        return "event loop"
    return "other"


AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("auth: token lookup", ("token_by_hash", "lookup_principal", "hash_token")),
    ("metrics (prometheus)", ("prometheus_client/",)),
    ("JSON encode", ("json/encoder.py", "encode_json", "JSONResponse.render")),
    ("JSON decode", ("json/decoder.py", "decode_json", "parse_json (")),
    ("catalogue validation (jsonschema)", ("jsonschema/", "referencing/", "Catalogue.")),
    ("drafts: draft_from_json, canonical", ("draft_from_json", "ledger/canonical.py")),
    ("group commit: Ledger.append_group", ("GroupCommitter._run",)),
    ("lineage graph walk", ("ledger/projections/lineage.py", "ledger/lineage_cache.py")),
    ("store reads (SQLite)", ("ledger/store/",)),
    ("resolvers (ledger/api/graphql)", ("ledger/api/graphql/", "ledger/api/reads.py")),
    ("graphql-core execution (per field)", ("graphql/execution/", "is_awaitable")),
    ("graphql-core parse/validate", ("graphql/language/", "graphql/validation/")),
    ("strawberry extensions", ("strawberry/extensions/",)),
    ("strawberry request parsing", ("parse_http_body", "parse_content_type", "email/")),
    ("strawberry (other)", ("strawberry/",)),
    ("thread-pool hops (anyio)", ("anyio/", "run_in_threadpool", "concurrent/futures")),
    ("uvicorn HTTP I/O", ("uvicorn/", "httptools")),
    ("starlette and middleware", ("starlette/", "ledger/api/")),
)
"""Where a sample's time goes: its deepest frame that names one of these, in this order."""


def _area(frames: list[str]) -> str:
    for frame in reversed(frames):
        for label, needles in AREAS:
            if any(needle in frame for needle in needles):
                return label
    return "other (event loop, asyncio)"


def summarize_profile(path: Path, top: int, possible: float) -> list[str]:
    """A py-spy raw profile as shares of the samples: per area, then the hottest functions.

    With ``--gil`` (the default) py-spy keeps only the thread holding the GIL,
    so the shares are of the Python CPU time; ``possible`` (duration x rate)
    tells how busy the GIL was. Samples whose leaf is a wait are left out.
    """
    areas: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(f) for f in stack.split(";")]
        if frames[-1].startswith(IDLE_LEAVES):
            idle += count
            continue
        total += count
        threads[_thread_of(stack)] += count
        areas[_area(frames)] += count
        self_time[frames[-1]] += count
    if not total:
        return ["(no samples)"]
    split = ", ".join(f"{k} {100 * n / total:.0f}%" for k, n in threads.most_common())
    lines = [
        f"{total} samples (~{100 * total / possible:.0f}% of the wall time; {idle} waiting "
        f"samples left out); by thread: {split}",
        "by area (the deepest frame that names it):",
    ]
    lines += [
        f"  {100 * n / total:5.1f}%  {a}" for a, n in areas.most_common() if n / total >= 0.01
    ]
    lines.append("self (share of samples where the function itself runs):")
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in self_time.most_common(top)]
    return lines


# --------------------------------------------------------------------------- ledger data


def append_in_process(db: Path, batches: Iterator[list[dict[str, Any]]], actor: str) -> list[int]:
    """Append JSON event batches to ``db`` with the catalogue (no role: trusted local)."""
    from ledger.events import draft_from_json
    from ledger.schema_files import load_catalogue
    from ledger.service import Ledger
    from ledger.store import open_store

    store = open_store(db)
    try:
        ledger = Ledger(store, catalogue=load_catalogue())
        last = []
        for batch in batches:
            acks = ledger.append([draft_from_json(item) for item in batch], actor)
            last.append(acks[-1].seq)
        return last
    finally:
        store.close()


def store_batched_rate(db: Path, seconds: float) -> dict[str, float]:
    """``Ledger.append`` of 1,000-event batches for ``seconds`` on ``db``; events/s.

    The drafts are built from the same JSON objects the HTTP batches carry
    (``draft_from_json``, timed apart); only ``Ledger.append`` (catalogue and
    role checks, sealing, the durable commit, tree and projections) is timed.
    """
    from ledger.events import draft_from_json
    from ledger.schema_files import load_catalogue
    from ledger.service import Ledger
    from ledger.store import open_store

    store = open_store(db)
    try:
        ledger = Ledger(store, catalogue=load_catalogue())
        items = [dict(CHEAP_EVENT) for _ in range(BATCH)]
        ledger.append([draft_from_json(i) for i in items], "bench", role="admin")  # warm-up
        appended = 0
        append_s = parse_s = 0.0
        cpu0 = time.process_time()
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            drafts = [draft_from_json(i) for i in items]
            t1 = time.perf_counter()
            ledger.append(drafts, "bench", role="admin")
            t2 = time.perf_counter()
            parse_s += t1 - t0
            append_s += t2 - t1
            appended += BATCH
        cpu = time.process_time() - cpu0
        return {
            "events": appended,
            "append_s": append_s,
            "cpu_ms_per_event": 1e3 * cpu / appended,
            "events_per_s": appended / append_s,
            "with_drafts_per_s": appended / (append_s + parse_s),
        }
    finally:
        store.close()


def store_group_rate(db: Path, seconds: float, group: int) -> dict[str, float]:
    """In-process ceiling of measure 5: ``group`` one-event requests per ``append_group``.

    Each request's draft is validated as the API does (``Ledger.validate``, which
    the server runs on its thread pool), then the group shares one durable
    commit; both are timed. No HTTP, no threads: the store's own rate at the
    group size that ``group`` concurrent single-event clients can reach at best.
    """
    from ledger.events import draft_from_json
    from ledger.schema_files import load_catalogue
    from ledger.service import AppendRequest, Ledger
    from ledger.store import open_store

    store = open_store(db)
    try:
        ledger = Ledger(store, catalogue=load_catalogue())
        appended = 0
        cpu0 = time.process_time()
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            requests = []
            for _ in range(group):
                drafts = [draft_from_json(dict(CHEAP_EVENT))]
                ledger.validate(drafts, "admin")
                requests.append(AppendRequest(drafts, "bench"))
            ledger.append_group(requests)
            appended += group
        wall = time.perf_counter() - start
        return {
            "group": group,
            "events_per_s": appended / wall,
            "cpu_us_per_event": 1e6 * (time.process_time() - cpu0) / appended,
        }
    finally:
        store.close()


def lineage_events(nodes: int, edges: int) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The synthetic graph as lineage.edge.recorded drafts (see RELATION_MAP)."""
    sys.path.insert(0, str(ROOT / "tests" / "projections"))
    from lineage_data import layered_lineage  # type: ignore[import-not-found]

    out: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    for edge in layered_lineage(nodes, edges):
        relation = edge.relation
        source, target = edge.source, edge.target
        if relation == "version_of":
            counts["version_of (implied)"] += 1
            continue
        if relation in RELATION_MAP:
            source, target, relation = target, source, RELATION_MAP[relation]
        counts[relation] += 1
        out.append(
            {
                "type": "lineage.edge.recorded",
                "subject": source,
                "data": {"target": target, "relation": relation},
            }
        )
    return out, dict(counts)


def chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def edge_table_counts(db: Path) -> tuple[int, int]:
    """Distinct edges and nodes the projection stored (the graph the server loads)."""
    from ledger.lineage_cache import EdgeSource
    from ledger.store import open_store

    store = open_store(db)
    try:
        nodes: set[str] = set()
        count = 0
        source_rows = cast(EdgeSource, store).edges(0)  # the stores read their edge table
        for source, target, *_ in source_rows:
            nodes.add(source)
            nodes.add(target)
            count += 1
        return count, len(nodes)
    finally:
        store.close()


def durable_commit_ms(directory: Path, commits: int = 200) -> tuple[float, float]:
    """Median and p90 latency of a one-row durable commit (WAL, synchronous=FULL) here."""
    path = directory / "fsync-probe.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE t (x INTEGER)")
        times = []
        for i in range(commits):
            t0 = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t VALUES (?)", (i,))
            conn.execute("COMMIT")
            times.append(time.perf_counter() - t0)
        times.sort()
        return 1e3 * statistics.median(times), 1e3 * times[int(len(times) * 0.9)]
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


# --------------------------------------------------------------------------- conditions


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for dist in (
        "rollout-ledger",
        "starlette",
        "strawberry-graphql",
        "graphql-core",
        "uvicorn",
        "httptools",
        "uvloop",
        "orjson",
        "networkx",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "-"
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    out["wrk"] = (wrk.stdout or wrk.stderr).splitlines()[0].split(" Copyright")[0]
    return out


def schema_has_lineage() -> bool:
    sdl = subprocess.run([CLI, "schema"], capture_output=True, text=True, check=False).stdout
    return any(line.strip().startswith("lineage(ref:") for line in sdl.splitlines())


# --------------------------------------------------------------------------- the run


def ratio_row(measure: str, value: str, target: str, met: bool | None) -> list[str]:
    return [measure, value, target, "-" if met is None else ("yes" if met else "**no**")]


def fmt_rps(r: WrkResult) -> str:
    return f"{r.rps:,.0f} req/s (p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms)"


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="bench-api-"))
    workdir.mkdir(parents=True, exist_ok=True)
    lua = workdir / "bench.lua"
    lua.write_text(WRK_LUA, encoding="utf-8")
    bench = Bench(args, workdir, lua)
    cond = versions()
    cond.update(
        nproc=str(os.cpu_count()),
        machine=platform.machine(),
        kernel=platform.release(),
        workers=str(args.workers),
        wrk_threads=str(args.threads),
        connections=str(args.connections),
        batch_connections=str(args.batch_connections),
        lineage_connections=",".join(map(str, args.lineage_connections)),
        duration=f"{args.duration:g} s (+{args.warmup:g} s warm-up) x {args.rounds} rounds for 1-3",
        loadavg_start=" ".join(f"{x:.1f}" for x in os.getloadavg()),
    )
    log("conditions: " + ", ".join(f"{k}={v}" for k, v in cond.items()))
    log(f"work directory: {workdir}")

    # ---- the disk: what one durable commit costs (bounds group commit, measure 5)
    commit_ms, commit_p90 = durable_commit_ms(workdir)
    bench.extra["durable_commit_start_ms"] = [commit_ms, commit_p90]
    log(
        "\ndurable one-row SQLite commit (WAL, synchronous=FULL) on this disk: "
        f"median {commit_ms:.2f} ms, p90 {commit_p90:.2f} ms"
    )

    # ---- the read ledger: demo + 1,000 events (+ lineage graph)
    lineage = schema_has_lineage() and not args.skip_lineage
    read_db = workdir / "read.db"
    token = make_ledger(read_db)
    append_in_process(read_db, chunks([CHEAP_EVENT] * FILL_EVENTS, BATCH), "bench")
    as_of = None
    refs: list[str] = []
    if lineage:
        log(
            f"\nloading the lineage graph ({args.lineage_nodes:,} nodes, "
            f"{args.lineage_edges:,} edges)"
        )
        events, counts = lineage_events(args.lineage_nodes, args.lineage_edges)
        cut = len(events) * 2 // 3
        t0 = time.perf_counter()
        append_in_process(read_db, chunks(events[:cut], BATCH), "lineage-bench")
        time.sleep(0.01)
        as_of = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        time.sleep(0.01)
        append_in_process(read_db, chunks(events[cut:], BATCH), "lineage-bench")
        load_s = time.perf_counter() - t0
        edges_stored, nodes_stored = edge_table_counts(read_db)
        rng = random.Random(args.seed)
        versions_before = sorted(
            {
                e["subject"]
                for e in events[:cut]
                if e["subject"].startswith("model:") and "@" in e["subject"]
            }
        )
        refs = rng.sample(versions_before, min(args.lineage_refs, len(versions_before)))
        bench.extra["lineage"] = {
            "events": len(events),
            "relations": counts,
            "load_s": load_s,
            "edges_stored": edges_stored,
            "nodes_stored": nodes_stored,
            "as_of": as_of,
            "start_refs": len(refs),
            "direction": args.lineage_direction,
        }
        log(
            f"  appended {len(events):,} lineage.edge.recorded events in {load_s:.1f} s; "
            f"the store holds {edges_stored:,} edges over {nodes_stored:,} nodes "
            f"(relations {counts}); asOf {as_of} (2/3 of the load)"
        )
    else:
        why = "--skip-lineage" if args.skip_lineage else "no lineage field in the schema"
        log(f"\n[6] skipped: {why}")

    c = args.connections
    trivial = bench.bodies_file("trivial", [gql_body(TRIVIAL_QUERY)])
    page = bench.bodies_file("page", [gql_body(PAGE_QUERY)])
    with ledger_server(read_db, free_port(), workdir, args.workers) as srv:
        page_json = json.loads(gql_ok(srv.base, gql_body(PAGE_QUERY)))
        typename_json = json.loads(gql_ok(srv.base, gql_body(TRIVIAL_QUERY)))
        if len(page_json["data"]["events"]["edges"]) != 100:
            raise SystemExit("the events page does not hold 100 events")
        documents = workdir / "baseline.json"
        documents.write_text(json.dumps({"/typename": typename_json, "/page": page_json}))
        bench.extra["page_bytes"] = len(json.dumps(page_json, separators=(",", ":")))
        gql_ok(srv.base, gql_body(PAGE_QUERY), token)

        # ---- 1-3, interleaved in rounds so that drift in the machine's load hits both sides
        log("\n[1-3] plain starlette JSON routes (same uvicorn options) vs GraphQL, interleaved")
        with baseline_server(documents, free_port(), workdir, args.workers) as base:
            status, raw = http(f"{base.base}/page", b"{}")
            if status != 200 or json.loads(raw) != page_json:
                raise SystemExit("the baseline page differs from the ledger's")
            for round_ in range(args.rounds):
                log(f" round {round_ + 1}/{args.rounds}")
                bench.measure(M1A, base, "/typename", trivial, connections=c)
                bench.measure(M2, srv, "/graphql", trivial, connections=c)
                bench.measure(M1B, base, "/page", page, connections=c)
                bench.measure(M3, srv, "/graphql", page, connections=c)
        log(" with a bearer token (one token lookup per request)")
        bench.measure(M2T, srv, "/graphql", trivial, connections=c, token=token)
        bench.measure(M3T, srv, "/graphql", page, connections=c, token=token)

        # ---- 6: lineage
        if lineage and as_of is not None:
            log(
                f"\n[6] lineage depth 3 {args.lineage_direction}, asOf time, "
                f"{len(refs)} random model versions"
            )
            query = LINEAGE_QUERY % args.lineage_direction
            bodies = [gql_body(query, {"ref": r, "t": as_of}) for r in refs]
            t0 = time.perf_counter()
            gql_ok(srv.base, bodies[0])  # the first query loads the graph into the worker
            first_s = time.perf_counter() - t0
            for _ in range(args.workers - 1):  # let every worker load it (best effort)
                gql_ok(srv.base, bodies[0])
            sizes_n, sizes_e = [], []
            for body in bodies[: min(50, len(bodies))]:
                data = json.loads(gql_ok(srv.base, body))["data"]["lineage"]
                sizes_n.append(len(data["nodes"]))
                sizes_e.append(len(data["edges"]))
            bench.extra["lineage"].update(
                first_query_s=first_s,
                answer_nodes_median=statistics.median(sizes_n),
                answer_nodes_max=max(sizes_n),
                answer_edges_median=statistics.median(sizes_e),
            )
            log(
                f"  first query (loads the graph): {first_s:.1f} s; answers: median "
                f"{statistics.median(sizes_n):.0f} nodes / {statistics.median(sizes_e):.0f} edges"
                f" (max {max(sizes_n)} nodes)"
            )
            lfile = bench.bodies_file("lineage", bodies)
            for lc in args.lineage_connections:
                bench.measure(f"{M6} c={lc}", srv, "/graphql", lfile, connections=lc)

    # ---- 4, 5: appends, each on a fresh ledger
    log("\n[4] POST /v1/events, 1,000-event batches")
    batch_body = json.dumps([CHEAP_EVENT] * BATCH, separators=(",", ":"))
    batches = bench.bodies_file("batch", [batch_body])
    db4 = workdir / "append-batch.db"
    token4 = make_ledger(db4)
    # The store's own rate right before and right after the server's, each on
    # a fresh ledger, so that the ratio compares like with like on a machine
    # whose load drifts (a rate measured minutes apart once gave 275%).
    store_runs = []
    for when in ("before", "after"):
        if when == "after":
            with ledger_server(db4, free_port(), workdir, args.workers) as srv:
                status, raw = http(f"{srv.base}/v1/events", batch_body.encode(), token4)
                if status != 200:
                    raise SystemExit(f"batch append failed ({status}): {raw[:300]!r}")
                bench.measure(
                    M4,
                    srv,
                    "/v1/events",
                    batches,
                    connections=args.batch_connections,
                    token=token4,
                    events_per_request=BATCH,
                )
        store_db = workdir / f"store-{when}.db"
        make_ledger(store_db)
        rate = store_batched_rate(store_db, args.duration)
        store_runs.append(rate)
        log(
            f"  store {when} the server: Ledger.append {rate['events_per_s']:,.0f} events/s "
            f"({rate['events']:,} events, {rate['cpu_ms_per_event'] * 1e3:.0f} µs CPU/event;"
            f" with draft_from_json: {rate['with_drafts_per_s']:,.0f} events/s)"
        )
    bench.extra["store"] = {
        key: statistics.mean(run[key] for run in store_runs) for key in store_runs[0]
    }
    bench.extra["store"]["runs_events_per_s"] = [run["events_per_s"] for run in store_runs]

    log("\n[5] POST /v1/events, one event per request")
    group_db = workdir / "store-group.db"
    make_ledger(group_db)
    group_rate = store_group_rate(group_db, min(args.duration, 5.0), c)
    bench.extra["store_group"] = group_rate
    commit_ms, commit_p90 = durable_commit_ms(workdir)
    bench.extra["durable_commit_ms"] = commit_ms
    bench.extra["durable_commit_p90_ms"] = commit_p90
    log(
        f"  in-process ceiling: validate + append_group of {c} one-event requests: "
        f"{group_rate['events_per_s']:,.0f} events/s ({group_rate['cpu_us_per_event']:.0f} µs "
        f"CPU/event); durable commit now: median {commit_ms:.2f} ms, p90 {commit_p90:.2f} ms"
    )
    single = bench.bodies_file("single", [json.dumps([CHEAP_EVENT], separators=(",", ":"))])
    db5 = workdir / "append-single.db"
    token5 = make_ledger(db5)
    # The same requests (body, token header, Lua script) to a bare starlette
    # route, interleaved: what this machine's HTTP stack and load generator
    # allow at all for this shape.
    # --compare-tree: the same requests to a server of another checkout (its
    # package first on PYTHONPATH, e.g. `git archive HEAD` unpacked), interleaved.
    other_env = {"PYTHONPATH": args.compare_tree} if args.compare_tree else None
    db5o = workdir / "append-single-other.db"
    token5o = make_ledger(db5o, other_env) if other_env else None
    with (
        ledger_server(db5, free_port(), workdir, args.workers) as srv,
        baseline_server(documents, free_port(), workdir, args.workers) as base,
        (
            ledger_server(db5o, free_port(), workdir, args.workers, other_env)
            if other_env
            else nullcontext()
        ) as other,
    ):
        for _ in range(args.rounds):
            bench.measure(M5B, base, "/v1/events", single, connections=c, token=token5)
            bench.measure(
                M5, srv, "/v1/events", single, connections=c, token=token5, events_per_request=1
            )
            if other is not None:
                bench.measure(
                    M5O,
                    other,
                    "/v1/events",
                    single,
                    connections=c,
                    token=token5o,
                    events_per_request=1,
                    note=f"tree {args.compare_tree}",
                )

    cond["loadavg_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    report = build_report(bench, cond)
    if not args.keep and not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    return report


M1A = "1a starlette {__typename} JSON"
M1B = "1b starlette 100-event page JSON"
M2 = "2 graphql { __typename }"
M3 = "3 graphql events(first: 100)"
M2T = "2t { __typename } + token"
M3T = "3t events(first: 100) + token"
M4 = "4 POST /v1/events x1000"
M5 = "5 POST /v1/events x1"
M5B = "5b bare starlette POST x1"
M5O = "5o POST /v1/events x1, --compare-tree"
M6 = "6 lineage depth 3 asOf time"


def _rounds(r: WrkResult) -> str:
    return "" if len(r.rounds) < 2 else "; rounds " + " / ".join(f"{x:,.0f}" for x in r.rounds)


def build_report(bench: Bench, cond: dict[str, str]) -> dict[str, Any]:
    r = bench.results
    rows: list[list[str]] = []
    a, b = r[M1A], r[M1B]
    rows.append(
        ratio_row(
            "1a plain starlette `{__typename}` JSON",
            f"{fmt_rps(a)}; {a.server_cpu_ms:.3f} ms CPU/req{_rounds(a)}",
            "baseline",
            None,
        )
    )
    rows.append(
        ratio_row(
            f"1b plain starlette 100-event page JSON ({bench.extra['page_bytes']:,} B)",
            f"{fmt_rps(b)}; {b.server_cpu_ms:.3f} ms CPU/req{_rounds(b)}",
            "baseline",
            None,
        )
    )
    for key, base, target, label in (
        (M2, a, "graphql_trivial_overhead", "2 GraphQL `{ __typename }`"),
        (M3, b, "graphql_page_overhead", "3 GraphQL `events(first: 100)` page"),
        (M2T, a, "graphql_trivial_overhead", "2t the same with a bearer token"),
        (M3T, b, "graphql_page_overhead", "3t the same with a bearer token"),
    ):
        res = r[key]
        ratio = base.rps / res.rps
        cpu_ratio = res.server_cpu_ms / base.server_cpu_ms
        rows.append(
            ratio_row(
                label,
                f"{fmt_rps(res)}{_rounds(res)}; **{ratio:.1f}x** 1{'a' if base is a else 'b'}'s "
                f"req/s (CPU per request {res.server_cpu_ms:.3f} ms: {cpu_ratio:.1f}x)",
                f"≤ {TARGETS[target]:g}x",
                ratio <= TARGETS[target],
            )
        )
    store = bench.extra["store"]
    b4 = r[M4]
    assert b4.events_per_s is not None
    share = b4.events_per_s / store["events_per_s"]
    rows.append(
        ratio_row(
            "4 `POST /v1/events`, 1,000-event batches",
            f"{b4.events_per_s:,.0f} events/s ({b4.rps:,.1f} req/s, p50 {b4.p50_ms:.0f} ms, "
            f"p99 {b4.p99_ms:.0f} ms, c={b4.connections}) vs in-process `Ledger.append` "
            f"{store['events_per_s']:,.0f} events/s (mean of "
            + " / ".join(f"{x:,.0f}" for x in store["runs_events_per_s"])
            + f", right before and after): **{100 * share:.0f}%** (CPU per event "
            f"{b4.server_cpu_ms:.0f} µs vs {1e3 * store['cpu_ms_per_event']:.0f} µs)",
            "≥ 70%",
            share >= TARGETS["batch_vs_store"],
        )
    )
    s5, bare5 = r[M5], r[M5B]
    assert s5.events_per_s is not None
    ceiling = s5.connections / (bench.extra["durable_commit_ms"] / 1e3)
    group = bench.extra["store_group"]
    rows.append(
        ratio_row(
            f"5 single-event appends, {s5.connections} connections",
            f"**{s5.events_per_s:,.0f} events/s** (p50 {s5.p50_ms:.1f} ms, p99 {s5.p99_ms:.1f} ms; "
            f"{s5.server_cpu_ms:.2f} ms CPU/req). Ceilings: a bare starlette route reading, "
            f"orjson-parsing and answering 201 to the same requests {fmt_rps(bare5)}, "
            f"{bare5.server_cpu_ms:.3f} ms CPU/req; in-process validate + "
            f"`append_group` of {group['group']} one-event requests "
            f"{group['events_per_s']:,.0f} events/s; disk {s5.connections} / "
            f"{bench.extra['durable_commit_ms']:.2f} ms median commit = {ceiling:,.0f} events/s",
            "≥ 10,000 events/s",
            s5.events_per_s >= TARGETS["single_events_per_s"],
        )
    )
    if M5O in r:
        o5 = r[M5O]
        rows.append(
            ratio_row(
                f"5o the same, the server of `{o5.note.strip().removeprefix('tree ')}`",
                f"{o5.events_per_s or 0:,.0f} events/s (p50 {o5.p50_ms:.1f} ms, p99 "
                f"{o5.p99_ms:.1f} ms; {o5.server_cpu_ms:.2f} ms CPU/req; rounds interleaved "
                "with 5)",
                "(comparison)",
                None,
            )
        )
    lineage_rows = [k for k in r if k.startswith(M6)]
    for key in lineage_rows:
        l6, info = r[key], bench.extra["lineage"]
        rows.append(
            ratio_row(
                f"6 `lineage` depth 3 {info['direction']}, asOf time, "
                f"{info['nodes_stored']:,} nodes / {info['edges_stored']:,} edges, "
                f"c={l6.connections}",
                f"p50 {l6.p50_ms:.1f} ms, **p99 {l6.p99_ms:.1f} ms** (max {l6.max_ms:.0f} ms; "
                f"{l6.rps:,.0f} req/s; answers median {info['answer_nodes_median']:.0f} nodes)",
                "p99 < 20 ms",
                l6.p99_ms < TARGETS["lineage_p99_ms"],
            )
        )
    if not lineage_rows:
        rows.append(ratio_row("6 `lineage` depth 3 asOf", "skipped", "p99 < 20 ms", None))
    table = ["| measure | value | target | met? |", "| --- | --- | --- | --- |"]
    table += ["| " + " | ".join(row) + " |" for row in rows]
    log("\nconditions: " + ", ".join(f"{k}={v}" for k, v in cond.items()))
    log("\n" + "\n".join(table))
    errors = {k: v.errors for k, v in r.items() if v.errors}
    if errors:
        log(f"\nERRORS (non-2xx or socket errors): {errors}")
    for v in r.values():
        if v.note:
            log(f"note: {v.name}: {v.note}")
    return {
        "conditions": cond,
        "results": {k: asdict(v) for k, v in r.items()},
        "runs": {k: [asdict(x) for x in v] for k, v in bench.runs.items()},
        "extra": bench.extra,
        "table": table,
        "profiles": bench.profiles,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=textwrap.dedent(__doc__.split("\n\n", 1)[1]),
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds before each")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (both servers)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (1-3, 5)")
    parser.add_argument("--batch-connections", type=int, default=4, help="connections for 4")
    parser.add_argument(
        "--lineage-connections",
        type=lambda t: [int(x) for x in t.split(",")],
        default=[1, 8],
        help="connection counts for 6, comma-separated (default 1,8: latency, then under load)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of 1-3")
    parser.add_argument("--lineage-nodes", type=int, default=100_000)
    parser.add_argument("--lineage-edges", type=int, default=300_000)
    parser.add_argument("--lineage-refs", type=int, default=500, help="random start versions")
    parser.add_argument(
        "--lineage-direction", default="BOTH", choices=["UPSTREAM", "DOWNSTREAM", "BOTH"]
    )
    parser.add_argument("--skip-lineage", action="store_true")
    parser.add_argument(
        "--compare-tree",
        help="also run 5 against the checkout at this path (PYTHONPATH), interleaved: old vs new",
    )
    parser.add_argument("--quick", action="store_true", help="4 s runs, 20k-node lineage graph")
    parser.add_argument("--profile", action="store_true", help="py-spy each path (extra runs)")
    parser.add_argument("--profile-seconds", type=float, default=6.0)
    parser.add_argument(
        "--profile-mode",
        choices=["gil", "wall"],
        default="gil",
        help="gil: only the thread holding the GIL (CPU); wall: every non-idle thread",
    )
    parser.add_argument("--profile-top", type=int, default=18)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--workdir", help="keep everything here (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--out-json", help="write the results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup = min(args.duration, 4.0), min(args.warmup, 1.0)
        args.rounds = min(args.rounds, 1)
        args.lineage_nodes, args.lineage_edges = 20_000, 60_000
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")
    report = run(args)
    if args.out_json:
        Path(args.out_json).write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
