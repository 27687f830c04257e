"""Benchmark the ledger's RFC 6962 Merkle tree at a million events (issue 3, "Speed").

Usage::

    python scripts/bench_merkle.py                      # 1,000,000 events, scratch files
    python scripts/bench_merkle.py --quick              # 100,000 events
    python scripts/bench_merkle.py --db /tmp/m.db       # build the tree ledger there and keep it
    python scripts/bench_merkle.py --db /tmp/m.db       # ... a second time: reuse it
    python scripts/bench_merkle.py --out-json m.json    # also write the numbers as JSON

One run measures, on the same machine:

1. Append cost of the tree. Two ledgers are built side by side from the same
   drafts, ``Ledger(maintain_tree=True, project=False)`` and
   ``Ledger(maintain_tree=False, project=False)``, in batches of 1,000 events,
   alternating chunks of 50,000 events between the two files (and the order
   within each pair of chunks), so both see the same load and file sizes.
   Only the ``append`` calls are timed. Extra cost = tree time / no-tree time - 1.
   With ``--db`` on an existing ledger the build is skipped and the comparison
   runs on fresh scratch files of ``--append-events`` events instead.
2. Proof latency over the tree ledger, reopened: 1,000 inclusion proofs at the
   head size, 1,000 at random tree sizes, 1,000 consistency proofs between
   random sizes and 1,000 roots at random sizes, each call timed alone
   (``Ledger.inclusion_proof`` etc., including the head query). A second,
   untimed pass counts the stored reads of each call: calls to
   ``store.merkle_nodes``, ids passed (and distinct ids), and SQL statements
   run on the store's connection (``sqlite3`` trace callback).
3. Root recomputation from scratch against the raw ``hashlib`` rate over the
   same messages (every leaf ``0x00 || body`` plus the ``n - 1`` interior
   ``0x01 || left || right``): ``leaf_hash`` + ``append_leaves`` over bodies in
   memory, the same streaming ``store.read()`` with no writes, and
   ``Ledger.rebuild_tree()`` (reads, hashes and rewrites every node).
4. A correctness guard, untimed: a reference root for every tree size used
   and the leaf hashes of every seq used are recomputed from the stored bodies
   by an independent stack-based RFC 6962 fold written here, and every proof
   from step 2 is checked with ``verify_inclusion`` / ``verify_consistency``
   against those roots (plus a few bit-flipped proofs that must fail).

Nothing here is a test: the numbers go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import math
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(ROOT))

import ledger  # noqa: E402
from ledger.errors import ProofInvalid  # noqa: E402
from ledger.events import EventDraft  # noqa: E402
from ledger.merkle import (  # noqa: E402
    append_leaves,
    consistency_node_ids,
    frontier_ids,
    inclusion_node_ids,
    leaf_hash,
    root_from_frontier,
    verify_consistency,
    verify_inclusion,
)
from ledger.service import Ledger  # noqa: E402
from ledger.store import open_store  # noqa: E402

__all__ = ["main"]

ACTOR = "pipeline:ci-bench"
TYPE = "test.result.recorded"
BATCH = 1_000
CHUNK = 50_000
PROOFS = 1_000
SEED = 20261126
TARGETS = {"append_extra": 0.20, "proof_median_ms": 5.0}

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
    "integration-smoke",
    "load-1k-rps",
    "drift-backtest",
]
_KINDS = ["evaluation", "fairness", "latency", "load", "shadow", "canary_analysis", "integration"]
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
_ENVS = ["staging", "prod", "eu-prod", "shadow"]
_DATASETS = ["transactions-holdout", "clicks-eval", "tickets-golden", "prices-backtest"]


def make_drafts(start: int, count: int) -> list[EventDraft]:
    """``count`` test.result.recorded drafts (seqs ``start + 1 ..``), deterministic per start.

    Shaped like the catalogue's example, ~450 canonical bytes of ``data``:
    3-5 metrics with 1-3 thresholds, evidence URI, environment, dataset,
    run and finish time.
    """
    rng = random.Random(SEED * 1_000_003 + start)
    out = []
    for i in range(start, start + count):
        m = rng.randrange(100)
        model = f"{_MODELS[m % 10]}-{m // 10:02d}"
        subject = f"model:{model}@{1 + m % 3}.{rng.randrange(10)}.{rng.randrange(7)}"
        names = rng.sample(_METRICS, rng.randint(3, 5))
        metrics: dict[str, float] = {}
        for name in names:
            if name.endswith("_ms"):
                metrics[name] = round(rng.uniform(4.0, 250.0), 3)
            elif name == "throughput_rps":
                metrics[name] = round(rng.uniform(200.0, 5000.0), 2)
            else:
                metrics[name] = round(rng.uniform(0.001, 0.999), 5)
        thresholds = {
            name: {"min": round(metrics[name] * 0.9, 3)}
            if rng.random() < 0.7
            else {"max": round(metrics[name] * 1.2, 3)}
            for name in names[: rng.randint(1, 3)]
        }
        run = rng.randrange(1, 999_999)
        day = 1 + i % 28
        data = {
            "suite": rng.choice(_SUITES),
            "kind": rng.choice(_KINDS),
            "passed": rng.random() < 0.9,
            "metrics": metrics,
            "thresholds": thresholds,
            "evidence_uri": f"https://ci.example.com/{model}/pipelines/{run}/reports/eval",
            "environment": rng.choice(_ENVS),
            "evaluated_on": f"dataset:{rng.choice(_DATASETS)}@2026-11-{day:02d}",
            "run": f"run:github-actions/{run}",
            "finished_at": f"2026-11-{day:02d}T{i % 24:02d}:{i % 60:02d}:{(i * 7) % 60:02d}Z",
        }
        out.append(
            EventDraft.create(
                TYPE,
                subject,
                data,
                id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                occurred_at=f"2026-11-{day:02d}T{i % 24:02d}:{i % 60:02d}:00.{i % 1000:03d}Z",
            )
        )
    return out


# ---- small helpers -----------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "n/a"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def drop_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def db_size(path: Path) -> int:
    return sum(os.path.getsize(f"{path}{s}") for s in ("", "-wal") if os.path.exists(f"{path}{s}"))


def event_count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT max(seq) FROM events").fetchone()
        return int(row[0] or 0)
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def iter_bodies(path: Path, batch: int = 10_000) -> Iterator[list[bytes]]:
    """Stored event bodies in seq order, straight from SQLite (checked to be contiguous)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cursor = conn.execute("SELECT seq, body FROM events ORDER BY seq")
        expect = 1
        while rows := cursor.fetchmany(batch):
            if rows[0][0] != expect or rows[-1][0] != expect + len(rows) - 1:
                raise RuntimeError(f"events are not contiguous near seq {expect}")
            expect += len(rows)
            yield [r[1] for r in rows]
    finally:
        conn.close()


# ---- 1. append with and without the tree ---------------------------------------------


@dataclass
class AppendRun:
    events: int = 0
    tree_s: list[float] = field(default_factory=list)  # per chunk
    plain_s: list[float] = field(default_factory=list)
    chunk_events: list[int] = field(default_factory=list)
    data_bytes: int = 0
    body_bytes: int = 0


def timed_appends(led: Ledger, drafts: Sequence[EventDraft]) -> float:
    total = 0.0
    for start in range(0, len(drafts), BATCH):
        batch = drafts[start : start + BATCH]
        t0 = time.perf_counter()
        led.append(batch, ACTOR)
        total += time.perf_counter() - t0
    return total


def build_pair(tree_path: Path, plain_path: Path, n: int, chunk: int) -> AppendRun:
    """Append the same ``n`` drafts to both ledgers, alternating chunks; time the appends."""
    tree_store, plain_store = open_store(tree_path), open_store(plain_path)
    tree = Ledger(tree_store, maintain_tree=True, project=False)
    plain = Ledger(plain_store, maintain_tree=False, project=False)
    run = AppendRun()
    t_start = time.perf_counter()
    for k, start in enumerate(range(0, n, chunk)):
        count = min(chunk, n - start)
        drafts = make_drafts(start, count)  # untimed: the client's side
        run.data_bytes += sum(len(d.data_bytes) for d in drafts)
        gc.collect()
        pair = [("tree", tree), ("plain", plain)]
        if k % 2:
            pair.reverse()  # ABBA: neither side always goes first
        got: dict[str, float] = {}
        for name, led in pair:
            got[name] = timed_appends(led, drafts)
        run.tree_s.append(got["tree"])
        run.plain_s.append(got["plain"])
        run.chunk_events.append(count)
        run.events += count
        done = start + count
        if k % 4 == 0 or done == n:
            eta = (time.perf_counter() - t_start) / done * (n - done)
            log(
                f"  {done:,}/{n:,}: chunk tree {count / got['tree']:,.0f} ev/s, "
                f"no tree {count / got['plain']:,.0f} ev/s, "
                f"extra {got['tree'] / got['plain'] - 1:+.1%} (eta {eta:.0f} s)"
            )
    conn = sqlite3.connect(tree_path)
    row = conn.execute("SELECT sum(length(body)) FROM events").fetchone()
    run.body_bytes = int(row[0] or 0)
    conn.close()
    tree_store.close()
    plain_store.close()
    return run


def append_summary(run: AppendRun) -> dict[str, Any]:
    tree, plain = sum(run.tree_s), sum(run.plain_s)
    ratios = [t / p - 1 for t, p in zip(run.tree_s, run.plain_s, strict=True)]
    return {
        "events": run.events,
        "chunks": len(run.chunk_events),
        "tree_s": tree,
        "plain_s": plain,
        "tree_events_per_s": run.events / tree,
        "plain_events_per_s": run.events / plain,
        "tree_us_per_event": 1e6 * tree / run.events,
        "plain_us_per_event": 1e6 * plain / run.events,
        "extra": tree / plain - 1,
        "extra_median_of_chunks": statistics.median(ratios),
        "extra_min": min(ratios),
        "extra_max": max(ratios),
        "extra_first_half": sum(run.tree_s[: len(ratios) // 2])
        / max(1e-9, sum(run.plain_s[: len(ratios) // 2]))
        - 1
        if len(ratios) > 1
        else float("nan"),
        "extra_second_half": sum(run.tree_s[len(ratios) // 2 :])
        / sum(run.plain_s[len(ratios) // 2 :])
        - 1,
    }


# ---- 4. the reference (independent) ----------------------------------------------------


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def reference(
    path: Path, sizes: set[int], seqs: set[int]
) -> tuple[dict[int, bytes], dict[int, bytes], int]:
    """Roots at ``sizes`` and leaf hashes of ``seqs``, from the stored bodies.

    Written from RFC 6962 2.1 without ``ledger.merkle``: a stack of perfect
    subtree roots, merged while the new size has trailing zero bits; the root
    at a size is the right fold of the stack.
    """
    roots: dict[int, bytes] = {}
    leaves: dict[int, bytes] = {}
    stack: list[bytes] = []
    size = 0
    if 0 in sizes:
        roots[0] = hashlib.sha256(b"").digest()
    for bodies in iter_bodies(path):
        for body in bodies:
            h = hashlib.sha256(b"\x00" + body).digest()
            size += 1
            if size in seqs:
                leaves[size] = h
            stack.append(h)
            k = size
            while not k & 1:
                right = stack.pop()
                stack.append(_node(stack.pop(), right))
                k >>= 1
            if size in sizes:
                acc = stack[-1]
                for left in reversed(stack[:-1]):
                    acc = _node(left, acc)
                roots[size] = acc
    return roots, leaves, size


# ---- 2. proofs ----------------------------------------------------------------------


@dataclass
class ProofKind:
    key: str
    label: str
    params: list[tuple[int, int]]
    call: Callable[[Ledger, int, int], Any]
    planned: Callable[[int, int], int]  # proof-plan ids (the O(log n) reads the plan needs)
    latencies_ms: list[float] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)
    store_calls: list[int] = field(default_factory=list)
    ids_passed: list[int] = field(default_factory=list)
    ids_distinct: list[int] = field(default_factory=list)
    sql: list[int] = field(default_factory=list)
    sql_merkle: list[int] = field(default_factory=list)
    path_len: list[int] = field(default_factory=list)


def proof_kinds(n: int, count: int) -> list[ProofKind]:
    rng = random.Random(SEED + 7)
    head = [(rng.randint(1, n), n) for _ in range(count)]
    at_size = []
    for _ in range(count):
        size = rng.randint(1, n)
        at_size.append((rng.randint(1, size), size))
    pairs = []
    for _ in range(count):
        a, b = rng.randint(1, n), rng.randint(1, n)
        pairs.append((min(a, b), max(a, b)))
    roots = [(rng.randint(1, n), 0) for _ in range(count)]
    return [
        ProofKind(
            "inclusion_head",
            "inclusion proof, random seq, head size",
            head,
            lambda led, seq, size: led.inclusion_proof(seq, size),
            lambda seq, size: len(inclusion_node_ids(seq - 1, size).node_ids),
        ),
        ProofKind(
            "inclusion_random",
            "inclusion proof, random seq <= random size",
            at_size,
            lambda led, seq, size: led.inclusion_proof(seq, size),
            lambda seq, size: len(inclusion_node_ids(seq - 1, size).node_ids),
        ),
        ProofKind(
            "consistency",
            "consistency proof, random first <= second",
            pairs,
            lambda led, first, second: led.consistency_proof(first, second),
            lambda first, second: len(consistency_node_ids(first, second).node_ids),
        ),
        ProofKind(
            "root",
            "root at a random size",
            roots,
            lambda led, size, _: led.root(size),
            lambda size, _: len(frontier_ids(size)),
        ),
    ]


def run_proofs(path: Path, kinds: Sequence[ProofKind]) -> None:
    store = open_store(path)
    led = Ledger(store, project=False)
    perf = time.perf_counter_ns
    try:
        # Timed pass: each call alone, kinds interleaved call by call.
        for kind in kinds:  # a few untimed warm-up calls each
            for a, b in kind.params[:10]:
                kind.call(led, a, b)
        gc.collect()
        gc.disable()
        try:
            for i in range(len(kinds[0].params)):
                for kind in kinds:
                    a, b = kind.params[i]
                    t0 = perf()
                    result = kind.call(led, a, b)
                    kind.latencies_ms.append((perf() - t0) / 1e6)
                    kind.results.append(result)
        finally:
            gc.enable()

        # Counting pass (untimed): wrap store.merkle_nodes and trace the SQL.
        calls: list[int] = []
        statements: list[str] = []
        original = store.merkle_nodes

        def counting(ids: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
            calls.append(len(ids))
            distinct.update(ids)
            return original(ids)

        distinct: set[tuple[int, int]] = set()
        store.merkle_nodes = counting  # type: ignore[method-assign]
        conn: sqlite3.Connection = store._conn  # type: ignore[attr-defined]
        conn.set_trace_callback(statements.append)
        try:
            for kind in kinds:
                for a, b in kind.params:
                    calls.clear()
                    statements.clear()
                    distinct.clear()
                    kind.call(led, a, b)
                    kind.store_calls.append(len(calls))
                    kind.ids_passed.append(sum(calls))
                    kind.ids_distinct.append(len(distinct))
                    kind.sql.append(len(statements))
                    kind.sql_merkle.append(
                        sum(
                            1
                            for s in statements
                            if "merkle_nodes" in s or s.startswith("SELECT body FROM events")
                        )
                    )
                    kind.path_len.append(kind.planned(a, b))
        finally:
            conn.set_trace_callback(None)
            del store.merkle_nodes
    finally:
        store.close()


def proof_summary(kind: ProofKind) -> dict[str, Any]:
    lat = kind.latencies_ms

    def spread(xs: list[int]) -> dict[str, float]:
        return {"median": statistics.median(xs), "mean": statistics.fmean(xs), "max": max(xs)}

    return {
        "label": kind.label,
        "count": len(lat),
        "median_ms": statistics.median(lat),
        "p99_ms": p99(lat),
        "max_ms": max(lat),
        "mean_ms": statistics.fmean(lat),
        "store_merkle_nodes_calls": spread(kind.store_calls),
        "ids_passed": spread(kind.ids_passed),
        "ids_distinct": spread(kind.ids_distinct),
        "plan_ids": spread(kind.path_len),
        "sql_statements": spread(kind.sql),
        "sql_node_reads": spread(kind.sql_merkle),
    }


def check_proofs(
    kinds: Sequence[ProofKind], roots: dict[int, bytes], leaves: dict[int, bytes]
) -> dict[str, int]:
    """Every proof must verify against the independent roots; tampered ones must not."""
    checked: dict[str, int] = {}
    rng = random.Random(SEED + 11)
    tampered_refused = 0
    tampered_tried = 0
    for kind in kinds:
        for (a, b), result in zip(kind.params, kind.results, strict=True):
            if kind.key.startswith("inclusion"):
                seq, size = a, b
                if result.leaf_hash != leaves[seq] or result.root_hash != roots[size]:
                    raise AssertionError(f"{kind.key} {seq}@{size}: leaf or root differs")
                verify_inclusion(leaves[seq], seq - 1, size, result.path, roots[size])
                result.verify()
                proof = list(result.path)
                if proof and rng.random() < 0.05:
                    i = rng.randrange(len(proof))
                    bad = bytearray(proof[i])
                    bad[rng.randrange(32)] ^= 1 << rng.randrange(8)
                    proof[i] = bytes(bad)
                    tampered_tried += 1
                    try:
                        verify_inclusion(leaves[seq], seq - 1, size, proof, roots[size])
                    except ProofInvalid:
                        tampered_refused += 1
            elif kind.key == "consistency":
                first, second = a, b
                if result.first_root != roots[first] or result.second_root != roots[second]:
                    raise AssertionError(f"consistency {first}->{second}: carried roots differ")
                verify_consistency(first, second, result.path, roots[first], roots[second])
                proof = list(result.path)
                if proof and rng.random() < 0.05:
                    i = rng.randrange(len(proof))
                    bad = bytearray(proof[i])
                    bad[rng.randrange(32)] ^= 1 << rng.randrange(8)
                    proof[i] = bytes(bad)
                    tampered_tried += 1
                    try:
                        verify_consistency(first, second, proof, roots[first], roots[second])
                    except ProofInvalid:
                        tampered_refused += 1
            else:
                if result != roots[a]:
                    raise AssertionError(f"root at size {a} differs from the reference")
            checked[kind.key] = checked.get(kind.key, 0) + 1
    if tampered_refused != tampered_tried:
        raise AssertionError(f"{tampered_tried - tampered_refused} tampered proofs verified")
    checked["tampered_refused"] = tampered_refused
    return checked


# ---- 3. recomputation ---------------------------------------------------------------


def load_bodies(path: Path) -> list[bytes]:
    out: list[bytes] = []
    for bodies in iter_bodies(path):
        out += bodies
    return out


def recompute_in_memory(bodies: Sequence[bytes]) -> bytes:
    """The product's hashing path over bodies in memory, in rebuild's 4,096-leaf steps."""
    frontier: list[bytes] = []
    size = 0
    for start in range(0, len(bodies), 4096):
        step = append_leaves(frontier, size, [leaf_hash(b) for b in bodies[start : start + 4096]])
        frontier, size = step.frontier, step.size
    return root_from_frontier(frontier)


def recompute_streaming(path: Path) -> bytes:
    """As rebuild_tree, but without writing: store.read() + leaf_hash + append_leaves."""
    store = open_store(path)
    try:
        frontier: list[bytes] = []
        size = 0
        batch: list[bytes] = []
        for event in store.read():
            batch.append(leaf_hash(event.body))
            if len(batch) == 4096:
                step = append_leaves(frontier, size, batch)
                frontier, size, batch = step.frontier, step.size, []
        if batch:
            frontier = append_leaves(frontier, size, batch).frontier
        return root_from_frontier(frontier)
    finally:
        store.close()


def raw_hashlib(leaf_msgs: Sequence[bytes], node_msgs: Sequence[bytes]) -> None:
    sha = hashlib.sha256
    for m in leaf_msgs:
        sha(m).digest()
    for m in node_msgs:
        sha(m).digest()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def in_memory_rates(
    path: Path, n: int, root: bytes, runs: int
) -> tuple[dict[str, Any], list[float], list[float], list[float], float]:
    """Time the product's hashing path and raw hashlib over the same messages, interleaved."""
    bodies = load_bodies(path)
    leaf_msgs = [b"\x00" + b for b in bodies]
    # n - 1 interior messages of the real shape (0x01 || 32 || 32 bytes).
    pool = [leaf_hash(b) for b in bodies[:4096]]
    node_msgs = [b"\x01" + pool[i % 4096] + pool[(i * 7 + 1) % 4096] for i in range(n - 1)]
    blob = b"".join(leaf_msgs)
    rec: dict[str, Any] = {
        "leaves": n,
        "node_hashes": n - 1,
        "leaf_bytes": len(blob),
        "hashed_bytes": len(blob) + 65 * len(node_msgs),
    }
    mem_s: list[float] = []
    raw_s: list[float] = []
    bulk_s: list[float] = []
    for i in range(runs):
        sec, got = timed(lambda: recompute_in_memory(bodies))
        if got != root:
            raise AssertionError("in-memory recomputation gives another root")
        mem_s.append(sec)
        sec, _ = timed(lambda: raw_hashlib(leaf_msgs, node_msgs))
        raw_s.append(sec)
        sec, _ = timed(lambda: hashlib.sha256(blob).digest())
        bulk_s.append(sec)
        log(
            f"  run {i + 1}/{runs}: leaf_hash+append_leaves {n / mem_s[-1]:,.0f} "
            f"leaves/s, raw hashlib {n / raw_s[-1]:,.0f} leaves/s"
        )
    return rec, mem_s, raw_s, bulk_s, len(blob) / n - 1


def rebuild(path: Path) -> bytes:
    store = open_store(path)
    try:
        return Ledger(store, project=False).rebuild_tree()
    finally:
        store.close()


# ---- the run -----------------------------------------------------------------------


def conditions(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    probe = sqlite3.connect(":memory:")
    compile_opts = [r[0] for r in probe.execute("PRAGMA compile_options")]
    probe.close()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count() or 0
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": usable,
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "python_impl": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "sqlite_threadsafe": [o for o in compile_opts if o.startswith("THREADSAFE")],
        "openssl": __import__("ssl").OPENSSL_VERSION,
        "ledger_package": str(Path(ledger.__file__).parent),
        "scratch": str(scratch),
        "events": args.events,
        "batch": BATCH,
        "chunk": args.chunk,
        "proofs": args.proofs,
        "seed": SEED,
        "storage": "SQLite WAL, synchronous=FULL (the store's settings), project=False, "
        "no catalogue",
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    base = Path(args.dir) if args.dir else Path(tempfile.gettempdir())
    scratch = Path(tempfile.mkdtemp(prefix="bench-merkle-", dir=base))
    report: dict[str, Any] = {"conditions": conditions(args, scratch), "loadavg": {}}
    cond = report["conditions"]
    report["loadavg"]["start"] = loadavg()
    try:
        # ---- 1. build, timing appends with and without the tree ----
        reuse = args.db is not None and Path(args.db).exists() and event_count(Path(args.db)) > 0
        if reuse:
            tree_path = Path(args.db)
            n = event_count(tree_path)
            cond["events"] = n
            cond["reused_db"] = str(tree_path)
            log(f"reusing {tree_path} ({n:,} events); append comparison on scratch files")
            m = min(args.append_events, n)
            cond["append_events"] = m
            append_run = build_pair(scratch / "tree.db", scratch / "plain.db", m, args.chunk)
            report["append"] = append_summary(append_run)
            cond["data_bytes_mean"] = append_run.data_bytes / m
            drop_db(scratch / "tree.db")
            drop_db(scratch / "plain.db")
            store = open_store(tree_path)
            try:
                if store.merkle_node_count() == 0:
                    log("  the reused ledger has no Merkle nodes: rebuilding them first")
                    Ledger(store, project=False).rebuild_tree()
            finally:
                store.close()
        else:
            n = args.events
            tree_path = Path(args.db) if args.db else scratch / "tree.db"
            plain_path = scratch / "plain.db"
            cond["append_events"] = n
            log(f"1. building two {n:,}-event ledgers (tree: {tree_path}), {BATCH:,}/append")
            append_run = build_pair(tree_path, plain_path, n, args.chunk)
            report["append"] = append_summary(append_run)
            cond["data_bytes_mean"] = append_run.data_bytes / n
            cond["db_bytes_tree"] = db_size(tree_path)
            cond["db_bytes_no_tree"] = db_size(plain_path)
            drop_db(plain_path)
        report["loadavg"]["after_build"] = loadavg()
        a = report["append"]
        log(
            f"  extra cost of the tree: {a['extra']:+.1%} "
            f"({a['tree_us_per_event']:.1f} vs {a['plain_us_per_event']:.1f} µs/event)"
        )

        # ---- 4 (setup). independent reference roots and leaves ----
        kinds = proof_kinds(n, args.proofs)
        sizes: set[int] = {n}
        seqs: set[int] = set()
        for kind in kinds:
            for x, y in kind.params:
                if kind.key.startswith("inclusion"):
                    seqs.add(x)
                    sizes.add(y)
                elif kind.key == "consistency":
                    sizes.update((x, y))
                else:
                    sizes.add(x)
        log(
            f"4. reference: independent RFC 6962 fold over the stored bodies ({len(sizes):,} sizes)"
        )
        t0 = time.perf_counter()
        roots, leaves, stored_n = reference(tree_path, sizes, seqs)
        if stored_n != n:
            raise RuntimeError(f"the ledger has {stored_n} contiguous events, expected {n}")
        log(f"  done in {time.perf_counter() - t0:.1f} s")

        # ---- 2. proofs ----
        log(f"2. proofs: {args.proofs:,} of each kind, timed one by one, then counted")
        run_proofs(tree_path, kinds)
        report["loadavg"]["after_proofs"] = loadavg()
        report["proofs"] = {k.key: proof_summary(k) for k in kinds}
        for k in kinds:
            s = report["proofs"][k.key]
            log(
                f"  {k.label}: median {s['median_ms']:.3f} ms, p99 {s['p99_ms']:.3f} ms, "
                f"{s['ids_passed']['median']:.0f} ids, {s['sql_statements']['median']:.0f} SQL"
            )

        # ---- 4. correctness guard ----
        checked = check_proofs(kinds, roots, leaves)
        report["verified"] = checked
        log(f"  verified: {checked}")
        for k in kinds:
            k.results.clear()

        # ---- 3. recomputation from scratch ----
        log("3. root recomputation from scratch")
        rec, mem_s, raw_s, bulk_s, body_mean = in_memory_rates(tree_path, n, roots[n], args.runs)
        cond["body_bytes_mean"] = body_mean
        stream_s: list[float] = []
        rebuild_s: list[float] = []
        for i in range(args.rebuild_runs):
            sec, got = timed(lambda: recompute_streaming(tree_path))
            if got != roots[n]:
                raise AssertionError("streaming recomputation gives another root")
            stream_s.append(sec)
            sec, got = timed(lambda: rebuild(tree_path))
            if got != roots[n]:
                raise AssertionError("rebuild_tree gives another root")
            rebuild_s.append(sec)
            log(
                f"  run {i + 1}/{args.rebuild_runs}: store.read+hash {n / stream_s[-1]:,.0f} "
                f"leaves/s, rebuild_tree {n / rebuild_s[-1]:,.0f} leaves/s"
            )
        # After the rebuild the stored tree must still give the reference roots.
        store = open_store(tree_path)
        try:
            led = Ledger(store, project=False)
            for size in random.Random(SEED + 13).sample(sorted(sizes), min(200, len(sizes))):
                if led.root(size) != roots[size]:
                    raise AssertionError(f"after rebuild, root({size}) differs")
        finally:
            store.close()
        raw = statistics.median(raw_s)
        for key, secs in (
            ("raw_hashlib", raw_s),
            ("in_memory", mem_s),
            ("streaming", stream_s),
            ("rebuild_tree", rebuild_s),
        ):
            med = statistics.median(secs)
            rec[key] = {
                "seconds": secs,
                "median_s": med,
                "leaves_per_s": n / med,
                "vs_raw": raw / med,
            }
        rec["bulk_sha256_MB_per_s"] = rec["leaf_bytes"] / 1e6 / statistics.median(bulk_s)
        rec["raw_hashlib_MB_per_s"] = rec["hashed_bytes"] / 1e6 / raw
        report["recompute"] = rec
        report["loadavg"]["end"] = loadavg()
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return report


# ---- printing -----------------------------------------------------------------------


def render(report: dict[str, Any]) -> str:
    c = report["conditions"]
    a = report["append"]
    p = report["proofs"]
    r = report["recompute"]
    lines: list[str] = []
    w = lines.append
    w("== conditions ==")
    w(f"machine: nproc {c['nproc']} ({c['cpus_usable']} usable), {c['cpu']}, {c['platform']}")
    w(f"Python {c['python']}, SQLite {c['sqlite']}, {c['openssl']}")
    w(f"ledger package: {c['ledger_package']}")
    w(
        f"N = {c['events']:,} events of {TYPE}; "
        f"data {c.get('data_bytes_mean', float('nan')):.0f} B, "
        f"stored body {c.get('body_bytes_mean', float('nan')):.0f} B (means); "
        f"appends of {c['batch']:,}, chunks of {c['chunk']:,} alternating ABBA"
        + (f"; append comparison over {c['append_events']:,} events" if c.get("reused_db") else "")
    )
    w(f"storage: {c['storage']}; scratch {c['scratch']}")
    if "db_bytes_tree" in c:
        w(
            f"file sizes: with tree {c['db_bytes_tree'] / 1e6:,.0f} MB, "
            f"without {c['db_bytes_no_tree'] / 1e6:,.0f} MB"
        )
    w("load average (1/5/15 min): " + "; ".join(f"{k} {v}" for k, v in report["loadavg"].items()))
    w("")
    w("== 1. append, 1,000 events per call ==")
    w(
        f"with tree    {a['tree_events_per_s']:>10,.0f} events/s  "
        f"{a['tree_us_per_event']:6.1f} µs/event"
    )
    w(
        f"without tree {a['plain_events_per_s']:>10,.0f} events/s  "
        f"{a['plain_us_per_event']:6.1f} µs/event"
    )
    w(
        f"extra cost of the tree {a['extra']:+.1%} (target <= +{TARGETS['append_extra']:.0%}); "
        f"per chunk pair median {a['extra_median_of_chunks']:+.1%}, "
        f"range {a['extra_min']:+.1%} .. {a['extra_max']:+.1%}; "
        f"first half {a['extra_first_half']:+.1%}, second half {a['extra_second_half']:+.1%}"
    )
    hashing_us = 1e6 / r["in_memory"]["leaves_per_s"]
    extra_us = a["tree_us_per_event"] - a["plain_us_per_event"]
    if extra_us > hashing_us:
        w(
            f"the tree's {extra_us:.2f} µs/event: ~{hashing_us:.2f} hashing (leaf_hash + "
            f"append_leaves at the in-memory rate of section 3), ~{extra_us - hashing_us:.2f} "
            "the rest (merkle_nodes inserts, their WAL pages, bookkeeping)"
        )
    else:
        w(
            f"the tree's {extra_us:.2f} µs/event is below its hashing alone ({hashing_us:.2f} "
            "µs/event at the in-memory rate of section 3): within the run-to-run noise"
        )
    w("")
    w(f"== 2. proofs at N = {c['events']:,} ({c['proofs']:,} each) ==")
    w(
        f"{'':<44} {'median':>8} {'p99':>8} {'max':>8}   reads: merkle_nodes calls / ids "
        "(distinct) / plan ids / SQL (node+leaf) -- medians [max]"
    )
    for s in p.values():
        calls, ids, dist = s["store_merkle_nodes_calls"], s["ids_passed"], s["ids_distinct"]
        plan, sql, sqln = s["plan_ids"], s["sql_statements"], s["sql_node_reads"]
        w(
            f"{s['label']:<44} {s['median_ms']:6.3f}ms {s['p99_ms']:6.3f}ms {s['max_ms']:6.3f}ms"
            f"   {calls['median']:.0f} / {ids['median']:.0f} [{ids['max']}] "
            f"({dist['median']:.0f} [{dist['max']}]) / {plan['median']:.0f} [{plan['max']}] / "
            f"{sql['median']:.0f} [{sql['max']}] ({sqln['median']:.0f})"
        )
    w(f"verified: {report['verified']}")
    w("")
    w(f"== 3. root recomputation over {r['leaves']:,} leaves + {r['node_hashes']:,} nodes ==")
    for key, label in (
        ("raw_hashlib", "raw hashlib over the same messages"),
        ("in_memory", "leaf_hash + append_leaves, bodies in memory"),
        ("streaming", "store.read() + leaf_hash + append_leaves"),
        ("rebuild_tree", "Ledger.rebuild_tree() (read, hash, rewrite)"),
    ):
        x = r[key]
        w(
            f"{label:<46} {x['leaves_per_s']:>12,.0f} leaves/s  {x['median_s']:7.2f} s  "
            f"x{x['vs_raw']:.2f} of raw"
        )
    w(
        f"(raw hashlib {r['raw_hashlib_MB_per_s']:,.0f} MB/s "
        f"over {r['hashed_bytes'] / 1e6:,.0f} MB; one sha256 call over the leaf bytes alone: "
        f"{r['bulk_sha256_MB_per_s']:,.0f} MB/s)"
    )
    w("")
    w("== summary (measure | value | target | met?) ==")
    for row in summary_rows(report):
        w(" | ".join(row))
    return "\n".join(lines) + "\n"


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    a, p, r = report["append"], report["proofs"], report["recompute"]
    rows = [
        (
            "append extra cost with tree (1,000/batch)",
            f"{a['extra']:+.1%}",
            f"<= +{TARGETS['append_extra']:.0%}",
            "yes" if a["extra"] <= TARGETS["append_extra"] else "NO",
        )
    ]
    for s in p.values():
        met = s["median_ms"] < TARGETS["proof_median_ms"]
        rows.append(
            (
                f"{s['label']}: median / p99",
                f"{s['median_ms']:.2f} / {s['p99_ms']:.2f} ms",
                f"< {TARGETS['proof_median_ms']:.0f} ms median",
                "yes" if met else "NO",
            )
        )
        rows.append(
            (
                f"{s['label']}: stored reads",
                f"{s['store_merkle_nodes_calls']['median']:.0f} call, "
                f"{s['ids_passed']['median']:.0f} ids (max {s['ids_passed']['max']}), "
                f"{s['sql_statements']['median']:.0f} SQL (max {s['sql_statements']['max']})",
                "O(log n)",
                "yes"
                if s["ids_passed"]["max"] <= 4 * max(1, report["conditions"]["events"]).bit_length()
                else "NO",
            )
        )
    for key, label in (("in_memory", "in memory"), ("rebuild_tree", "rebuild_tree()")):
        x = r[key]
        rows.append(
            (
                f"root recomputation, {label}",
                f"{x['leaves_per_s']:,.0f} leaves/s = x{x['vs_raw']:.2f} of raw hashlib "
                f"({r['raw_hashlib']['leaves_per_s']:,.0f}/s)",
                "reported",
                "-",
            )
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=None, help="ledger size (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="100,000 events")
    parser.add_argument(
        "--db",
        default=None,
        help="the tree ledger's file: reused if it holds events, else built there and kept",
    )
    parser.add_argument(
        "--append-events",
        type=int,
        default=200_000,
        help="with a reused --db: events per ledger for the append comparison (default 200,000)",
    )
    parser.add_argument("--chunk", type=int, default=None, help="events per alternating chunk")
    parser.add_argument("--proofs", type=int, default=PROOFS, help="proofs of each kind")
    parser.add_argument("--runs", type=int, default=3, help="in-memory recomputation runs")
    parser.add_argument("--rebuild-runs", type=int, default=1, help="rebuild_tree runs")
    parser.add_argument("--dir", default=None, help="scratch directory (default: system temp)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--out-json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    args.events = args.events or (100_000 if args.quick else 1_000_000)
    if args.chunk is None:
        args.chunk = max(BATCH, min(CHUNK, args.events // 10 // BATCH * BATCH))
    report = run(args)
    print(render(report), end="")
    if args.out_json:
        args.out_json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
