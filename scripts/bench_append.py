"""Benchmark the ledger's append and verify against their limits (issue 2, "Speed").

Usage::

    python scripts/bench_append.py                 # full run: 200k events, RSS at 100k and 1M
    python scripts/bench_append.py --quick         # a smaller run (20k events, RSS at 100k only)
    python scripts/bench_append.py --skip-1m --out-json bench.json
    python scripts/bench_append.py --profile       # also cProfile one batched append and verify
    python scripts/bench_append.py --only single --baseline HEAD   # (c) against HEAD's code too

One run measures, on the same machine and the same scratch directory:

(a) the limit: raw ``sqlite3`` ``executemany`` of the very rows the ledger
    stores (same columns, same canonical bytes) into a bare WAL table with the
    indexes the ledger needs (unique id, subject, type), ``synchronous=FULL``,
    1,000 rows per ``BEGIN IMMEDIATE`` transaction;
(b) ``Ledger.append`` in batches of 1,000 from the clients' JSON objects
    (``draft_from_json``: envelope checks and RFC 8785 canonicalization; then
    sealing, hashing and the durable commit), for each way the ledger is put
    together (``VARIANTS``: as the CLI/API compose it, the library defaults,
    issue 2's core, the core without the Merkle tree); and one JSONL file through
    ``rollout-ledger append --file`` (a subprocess; the time includes process
    start) and through the library reading the file the way the CLI does;
(c) one event per durable transaction, ledger against raw one-row inserts
    (``--baseline REV``: also the core on git revision REV's ``ledger``
    package, loaded beside this checkout's as ``ledger_baseline``);
(d) the ``eventsourcing`` library on its SQLite recorder, 1,000 events per
    ``Application.save`` of one aggregate (and, for reference, its recorder alone);
(e) ``Ledger.verify`` against raw chained SHA-256 over the same stored bytes,
    and the peak RSS (VmHWM) of ``rollout-ledger verify`` at 100k and 1M events.

Appends are timed unit by unit in turns across the systems compared (this
machine is shared, and fsync latency moves by 10x), three runs each after a
warm-up, each run on fresh database files; the median run is reported.
Nothing here is a test: the numbers go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import hashlib
import importlib
import inspect
import io
import itertools
import json
import os
import platform
import pstats
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from ledger import canonical as _canonical  # noqa: E402
from ledger.chain import seal  # noqa: E402
from ledger.events import draft_from_json  # noqa: E402
from ledger.service import MAX_BATCH, Ledger  # noqa: E402
from ledger.store import open_store  # noqa: E402

__all__ = ["main"]

ACTOR = "pipeline:ci-bench"
TYPE = "test.result.recorded"
BATCH = 1_000
RUNS = 3
SEED = 20261125
SLOW_PATH_SHARE = 0.05
"""Share of payloads holding a float the orjson fast path does not cover (see conditions)."""

TARGETS = {
    "batched_vs_raw": 0.70,
    "batched_vs_eventsourcing": 1.5,
    "single_vs_raw_single": 0.70,
    "verify_vs_raw_sha": 0.50,
}

_RAW_SCHEMA = [
    """CREATE TABLE events (
        seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
        subject TEXT NOT NULL, actor TEXT NOT NULL, occurred_at TEXT NOT NULL,
        recorded_at TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
        body BLOB NOT NULL)""",
    "CREATE INDEX events_subject ON events(subject)",
    "CREATE INDEX events_type ON events(type)",
]
_RAW_INSERT = (
    "INSERT INTO events (seq, id, type, subject, actor, occurred_at, recorded_at,"
    " prev_hash, hash, body) VALUES (?,?,?,?,?,?,?,?,?,?)"
)


# ---- the workload ----------------------------------------------------------------

_MODELS = [
    "fraud-detector",
    "churn-predictor",
    "credit-risk",
    "search-ranker",
    "ad-ctr",
    "doc-embedder",
    "demand-forecast",
    "anomaly-scorer",
    "support-router",
    "price-optimizer",
]
_SUITES = [
    "offline-eval-holdout",
    "fairness-audit",
    "latency-budget",
    "shadow-compare",
    "canary-analysis",
    "unit",
    "integration-smoke",
    "load-1k-rps",
    "drift-backtest",
]
_KINDS = [
    "unit",
    "integration",
    "end_to_end",
    "evaluation",
    "fairness",
    "latency",
    "load",
    "shadow",
    "canary_analysis",
]
_METRICS = [
    "auc",
    "precision",
    "recall",
    "f1",
    "accuracy",
    "recall_at_1pct_fpr",
    "calibration_error",
    "demographic_parity_gap",
    "latency_p50_ms",
    "latency_p99_ms",
    "throughput_rps",
    "error_rate",
]


def subjects() -> list[str]:
    """1,000 model versions: 100 models (10 families x 10) x 10 versions."""
    out = []
    for i in range(100):
        name = f"{_MODELS[i % 10]}-{i // 10:02d}"
        out += [f"model:{name}@{1 + v // 4}.{v % 4}.{(i + v) % 7}" for v in range(10)]
    return out


def make_payloads(n: int, seed: int = SEED) -> list[dict[str, Any]]:
    """``n`` client JSON objects (what a JSONL line holds) of test.result.recorded events.

    Varied per event; schema-valid against schema/events/test.result.recorded.json.
    A share ``SLOW_PATH_SHARE`` carries one value the canonicalizer's orjson fast
    path does not cover (an integral float such as 120.0, or a rate below 1e-4),
    as real pipelines sometimes send.
    """
    rng = random.Random(seed)
    subs = subjects()
    out = []
    for i in range(n):
        subject = subs[rng.randrange(len(subs))]
        model = subject[6:].split("@")[0]
        names = rng.sample(_METRICS, rng.randint(2, 4))
        metrics: dict[str, float] = {}
        for name in names:
            if name.endswith("_ms"):
                metrics[name] = round(rng.uniform(4.0, 250.0), 3)
            elif name == "throughput_rps":
                metrics[name] = round(rng.uniform(200.0, 5000.0), 2)
            else:
                metrics[name] = round(rng.uniform(0.001, 0.999), 5)
        if rng.random() < SLOW_PATH_SHARE:
            if rng.random() < 0.5:
                metrics["latency_p99_ms"] = float(rng.randint(20, 400))
            else:
                metrics["error_rate"] = round(rng.uniform(1e-6, 9e-5), 9)
        thresholds = {
            name: (
                {"min": round(metrics[name] * 0.9, 3)}
                if rng.random() < 0.7
                else {"max": round(metrics[name] * 1.2, 3)}
            )
            for name in names[: rng.randint(1, 3)]
        }
        run = rng.randrange(1, 99_999)
        day = 1 + i % 28
        data = {
            "suite": rng.choice(_SUITES),
            "kind": rng.choice(_KINDS),
            "passed": rng.random() < 0.9,
            "metrics": metrics,
            "thresholds": thresholds,
            "evidence_uri": f"https://ci.example.com/{model}/runs/{run}",
            "run": f"run:github-actions/{run}",
        }
        out.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "type": TYPE,
                "subject": subject,
                "occurred_at": f"2026-11-{day:02d}T{i % 24:02d}:{i % 60:02d}:00.{i % 1000:03d}Z",
                "data": data,
            }
        )
    return out


def batches(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def sealed_rows(payloads: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The exact rows the ledger would store for these payloads (untimed)."""
    rows: list[tuple[Any, ...]] = []
    prev = "0" * 64
    recorded_at = "2026-11-25T14:02:00.000000Z"
    for seq, payload in enumerate(payloads, start=1):
        draft = draft_from_json(payload)
        e = seal(
            draft, seq=seq, prev_hash=prev, actor=ACTOR, recorded_at=recorded_at, id=draft.id or ""
        )
        prev = e.hash
        rows.append(
            (
                e.seq,
                e.id,
                e.type,
                e.subject,
                e.actor,
                e.occurred_at,
                e.recorded_at,
                e.prev_hash,
                e.hash,
                e.body,
            )
        )
    return rows


# ---- timing helpers --------------------------------------------------------------


@dataclass
class Result:
    """One measure: events per second is events / median seconds."""

    key: str
    label: str
    events: int
    seconds: list[float] = field(default_factory=list)
    note: str = ""
    failed: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def rate(self) -> float:
        return self.events / self.median if self.seconds else float("nan")


class Scratch:
    """Fresh database paths in one scratch directory, removed as we go."""

    def __init__(self, base: Path) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-append-", dir=base))
        self._n = 0

    def path(self, stem: str) -> Path:
        self._n += 1
        return self.dir / f"{self._n:03d}-{stem}.db"

    @staticmethod
    def drop(path: Path) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")
        keys = path.parent / f"{path.name}.keys"
        if keys.exists():
            shutil.rmtree(keys)


@dataclass
class Case:
    """A measure to run: ``run`` times itself and returns seconds; ``warmup`` is untimed."""

    result: Result
    run: Callable[[], float]
    warmup: Callable[[], Any] | None = None


def measure(cases: Sequence[Case], runs: int, log: Callable[[str], None]) -> list[Result]:
    """Warm each case up once, then time them in interleaved rounds (a, b, c, a, b, c, ...).

    Interleaving puts the measures of one comparison under the same background
    load and disk state, so their ratio is fairer than with back-to-back blocks.
    A case that raises is reported as failed and skipped from then on.
    """
    for case in cases:
        if case.warmup is not None:
            try:
                case.warmup()
            except Exception as exc:  # report it on the measure and go on
                case.result.failed = f"{type(exc).__name__}: {exc}"
                log(f"  {case.result.label}: FAILED in warm-up: {case.result.failed}")
    for i in range(runs):
        for case in cases:
            r = case.result
            if r.failed:
                continue
            try:
                seconds = case.run()
            except Exception as exc:  # one broken measure must not hide the others
                r.failed = f"{type(exc).__name__}: {exc}"
                log(f"  {r.label}: FAILED {r.failed}")
                continue
            r.seconds.append(seconds)
            log(f"  {r.label}: run {i + 1}/{runs} {r.events / seconds:,.0f} events/s")
    return [case.result for case in cases]


def loadavg() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "n/a"


# ---- steppers: one system appending, one unit of work at a time -------------------


class Stepper:
    """One system under test, opened on a fresh file, appending its items unit by unit.

    ``step(i)`` appends unit ``i`` (a batch of 1,000, or a block of single-event
    transactions) and returns the seconds it took; only that is timed.
    """

    def __init__(self, scratch: Scratch, stem: str, units: Sequence[Any]) -> None:
        self.scratch = scratch
        self.path = scratch.path(stem)
        self.units = units

    def step(self, i: int) -> float:
        raise NotImplementedError

    def close(self) -> None:
        self.scratch.drop(self.path)


class RawBatched(Stepper):
    """(a) ``executemany`` of 1,000 pre-encoded rows in one BEGIN IMMEDIATE transaction."""

    def __init__(self, scratch: Scratch, units: Sequence[Any]) -> None:
        super().__init__(scratch, "raw", units)
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        for statement in _RAW_SCHEMA:
            self.conn.execute(statement)

    def step(self, i: int) -> float:
        conn, start = self.conn, time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_RAW_INSERT, self.units[i])
        conn.execute("COMMIT")
        return time.perf_counter() - start

    def close(self) -> None:
        self.conn.close()
        super().close()


class RawBatchedLedgerPragmas(RawBatched):
    """(a') the same, with the WAL checkpoint interval the ledger uses for large
    batches (``PRAGMA wal_autocheckpoint``, ledger.store.sqlite_rows): the
    like-for-like limit."""

    def __init__(self, scratch: Scratch, units: Sequence[Any]) -> None:
        from ledger.store.sqlite_rows import WAL_PAGES_LARGE_BATCH

        super().__init__(scratch, units)
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_PAGES_LARGE_BATCH}")


class RawSingle(RawBatched):
    """(c) one row per BEGIN IMMEDIATE ... COMMIT; a unit is a block of rows."""

    def step(self, i: int) -> float:
        conn, start = self.conn, time.perf_counter()
        for row in self.units[i]:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(_RAW_INSERT, row)
            conn.execute("COMMIT")
        return time.perf_counter() - start


@functools.cache
def _catalogue() -> Any:
    from ledger.schema_files import load_catalogue

    return load_catalogue()


VARIANTS: dict[str, dict[str, bool]] = {
    "composed": {"catalogue": True, "project": True, "tree": True},
    "library": {"catalogue": False, "project": True, "tree": True},
    "core": {"catalogue": False, "project": False, "tree": True},
    "core_no_tree": {"catalogue": False, "project": False, "tree": False},
}
"""How the ledger is put together for each measure.

composed: as the CLI and the API build it (catalogue validation, projections, tree);
library: ``Ledger(store)`` with its defaults (no catalogue);
core: issue 2's scope only: canonicalize, hash, chain, durable commit, Merkle tree;
core_no_tree: the same without the tree, to price it.
"""


def make_ledger(store: Any, variant: str = "core") -> Ledger:
    """A ``Ledger`` for ``variant`` (see VARIANTS); a knob this Ledger lacks is an error,
    except ``project``, whose absence means the ledger does not project at all."""
    flags = VARIANTS[variant]
    accepted = inspect.signature(Ledger).parameters
    kwargs: dict[str, Any] = {"maintain_tree": flags["tree"]}
    if flags["catalogue"]:
        if "catalogue" not in accepted:
            raise RuntimeError("this Ledger takes no catalogue")
        kwargs["catalogue"] = _catalogue()
    if "project" in accepted:
        kwargs["project"] = flags["project"]
    return Ledger(store, **kwargs)


class LedgerBatched(Stepper):
    """(b) ``Ledger.append`` of 1,000 drafts built from the clients' JSON objects."""

    def __init__(
        self,
        scratch: Scratch,
        units: Sequence[Any],
        *,
        variant: str = "core",
        path: Path | None = None,
    ) -> None:
        super().__init__(scratch, f"ledger-{variant}", units)
        if path is not None:
            self.path = path
        self.store = open_store(self.path)
        self.ledger = make_ledger(self.store, variant)

    def step(self, i: int) -> float:
        start = time.perf_counter()
        self.ledger.append([draft_from_json(p) for p in self.units[i]], ACTOR)
        return time.perf_counter() - start

    def close(self) -> None:
        self.store.close()
        super().close()


class LedgerSingle(LedgerBatched):
    """(c) ``Ledger.append`` of one draft per call; a unit is a block of calls."""

    def step(self, i: int) -> float:
        ledger, start = self.ledger, time.perf_counter()
        for payload in self.units[i]:
            ledger.append([draft_from_json(payload)], ACTOR)
        return time.perf_counter() - start


def load_baseline(rev: str, into: Path) -> Any:
    """Git revision ``rev``'s ``ledger`` package, imported as ``ledger_baseline``.

    Same-run comparisons are the only fair ones on this machine (fsync latency
    moves by 10x within minutes), so the old code runs in this process beside
    the new, its imports renamed.
    """
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "ledger"], capture_output=True, check=True
    ).stdout
    target = into / "baseline-code"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    package = target / "ledger_baseline"
    (target / "ledger").rename(package)
    for source in package.rglob("*.py"):
        text = source.read_text()
        text = re.sub(r"\bfrom ledger([. ])", r"from ledger_baseline\1", text)
        source.write_text(re.sub(r"\bimport ledger\b", "import ledger_baseline", text))
    sys.path.insert(0, str(target))
    return importlib.import_module("ledger_baseline.service")


class BaselineSingle(Stepper):
    """(c) the core on the ``--baseline`` revision's code: one draft per call."""

    def __init__(self, scratch: Scratch, units: Sequence[Any], service: Any) -> None:
        super().__init__(scratch, "ledger-baseline", units)
        self.store = importlib.import_module("ledger_baseline.store").open_store(self.path)
        self.ledger = service.Ledger(self.store, project=False)
        self.draft = importlib.import_module("ledger_baseline.events").draft_from_json

    def step(self, i: int) -> float:
        ledger, draft, start = self.ledger, self.draft, time.perf_counter()
        for payload in self.units[i]:
            ledger.append([draft(payload)], ACTOR)
        return time.perf_counter() - start

    def close(self) -> None:
        self.store.close()
        super().close()


@functools.cache
def _result_log_class() -> type:
    """The aggregate, made once: eventsourcing registers each class under its topic."""
    from eventsourcing.domain import Aggregate, event

    class ResultLog(Aggregate):  # type: ignore[misc]
        """Test results of a model version; each ``record`` triggers one Recorded event."""

        @event("Recorded")
        def record(self, payload: dict[str, Any]) -> None:
            pass

    return ResultLog


class EventsourcingSave(Stepper):
    """(d) one aggregate triggers 1,000 events, then ``app.save(aggregate)``.

    The Application is configured with PERSISTENCE_MODULE=eventsourcing.sqlite and
    SQLITE_DBNAME=<file> (passed as its ``env``, which overrides os.environ), so the
    path is the library's own: domain event objects, its JSON transcoder, its
    SQLiteApplicationRecorder (WAL; SQLite's default synchronous, FULL in this build).
    """

    def __init__(self, scratch: Scratch, units: Sequence[Any]) -> None:
        from eventsourcing.application import Application

        super().__init__(scratch, "eventsourcing", units)
        self.app = Application(
            env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(self.path)}
        )
        self.log = _result_log_class()()
        self.app.save(self.log)

    def step(self, i: int) -> float:
        log, start = self.log, time.perf_counter()
        for payload in self.units[i]:
            log.record(payload)
        self.app.save(log)
        return time.perf_counter() - start

    def close(self) -> None:
        self.app.close()
        super().close()


class EventsourcingRecorder(Stepper):
    """Informational: ``recorder.insert_events`` of 1,000 pre-encoded StoredEvents whose
    state is the same canonical bytes the ledger stores (no domain objects, no transcoding)."""

    def __init__(self, scratch: Scratch, units: Sequence[Any]) -> None:
        from eventsourcing.persistence import StoredEvent
        from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

        super().__init__(scratch, "es-recorder", units)
        self.datastore = SQLiteDatastore(str(self.path))
        self.recorder = SQLiteApplicationRecorder(self.datastore)
        self.recorder.create_table()
        originator = uuid.uuid4()
        self.units = [
            [StoredEvent(originator, r[0], "bench:Recorded", r[9]) for r in unit] for unit in units
        ]

    def step(self, i: int) -> float:
        start = time.perf_counter()
        self.recorder.insert_events(self.units[i])
        return time.perf_counter() - start

    def close(self) -> None:
        self.datastore.close()
        super().close()


@dataclass
class Contender:
    """A system in an interleaved comparison: how to open it on fresh data."""

    result: Result
    open: Callable[[Sequence[Any]], Stepper]
    units: Sequence[Any]


def interleave(
    contenders: Sequence[Contender], runs: int, log: Callable[[str], None], warm_units: int = 2
) -> list[Result]:
    """Time the contenders unit by unit, taking turns (rotating who goes first).

    Every run opens each contender on a fresh file; unit ``i`` of every contender
    runs before unit ``i + 1`` of any, so all of them see the same background
    load and disk latency (this machine is shared; fsync latency moves by 10x).
    A warm-up run over the first ``warm_units`` units comes first and is discarded.
    """
    alive = list(contenders)
    for run in range(-1, runs):
        opened: list[tuple[Contender, Stepper]] = []
        for c in alive:
            try:
                opened.append((c, c.open(c.units if run >= 0 else c.units[:warm_units])))
            except Exception as exc:  # a broken contender must not hide the others
                c.result.failed = f"{type(exc).__name__}: {exc}"
                log(f"  {c.result.label}: FAILED to open: {c.result.failed}")
        totals = [0.0] * len(opened)
        failed: set[int] = set()
        n_units = min(len(s.units) for _, s in opened) if opened else 0
        for i in range(n_units):
            for k in range(len(opened)):
                j = (i + k) % len(opened)
                if j in failed:
                    continue
                c, stepper = opened[j]
                try:
                    totals[j] += stepper.step(i)
                except Exception as exc:
                    c.result.failed = f"{type(exc).__name__}: {exc}"
                    log(f"  {c.result.label}: FAILED: {c.result.failed}")
                    failed.add(j)
        for j, (c, stepper) in enumerate(opened):
            with contextlib.suppress(Exception):
                stepper.close()
            if run >= 0 and j not in failed:
                c.result.seconds.append(totals[j])
                log(
                    f"  run {run + 1}/{runs} {c.result.label}: "
                    f"{c.result.events / totals[j]:,.0f} events/s"
                )
        alive = [c for c in alive if c.result.failed is None]
    return [c.result for c in contenders]


def build(scratch: Scratch, payloads: Sequence[dict[str, Any]], path: Path) -> float:
    """Append ``payloads`` to the ledger at ``path`` 1,000 per call; keep the file."""
    stepper = LedgerBatched(scratch, list(batches(payloads)), path=path)
    seconds = sum(stepper.step(i) for i in range(len(stepper.units)))
    stepper.store.close()
    return seconds


def write_jsonl(path: Path, payloads: Sequence[dict[str, Any]]) -> None:
    with open(path, "wb") as out:
        for payload in payloads:
            out.write(orjson.dumps(payload) + b"\n")


def _cli() -> list[str]:
    exe = shutil.which("rollout-ledger", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "ledger"]


def cli_file(scratch: Scratch, jsonl: Path) -> float:
    """``rollout-ledger init`` (untimed), then time ``rollout-ledger append --file``."""
    path = scratch.path("cli-file")
    env = {**os.environ, "LEDGER_KEY_DIR": f"{path}.keys"}
    subprocess.run(
        [*_cli(), "--db", str(path), "init"], check=True, env=env, stdout=subprocess.DEVNULL
    )
    start = time.perf_counter()
    done = subprocess.run(
        [*_cli(), "--db", str(path), "append", "--file", str(jsonl)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seconds = time.perf_counter() - start
    scratch.drop(path)
    if done.returncode != 0:
        raise RuntimeError(f"exit {done.returncode}: {done.stderr.decode().strip()}")
    return seconds


def library_file(scratch: Scratch, jsonl: Path) -> float:
    """What ``append --file`` does, in-process: parse every line, one all-or-nothing append
    through a ledger composed as the CLI composes it."""
    from ledger.canonical import parse_json

    path = scratch.path("library-file")
    store = open_store(path)
    ledger = make_ledger(store, "composed")
    start = time.perf_counter()
    with open(jsonl, "rb") as source:
        drafts = [draft_from_json(parse_json(line)) for line in source if line.strip()]
    ledger.append(drafts, ACTOR)
    seconds = time.perf_counter() - start
    store.close()
    scratch.drop(path)
    return seconds


# ---- (d) eventsourcing -------------------------------------------------------------


# ---- (e) verify --------------------------------------------------------------------


def ledger_verify(path: Path) -> float:
    store = open_store(path)
    ledger = Ledger(store)
    start = time.perf_counter()
    report = ledger.verify()
    seconds = time.perf_counter() - start
    store.close()
    if not report.ok:
        raise RuntimeError(f"verify failed: {report}")
    return seconds


def ledger_verify_workers(path: Path, workers: int) -> float:
    """``verify_ledger`` over ``workers`` processes, in chunks small enough that a
    200k-event ledger is split (the library default only splits from 2^18 events)."""
    from ledger.verification import verify_ledger

    store = open_store(path)
    start = time.perf_counter()
    report, _ = verify_ledger(store, workers=workers, chunk=1 << 14, min_parallel=0)
    seconds = time.perf_counter() - start
    store.close()
    if not report.ok:
        raise RuntimeError(f"verify failed: {report}")
    return seconds


def raw_chained_sha256(path: Path) -> float:
    """The floor for verifying: stream (prev_hash, hash, body) in seq order from the same
    file; for each row check hex(SHA-256(body)) == hash and prev_hash == the previous
    row's hash (the link, since ``body`` holds prev_hash). No JSON, no Merkle tree."""
    conn = sqlite3.connect(path)
    start = time.perf_counter()
    prev = "0" * 64
    sha256 = hashlib.sha256
    cursor = conn.execute("SELECT prev_hash, hash, body FROM events ORDER BY seq")
    n = 0
    while rows := cursor.fetchmany(1000):
        for prev_hash, digest, body in rows:
            if prev_hash != prev or sha256(body).hexdigest() != digest:
                raise RuntimeError(f"raw chain broken at row {n + 1}")
            prev = digest
            n += 1
    seconds = time.perf_counter() - start
    conn.close()
    return seconds


_PEAK_WRAPPER = """
import atexit, sys
def _peak():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                sys.stderr.write("\\nBENCH_VMHWM_KB " + line.split()[1] + "\\n")
atexit.register(_peak)
import ledger.cli
if len(sys.argv) > 1:
    ledger.cli.main(sys.argv[1:])
"""


def run_cli_peak(args: list[str], env: dict[str, str] | None = None) -> tuple[float, int, int, str]:
    """Run ``rollout-ledger ARGS`` in a fresh interpreter; return (seconds, peak RSS in KiB,
    exit code, stderr). No args: just import the CLI (the baseline).

    The peak is the child's own VmHWM, printed from /proc/self/status at exit. Not
    ``ru_maxrss`` from wait4/RUSAGE_CHILDREN: on Linux a fork+exec child starts with the
    parent's high-water mark, and this parent holds 200k payloads, so that figure would
    be this script's size, not verify's.
    """
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_WRAPPER, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    seconds = time.perf_counter() - start
    err = done.stderr.decode()
    peak = [int(line.split()[1]) for line in err.splitlines() if line.startswith("BENCH_VMHWM_KB")]
    rest = "\n".join(x for x in err.splitlines() if not x.startswith("BENCH_VMHWM_KB")).strip()
    return seconds, peak[-1] if peak else -1, done.returncode, rest


# ---- profiling ---------------------------------------------------------------------


def profile(label: str, events: int, fn: Callable[[], Any], top: int = 14) -> str:
    """cProfile ``fn``; render the top functions by own time, in microseconds per event."""
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]  # type: ignore[attr-defined]
    lines = [
        f"{label}: {total / events * 1e6:.2f} µs/event under cProfile (own time, top {top})",
        f"  {'µs/event':>9} {'calls/event':>11}  function",
    ]
    for (file, line, name), (_cc, ncalls, tottime, _ct, _callers) in rows:
        where = f"{Path(file).name}:{line}" if line else file
        lines.append(f"  {tottime / events * 1e6:9.2f} {ncalls / events:11.2f}  {name} ({where})")
    return "\n".join(lines)


# ---- conditions --------------------------------------------------------------------


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _source_fingerprint() -> str:
    """SHA-256 (12 hex) over ledger/**/*.py and the newest file's time: which code was measured."""
    import ledger

    root = Path(ledger.__file__).parent
    files = sorted(root.rglob("*.py"))
    digest = hashlib.sha256()
    for f in files:
        digest.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    newest = max(f.stat().st_mtime for f in files)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(newest))
    return f"{digest.hexdigest()[:12]} ({len(files)} files, newest {stamp})"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def conditions(
    scratch: Scratch, payloads: Sequence[dict[str, Any]], rows: Sequence[tuple[Any, ...]]
) -> dict[str, Any]:
    lines = [len(orjson.dumps(p)) + 1 for p in payloads]
    datas = [len(orjson.dumps(p["data"], option=orjson.OPT_SORT_KEYS)) for p in payloads]
    bodies = [len(r[9]) for r in rows]
    slow = 0
    for p in payloads:
        try:
            slow += not _canonical._check(p["data"])  # the fast-path test canonical_bytes uses
        except Exception:  # a private helper; count the payload as slow if it changed
            slow += 1
    work = Path("/work")
    same_fs = work.exists() and os.stat(scratch.dir).st_dev == os.stat(work).st_dev
    probe = sqlite3.connect(":memory:")
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlite_compile": [
            o[0]
            for o in probe.execute("PRAGMA compile_options")
            if "SYNCHRONOUS" in o[0] or "THREADSAFE" in o[0]
        ],
        "packages": {
            n: _version(n)
            for n in ("rollout-ledger", "orjson", "rfc8785", "eventsourcing", "sqlite-utils")
        },
        "ledger_source": _source_fingerprint(),
        "scratch_dir": str(scratch.dir),
        "scratch_same_fs_as_work": same_fs,
        "event_type": TYPE,
        "subjects": len({p["subject"] for p in payloads}),
        "jsonl_line_bytes_mean": round(statistics.mean(lines), 1),
        "data_bytes_mean": round(statistics.mean(datas), 1),
        "stored_body_bytes_mean": round(statistics.mean(bodies), 1),
        "slow_path_share": round(slow / len(payloads), 4),
    }


# ---- the run -----------------------------------------------------------------------


def _build(
    scratch: Scratch,
    payloads_for: Callable[[int], list[dict[str, Any]]],
    n: int,
    stem: str,
    log: Callable[[str], None],
) -> Path:
    """A ledger of ``n`` events through the batched path, generated 100k at a time."""
    path = scratch.path(stem)
    store = open_store(path)
    ledger = make_ledger(store, "core")  # the stored events do not depend on the variant
    busy = 0.0
    done = 0
    while done < n:
        chunk = payloads_for(min(100_000, n - done))
        start = time.perf_counter()
        for part in batches(chunk):
            ledger.append([draft_from_json(p) for p in part], ACTOR)
        busy += time.perf_counter() - start
        done += len(chunk)
        log(f"  built {done:,}/{n:,} events ({done / busy:,.0f} appended/s)")
    store.close()
    return path


def run(args: argparse.Namespace) -> dict[str, Any]:
    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    n, n_single = args.events, args.single
    runs = 1 if args.runs is None and args.quick else (args.runs or RUNS)
    scratch = Scratch(Path(args.dir))
    log(f"generating {n:,} payloads ...")
    payloads = make_payloads(n)
    rows = sealed_rows(payloads)
    cond = conditions(scratch, payloads, rows)
    cond.update(events=n, single_events=n_single, runs=runs, batch=BATCH)
    results: dict[str, Result] = {}

    def add(r: Result) -> Result:
        results[r.key] = r
        return r

    loads: dict[str, str] = {"start": loadavg()}
    phases = set(args.only)
    cond["phases"] = sorted(phases)
    cond["variants"] = list(args.variants)
    if "batched" in phases:
        _batched(scratch, payloads, rows, runs, log, add, args.variants)
    if "file" in phases:
        loads["file"] = loadavg()
        _files(scratch, payloads, runs, log, add)
    if "single" in phases:
        loads["single"] = loadavg()
        _single(scratch, payloads, rows, n_single, runs, log, add, args.variants, args.baseline)
    profiles: list[str] = []
    if "verify" in phases:
        loads["verify"] = loadavg()
        profiles = _verify(scratch, payloads, runs, log, add, args.profile)
    loads["end"] = loadavg()
    cond["loadavg"] = loads
    rss: list[dict[str, Any]] = []
    base_kb = 0
    if "rss" in phases:
        base_kb, rss = _rss(scratch, args, log)
    shutil.rmtree(scratch.dir, ignore_errors=True)
    return {
        "conditions": cond,
        "results": {
            k: {**asdict(r), "median_s": r.median, "events_per_s": r.rate}
            for k, r in results.items()
        },
        "verify_rss": {"import_only_mib": round(base_kb / 1024, 1), "runs": rss},
        "ratios": ratios(results),
        "costs_us_per_event": costs(results),
        "profiles": profiles,
    }


_LABELS = {
    "composed": ("catalogue + projections + tree, as the CLI and API compose it"),
    "library": "Ledger(store) defaults: projections + tree, no catalogue",
    "core": "issue-2 core: canonical bytes, hash chain, durable commit, Merkle tree",
    "core_no_tree": "issue-2 core without the Merkle tree (prices the tree)",
}


def _batched(
    scratch: Scratch,
    payloads: Sequence[dict[str, Any]],
    rows: Sequence[tuple[Any, ...]],
    runs: int,
    log: Callable[[str], None],
    add: Callable[[Result], Result],
    variants: Sequence[str],
) -> None:
    n = len(payloads)
    log("(a), (b), (d): batched appends, interleaved batch by batch")
    row_units = list(batches(rows))
    payload_units = list(batches(payloads))
    labels = _LABELS
    ledger_contenders = [
        Contender(
            Result(f"batched_{v}", f"ledger append, 1,000/batch, {v}", n, note=labels[v]),
            lambda u, v=v: LedgerBatched(scratch, u, variant=v),
            payload_units,
        )
        for v in VARIANTS
        if v in variants
    ]
    for r in interleave(
        [
            Contender(
                Result("raw_batched", "raw sqlite3 executemany, 1,000/txn", n),
                lambda u: RawBatched(scratch, u),
                row_units,
            ),
            Contender(
                Result(
                    "raw_batched_ledger_pragmas",
                    "raw sqlite3 executemany, 1,000/txn, ledger's WAL checkpoint interval",
                    n,
                    note="informational: the like-for-like limit for the ledger's SQLite settings",
                ),
                lambda u: RawBatchedLedgerPragmas(scratch, u),
                row_units,
            ),
            *ledger_contenders,
            Contender(
                Result("eventsourcing", "eventsourcing Application.save, 1,000 events/save", n),
                lambda u: EventsourcingSave(scratch, u),
                payload_units,
            ),
            Contender(
                Result(
                    "eventsourcing_recorder",
                    "eventsourcing recorder.insert_events only, pre-encoded, 1,000/call",
                    n,
                    note="informational: no domain objects, no transcoding",
                ),
                lambda u: EventsourcingRecorder(scratch, u),
                row_units,
            ),
        ],
        runs,
        log,
    ):
        add(r)


def _files(
    scratch: Scratch,
    payloads: Sequence[dict[str, Any]],
    runs: int,
    log: Callable[[str], None],
    add: Callable[[Result], Result],
) -> None:
    n = len(payloads)
    log("(b) one JSONL file")
    jsonl = scratch.dir / "events.jsonl"
    write_jsonl(jsonl, payloads)
    file_cases = [
        Case(
            Result(
                "cli_file",
                f"rollout-ledger append --file ({n:,}-line JSONL)",
                n,
                note=f"time includes process start; MAX_BATCH is {MAX_BATCH:,}",
            ),
            lambda: cli_file(scratch, jsonl),
        ),
        Case(
            Result("library_file", f"library: parse the {n:,}-line file, one append", n),
            lambda: library_file(scratch, jsonl),
        ),
    ]
    if n > MAX_BATCH:  # the largest file the CLI accepts today, so there is a number either way
        capped = scratch.dir / "events-capped.jsonl"
        write_jsonl(capped, payloads[:MAX_BATCH])
        file_cases += [
            Case(
                Result(
                    "cli_file_capped",
                    f"rollout-ledger append --file ({MAX_BATCH:,} lines)",
                    MAX_BATCH,
                    note="time includes process start",
                ),
                lambda: cli_file(scratch, capped),
            ),
            Case(
                Result(
                    "library_file_capped",
                    f"library: parse a {MAX_BATCH:,}-line file, one append",
                    MAX_BATCH,
                ),
                lambda: library_file(scratch, capped),
            ),
        ]
    for r in measure(file_cases, runs, log):
        add(r)


def _single(
    scratch: Scratch,
    payloads: Sequence[dict[str, Any]],
    rows: Sequence[tuple[Any, ...]],
    n_single: int,
    runs: int,
    log: Callable[[str], None],
    add: Callable[[Result], Result],
    variants: Sequence[str],
    baseline: str | None = None,
) -> None:
    labels = _LABELS
    log("(c) single-event durable appends, interleaved 50 events at a time")
    block = 50
    single_units = list(batches(payloads[:n_single], block))
    single_row_units = list(batches(rows[:n_single], block))
    for r in interleave(
        [
            Contender(
                Result("raw_single", "raw sqlite3, 1 row per transaction", n_single),
                lambda u: RawSingle(scratch, u),
                single_row_units,
            ),
            *[
                Contender(
                    Result(
                        f"single_{v}",
                        f"ledger append, 1 event per call, {v}",
                        n_single,
                        note=labels[v],
                    ),
                    lambda u, v=v: LedgerSingle(scratch, u, variant=v),
                    single_units,
                )
                for v in ("composed", "core")
                if v in variants
            ],
            *_baseline_single(scratch, baseline, n_single, single_units),
        ],
        runs,
        log,
        warm_units=4,
    ):
        add(r)


def _baseline_single(
    scratch: Scratch, baseline: str | None, n_single: int, units: Sequence[Any]
) -> list[Contender]:
    if baseline is None:
        return []
    service = load_baseline(baseline, scratch.dir)

    def open_baseline(u: Sequence[Any]) -> Stepper:
        return BaselineSingle(scratch, u, service)

    result = Result(
        "single_core_baseline",
        f"ledger append, 1 event per call, core at {baseline}",
        n_single,
        note=f"git revision {baseline} ({_rev(baseline)}), same run",
    )
    return [Contender(result, open_baseline, units)]


def _rev(rev: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True, text=True
    )
    return done.stdout.strip() or "?"


def _verify(
    scratch: Scratch,
    payloads: Sequence[dict[str, Any]],
    runs: int,
    log: Callable[[str], None],
    add: Callable[[Result], Result],
    with_profile: bool,
) -> list[str]:
    n = len(payloads)
    log("(e) verify, interleaved rounds")
    kept = scratch.path("verify-source")
    build(scratch, payloads, kept)
    for r in measure(
        [
            Case(
                Result("ledger_verify", f"ledger verify ({n:,} events, in-process)", n),
                lambda: ledger_verify(kept),
                lambda: ledger_verify(kept),
            ),
            Case(
                Result("raw_sha", "raw chained SHA-256 over the stored bytes", n),
                lambda: raw_chained_sha256(kept),
                lambda: raw_chained_sha256(kept),
            ),
            Case(
                Result(
                    "ledger_verify_2w",
                    f"ledger verify ({n:,} events, 2 worker processes)",
                    n,
                    note="informational: chunks of 2^14 events, process start included",
                ),
                lambda: ledger_verify_workers(kept, 2),
                lambda: ledger_verify_workers(kept, 2),
            ),
        ],
        runs,
        log,
    ):
        add(r)

    profiles: list[str] = []
    if with_profile:
        log("profiling (cProfile) one batched append and one verify")
        path = scratch.path("profiled")
        profiles.append(
            profile("ledger append, 1,000/batch", n, lambda: build(scratch, payloads, path))
        )
        scratch.drop(path)
        profiles.append(profile("ledger verify", n, lambda: ledger_verify(kept)))
    scratch.drop(kept)
    return profiles


def _rss(
    scratch: Scratch, args: argparse.Namespace, log: Callable[[str], None]
) -> tuple[int, list[dict[str, Any]]]:
    log("verify memory: rollout-ledger verify in a child process")
    rss: list[dict[str, Any]] = []
    _, base_kb, _, _ = run_cli_peak([])
    sizes = [s for s in args.rss_sizes if not (args.skip_1m and s >= 1_000_000)]
    seeds = itertools.count(SEED + 1)
    for size in sizes:
        log(f"  building a {size:,}-event ledger (batched append)")
        path = _build(
            scratch, lambda k: make_payloads(k, seed=next(seeds)), size, f"rss-{size}", log
        )
        env = {**os.environ, "LEDGER_KEY_DIR": f"{path}.keys"}
        seconds, kb, code, err = run_cli_peak(["--db", str(path), "verify"], env=env)
        rss.append(
            {
                "events": size,
                "seconds": round(seconds, 2),
                "events_per_s": size / seconds,
                "peak_rss_mib": round(kb / 1024, 1),
                "exit": code,
                "stderr": err[-300:],
            }
        )
        log(f"  verify {size:,}: {seconds:.1f} s, peak RSS {kb / 1024:.1f} MiB, exit {code}")
        scratch.drop(path)
    return base_kb, rss


def costs(results: dict[str, Result]) -> dict[str, float]:
    """Microseconds per event of each measure, and the price of each ingredient."""

    def us(key: str) -> float:
        r = results.get(key)
        return 1e6 / r.rate if r is not None and r.failed is None else float("nan")

    out = {f"{k}_us": us(k) for k in results}
    out["catalogue_validation_us"] = us("batched_composed") - us("batched_library")
    out["projections_us"] = us("batched_library") - us("batched_core")
    out["merkle_tree_us"] = us("batched_core") - us("batched_core_no_tree")
    out["core_no_tree_over_raw_us"] = us("batched_core_no_tree") - us("raw_batched")
    return out


def ratios(results: dict[str, Result]) -> list[dict[str, Any]]:
    def rate(key: str) -> float:
        r = results.get(key)
        return r.rate if r is not None and r.failed is None else float("nan")

    checks = [
        ("batched composed / raw limit", "batched_composed", "raw_batched", "batched_vs_raw"),
        ("batched core / raw limit", "batched_core", "raw_batched", "batched_vs_raw"),
        (
            "batched composed / eventsourcing",
            "batched_composed",
            "eventsourcing",
            "batched_vs_eventsourcing",
        ),
        (
            "batched core / eventsourcing",
            "batched_core",
            "eventsourcing",
            "batched_vs_eventsourcing",
        ),
        ("single composed / raw single", "single_composed", "raw_single", "single_vs_raw_single"),
        ("single core / raw single", "single_core", "raw_single", "single_vs_raw_single"),
        ("single core at --baseline / raw single", "single_core_baseline", "raw_single", None),
        ("verify / raw chained SHA-256", "ledger_verify", "raw_sha", "verify_vs_raw_sha"),
        (
            "batched core / raw, ledger's checkpoint interval",
            "batched_core",
            "raw_batched_ledger_pragmas",
            None,
        ),
        ("verify, 2 workers / raw chained SHA-256", "ledger_verify_2w", "raw_sha", None),
        ("batched library / raw limit", "batched_library", "raw_batched", None),
        ("batched core, no tree / raw limit", "batched_core_no_tree", "raw_batched", None),
        ("file via CLI / raw limit", "cli_file", "raw_batched", None),
        ("file via library / raw limit", "library_file", "raw_batched", None),
        ("capped file via CLI / raw limit", "cli_file_capped", "raw_batched", None),
    ]
    out = []
    for label, num, den, target in checks:
        value = rate(num) / rate(den)
        goal = TARGETS.get(target) if target else None
        out.append(
            {
                "ratio": label,
                "value": value,
                "target": goal,
                "met": None if goal is None or value != value else value >= goal,
            }
        )
    return out


# ---- printing ----------------------------------------------------------------------


def render(report: dict[str, Any]) -> str:
    out = io.StringIO()
    c = report["conditions"]
    w = out.write
    w("== conditions ==\n")
    w(f"machine: {c['nproc']} CPUs ({c['cpus_usable']} usable), {c['cpu']}\n")
    w(f"python {c['python']}, SQLite {c['sqlite']} {' '.join(c['sqlite_compile'])}\n")
    w(f"packages: {', '.join(f'{k} {v}' for k, v in c['packages'].items())}\n")
    w(f"ledger source: {c['ledger_source']}\n")
    w(f"scratch: {c['scratch_dir']} (same filesystem as /work: {c['scratch_same_fs_as_work']})\n")
    w(
        f"events: {c['events']:,} {c['event_type']} over {c['subjects']} subjects; "
        f"JSONL line {c['jsonl_line_bytes_mean']:.0f} B, data {c['data_bytes_mean']:.0f} B, "
        f"stored body {c['stored_body_bytes_mean']:.0f} B (means); "
        f"{c['slow_path_share']:.1%} of payloads off the orjson fast path\n"
    )
    w(
        f"batches of {c['batch']:,}; single-event runs of {c['single_events']:,}; "
        f"median of {c['runs']} run(s) after a warm-up; appends interleaved unit by unit "
        "(a batch, or 50 single appends) across systems, file and verify runs in turn; "
        "WAL, synchronous=FULL everywhere\n"
    )
    w(
        f"load average (1/5/15 min) at each phase: "
        f"{'; '.join(f'{k} {v}' for k, v in c.get('loadavg', {}).items())}\n\n"
    )
    w("== events/s ==\n")
    for r in report["results"].values():
        value = f"FAILED: {r['failed']}" if r["failed"] else f"{r['events_per_s']:>12,.0f}"
        spread = ""
        if r["seconds"] and not r["failed"]:
            rates = sorted(r["events"] / s for s in r["seconds"])
            spread = f"  [{rates[0]:,.0f} .. {rates[-1]:,.0f}]" if len(rates) > 1 else ""
        w(f"{r['label']:<62} {value}{spread}\n")
        if r["note"]:
            w(f"{'':<4}({r['note']})\n")
    w("\n== ratios ==\n")
    for q in report["ratios"]:
        goal = f">= {q['target']:.2f}" if q["target"] is not None else ""
        met = {True: "met", False: "MISSED", None: ""}[q["met"]]
        w(f"{q['ratio']:<40} {q['value']:8.2f}  {goal:<8} {met}\n")
    k = report["costs_us_per_event"]
    nan = float("nan")
    w("\n== µs per event, batched (1e6 / median events/s; differences price each part) ==\n")
    w(
        f"raw limit {k.get('raw_batched_us', nan):.1f}; composed "
        f"{k.get('batched_composed_us', nan):.1f} = core without tree "
        f"{k.get('batched_core_no_tree_us', nan):.1f} + Merkle tree {k['merkle_tree_us']:.1f}"
        f" + projections {k['projections_us']:.1f} + catalogue validation "
        f"{k['catalogue_validation_us']:.1f}; core without tree is raw + "
        f"{k['core_no_tree_over_raw_us']:.1f}\n"
    )
    rss = report["verify_rss"]
    w(
        f"\n== verify memory (rollout-ledger verify, child process; import alone "
        f"{rss['import_only_mib']} MiB) ==\n"
    )
    for r in rss["runs"]:
        w(
            f"{r['events']:>10,} events: peak RSS {r['peak_rss_mib']:7.1f} MiB, "
            f"{r['seconds']:.1f} s ({r['events_per_s']:,.0f} events/s incl. start), "
            f"exit {r['exit']}" + (f" {r['stderr']}" if r["exit"] else "") + "\n"
        )
    for p in report["profiles"]:
        w("\n" + p + "\n")
    return out.getvalue()


PHASES = ("batched", "file", "single", "verify", "rss")


def _phases(text: str) -> list[str]:
    chosen = [p.strip() for p in text.split(",") if p.strip()]
    unknown = sorted(set(chosen) - set(PHASES))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown phase(s) {', '.join(unknown)}")
    return chosen


def _variants(text: str) -> list[str]:
    chosen = [v.strip() for v in text.split(",") if v.strip()]
    unknown = sorted(set(chosen) - set(VARIANTS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown variant(s) {', '.join(unknown)}")
    return chosen


def _sizes(text: str) -> list[int]:
    return [int(s.replace("_", "")) for s in text.split(",") if s.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help="events per batched measure (default 200,000; --quick: 20,000)",
    )
    parser.add_argument(
        "--single",
        type=int,
        default=None,
        help="events per single-append measure (default 2,000; --quick: 300)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smaller run: 20k events, 1 run each, RSS at 100k only",
    )
    parser.add_argument("--runs", type=int, default=None, help=f"timed runs each (default {RUNS})")
    parser.add_argument(
        "--rss-sizes",
        type=_sizes,
        default=None,
        help="ledger sizes for the verify memory check (default 100000,1000000)",
    )
    parser.add_argument("--skip-1m", action="store_true", help="skip the 1M-event verify check")
    parser.add_argument(
        "--variants",
        type=_variants,
        default=list(VARIANTS),
        help=f"ledger variants to append with (default all: {','.join(VARIANTS)})",
    )
    parser.add_argument(
        "--only",
        type=_phases,
        default=list(PHASES),
        help=f"comma-separated phases to run (default all: {','.join(PHASES)})",
    )
    parser.add_argument(
        "--store",
        default="sqlite",
        help="store to benchmark: 'sqlite' (default) or a sqlite:/// URL; "
        "a postgresql:// URL runs scripts/bench_append_postgres.py",
    )
    parser.add_argument(
        "--dir",
        default=None,
        help="scratch directory (default: the system temp dir, if it is on the "
        "same filesystem as the repository, else the repository's parent)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also cProfile one batched append and one verify (µs per event)",
    )
    parser.add_argument("--out-json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="REV",
        help="also measure single appends (core) on git revision REV's code, same run",
    )
    args = parser.parse_args(argv)

    store = args.store
    if store.startswith(("postgresql://", "postgres://")):
        # The PostgreSQL measures (issue 6) live in their own script; it takes the same flags.
        from bench_append_postgres import main as postgres_main

        return postgres_main(sys.argv[1:] if argv is None else list(argv))
    if not (store == "sqlite" or store.startswith("sqlite:")):
        parser.exit(
            2,
            f"error: --store {store!r}: only the embedded SQLite store is benchmarked "
            "so far; PostgreSQL is reserved for the PostgreSQL store's issue\n",
        )
    if store.startswith("sqlite:///") and args.dir is None:
        args.dir = store[len("sqlite:///") :] or None
    if args.dir is None:
        tmp = Path(tempfile.gettempdir())
        args.dir = str(tmp if os.stat(tmp).st_dev == os.stat(ROOT).st_dev else ROOT.parent)
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    args.events = args.events or (20_000 if args.quick else 200_000)
    args.single = args.single or (300 if args.quick else 2_000)
    if args.rss_sizes is None:
        args.rss_sizes = [100_000] if args.quick else [100_000, 1_000_000]

    report = run(args)
    text = render(report)
    print(text, end="")
    if args.out_json:
        args.out_json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
