"""Benchmark appends on the PostgreSQL store against raw COPY/executemany (issue 6, "Speed").

Usage::

    python scripts/bench_append.py --store postgresql://postgres@127.0.0.1:5432/test
    python scripts/bench_append_postgres.py --store postgresql://… --quick
    python scripts/bench_append_postgres.py --store postgresql://… --profile

One run measures, against one PostgreSQL server, each system on a fresh
schema of its own (created and dropped by the run; the URL's own search_path
is ignored):

(a) the limits: the very rows the ledger stores (same columns, same canonical
    bytes, pre-encoded, untimed) into a bare ``events`` table with the indexes
    issue 6 names (seq primary key, unique id, subject, type; the ledger has
    one more, on occurred_at, for time-window queries), 1,000 rows per
    transaction, by binary ``COPY`` and by ``executemany`` (which psycopg 3
    pipelines: one round trip for the batch);
(b) ``Ledger.append`` in batches of 1,000 from the clients' JSON objects, as
    issue 2's core (canonical bytes, chain, Merkle tree, durable commit; no
    projections, no catalogue) and as the CLI/API compose it (catalogue,
    projections and policy, tree);
(c) one event per durable transaction: the ledger against a raw one-row
    ``INSERT`` in autocommit (one round trip, one WAL flush);
(d) 4 writer processes appending at once, each with its own store (so its own
    connections) and turning its clients' JSON into drafts as (b) does,
    100 events per call and one per call, against 1 process doing the same
    work in the same run; afterwards ``Ledger.verify`` must find a gapless,
    unforked chain of exactly the events appended.

``synchronous_commit`` is ``on`` for every connection (the store forces it;
the raw contenders set it). Appends are timed unit by unit in turns across the
systems compared (bench_append.interleave), after a warm-up; the median run
is reported. Nothing here is a test: the numbers go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
for _p in (str(ROOT), str(ROOT / "scripts")):
    if _p not in sys.path:  # run from a checkout without installing the package
        sys.path.insert(0, _p)

import psycopg  # noqa: E402
from bench_append import (  # noqa: E402
    ACTOR,
    BATCH,
    Contender,
    Result,
    _source_fingerprint,
    _version,
    batches,
    interleave,
    loadavg,
    make_ledger,
    make_payloads,
    profile,
    sealed_rows,
)
from psycopg import sql  # noqa: E402

from ledger.events import draft_from_json  # noqa: E402
from ledger.store import open_store  # noqa: E402

__all__ = ["main"]

RUNS = 3
TARGET_BATCHED_VS_COPY = 0.40
COLUMNS = "seq, id, type, subject, actor, occurred_at, recorded_at, prev_hash, hash, body"
_TYPES = ["int8", "text", "text", "text", "text", "text", "text", "text", "text", "bytea"]
_RAW_SCHEMA = [
    """CREATE TABLE events (
        seq BIGINT PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
        subject TEXT NOT NULL, actor TEXT NOT NULL, occurred_at TEXT NOT NULL,
        recorded_at TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
        body BYTEA NOT NULL)""",
    "CREATE INDEX events_subject ON events (subject)",
    "CREATE INDEX events_type ON events (type)",
]
_INSERT = f"INSERT INTO events ({COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%b)"


# ---- schemas ---------------------------------------------------------------------


def with_search_path(url: str, schema: str) -> str:
    """``url`` with libpq's ``options=-csearch_path=<schema>`` (replacing any options)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


class Schemas:
    """Fresh schemas on the server, each dropped (CASCADE) when its user closes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = f"bench_pg_{uuid.uuid4().hex[:8]}"
        self._n = 0

    def create(self) -> tuple[str, str]:
        """(schema, URL whose search_path is that schema)."""
        self._n += 1
        name = f"{self.prefix}_{self._n:03d}"
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        return name, with_search_path(self.url, name)

    def drop(self, name: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))

    def drop_leftovers(self) -> None:
        """Drop every schema this run made (after a crash half-way, say)."""
        with psycopg.connect(self.url, autocommit=True) as admin:
            names = [
                r[0]
                for r in admin.execute(
                    "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s",
                    (self.prefix + "%",),
                )
            ]
            for name in names:
                admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))

    @contextmanager
    def fresh(self) -> Iterator[str]:
        name, url = self.create()
        try:
            yield url
        finally:
            self.drop(name)


# ---- steppers: one system appending, one unit of work at a time -------------------


class PgStepper:
    """One system under test on a fresh schema; ``step(i)`` appends unit ``i``, timed."""

    def __init__(self, schemas: Schemas, units: Sequence[Any]) -> None:
        self.schemas = schemas
        self.schema, self.url = schemas.create()
        self.units = units

    def step(self, i: int) -> float:
        raise NotImplementedError

    def close(self) -> None:
        self.schemas.drop(self.schema)


class RawTable(PgStepper):
    """A bare events table on one connection, ``synchronous_commit = on``."""

    def __init__(self, schemas: Schemas, units: Sequence[Any]) -> None:
        super().__init__(schemas, units)
        self.conn = psycopg.connect(self.url, autocommit=True)
        self.conn.execute("SET synchronous_commit = on")
        for statement in _RAW_SCHEMA:
            self.conn.execute(statement)

    def close(self) -> None:
        self.conn.close()
        super().close()


class RawCopy(RawTable):
    """(a) binary COPY of 1,000 pre-encoded rows in one transaction."""

    def step(self, i: int) -> float:
        conn, start = self.conn, time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor().copy(f"COPY events ({COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(_TYPES)
            for row in self.units[i]:
                copy.write_row(row)
        return time.perf_counter() - start


class RawExecutemany(RawTable):
    """(a) ``executemany`` (pipelined by psycopg) of 1,000 pre-encoded rows in one transaction."""

    def step(self, i: int) -> float:
        conn, start = self.conn, time.perf_counter()
        with conn.transaction():
            conn.cursor().executemany(_INSERT, self.units[i])
        return time.perf_counter() - start


class RawSingle(RawTable):
    """(c) one autocommit INSERT per row; a unit is a block of rows."""

    def step(self, i: int) -> float:
        conn, start = self.conn, time.perf_counter()
        for row in self.units[i]:
            conn.execute(_INSERT, row)
        return time.perf_counter() - start


class LedgerBatched(PgStepper):
    """(b) ``Ledger.append`` of 1,000 drafts built from the clients' JSON objects."""

    def __init__(self, schemas: Schemas, units: Sequence[Any], variant: str) -> None:
        super().__init__(schemas, units)
        self.store = open_store(self.url)
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


# ---- (d) concurrent writer processes -----------------------------------------------


def _writer(
    url: str,
    variant: str,
    payloads: list[dict[str, Any]],
    batch: int,
    go: Any,
    out: Any,
) -> None:
    """One writer process: open its own store, wait for the start signal, append, report."""
    store = open_store(url)
    ledger = make_ledger(store, variant)
    units = list(batches(payloads, batch))
    go.wait()
    start = time.time()
    # As a real client: JSON to drafts (outside the append lock), then the append.
    for part in units:
        ledger.append([draft_from_json(p) for p in part], ACTOR)
    out.put((start, time.time()))
    store.close()


def writers_run(
    schemas: Schemas, payloads: list[dict[str, Any]], processes: int, batch: int, variant: str
) -> tuple[float, str]:
    """Seconds for ``processes`` writers to append ``payloads`` (split evenly) on one fresh
    ledger, from the first start to the last end; and the verify verdict afterwards."""
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    share = len(payloads) // processes
    with schemas.fresh() as url:
        open_store(url).close()  # migrate once, outside the timed part
        procs = [
            ctx.Process(
                target=_writer,
                args=(url, variant, payloads[k * share : (k + 1) * share], batch, go, out),
            )
            for k in range(processes)
        ]
        for p in procs:
            p.start()
        time.sleep(1.0 + 0.5 * processes)  # let every writer import, connect and build drafts
        go.set()
        spans = [out.get(timeout=600) for _ in procs]
        for p in procs:
            p.join(timeout=60)
            if p.exitcode != 0:
                raise RuntimeError(f"a writer process exited with {p.exitcode}")
        store = open_store(url)
        try:
            report = make_ledger(store, "core").verify()
            head = store.head().seq
        finally:
            store.close()
    expected = share * processes
    ok = report.ok and report.checked == expected and head == expected
    verdict = f"verify ok, {head:,} events gapless" if ok else f"BROKEN: {report}, head {head}"
    if not ok:
        raise RuntimeError(verdict)
    return max(e for _, e in spans) - min(s for s, _ in spans), verdict


# ---- conditions --------------------------------------------------------------------


def conditions(url: str) -> dict[str, Any]:
    settings = (
        "server_version",
        "synchronous_commit",
        "fsync",
        "wal_sync_method",
        "full_page_writes",
        "shared_buffers",
        "wal_buffers",
        "commit_delay",
        "max_wal_size",
    )
    with psycopg.connect(url, autocommit=True) as conn:
        server = {
            s: conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(s))).fetchone()[0]
            for s in settings
        }  # type: ignore[index]
        host = conn.info.host
    import os
    import platform

    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "psycopg": f"{psycopg.__version__} ({psycopg.pq.__impl__}, libpq {psycopg.pq.version()})",
        "packages": {n: _version(n) for n in ("rollout-ledger", "psycopg-pool", "orjson")},
        "server_host": host,
        "server": server,
        "ledger_source": _source_fingerprint(),
    }


# ---- the run -----------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    n, n_single, runs = args.events, args.single, args.runs
    schemas = Schemas(args.store)
    log(f"generating {n:,} payloads ...")
    payloads = make_payloads(max(n, n_single, args.writer_events, args.writer_single))
    rows = sealed_rows(payloads[: max(n, n_single)])
    results: dict[str, Result] = {}
    loads = {"start": loadavg()}
    cond = conditions(args.store)
    cond.update(events=n, single_events=n_single, runs=runs, batch=BATCH)
    try:
        log("(a), (b): batched appends, interleaved batch by batch")
        row_units = list(batches(rows))
        payload_units = list(batches(payloads[:n]))
        contenders = [
            Contender(
                Result("raw_copy", "raw binary COPY, 1,000 rows/txn", n),
                lambda u: RawCopy(schemas, u),
                row_units,
            ),
            Contender(
                Result("raw_executemany", "raw executemany (pipelined), 1,000 rows/txn", n),
                lambda u: RawExecutemany(schemas, u),
                row_units,
            ),
            *[
                Contender(
                    Result(f"batched_{v}", f"ledger append, 1,000/batch, {v}", n),
                    lambda u, v=v: LedgerBatched(schemas, u, v),
                    payload_units,
                )
                for v in args.variants
            ],
        ]
        for r in interleave(contenders, runs, log):
            results[r.key] = r

        log("(c) single-event durable appends, interleaved 50 at a time")
        loads["single"] = loadavg()
        block = 50
        single_contenders = [
            Contender(
                Result("raw_single", "raw autocommit INSERT, 1 row/txn", n_single),
                lambda u: RawSingle(schemas, u),
                list(batches(rows[:n_single], block)),
            ),
            *[
                Contender(
                    Result(f"single_{v}", f"ledger append, 1 event/call, {v}", n_single),
                    lambda u, v=v: LedgerSingle(schemas, u, v),
                    list(batches(payloads[:n_single], block)),
                )
                for v in args.variants
            ],
        ]
        for r in interleave(single_contenders, runs, log):
            results[r.key] = r

        log(f"(d) {args.writers} writer processes against 1, interleaved run by run")
        loads["writers"] = loadavg()
        verdicts: list[str] = []
        shapes = [
            ("batched", args.writer_events, args.writer_batch),
            ("single", args.writer_single, 1),
        ]
        for shape, total, size in shapes:
            for procs in (1, args.writers):
                key = f"writers_{shape}_{procs}"
                results[key] = Result(
                    key,
                    f"{procs} writer process{'es' if procs > 1 else ''}, {size}/call, core",
                    total,
                )
            for i in range(runs):
                for procs in (1, args.writers) if i % 2 == 0 else (args.writers, 1):
                    r = results[f"writers_{shape}_{procs}"]
                    seconds, verdict = writers_run(schemas, payloads[:total], procs, size, "core")
                    r.seconds.append(seconds)
                    verdicts.append(f"{r.label}: {verdict}")
                    rate = f"{total / seconds:,.0f} events/s"
                    log(f"  run {i + 1}/{runs} {r.label}: {rate}; {verdict}")
        cond["writer_verdicts"] = sorted(set(verdicts))

        if args.profile:
            log("profiling one batched core append series")
            stepper = LedgerBatched(
                schemas, payload_units[: max(3, len(payload_units) // 3)], "core"
            )
            try:
                stepper.step(0)
                cond["profile_core"] = profile(
                    "ledger append, 1,000/batch, core (PostgreSQL)",
                    BATCH * (len(stepper.units) - 1),
                    lambda: [stepper.step(i) for i in range(1, len(stepper.units))],
                )
            finally:
                stepper.close()
    finally:
        schemas.drop_leftovers()
    loads["end"] = loadavg()
    cond["loadavg"] = loads
    return {"conditions": cond, "results": {k: _as_dict(r) for k, r in results.items()}}


def _as_dict(r: Result) -> dict[str, Any]:
    return {
        "label": r.label,
        "events": r.events,
        "seconds": r.seconds,
        "median_s": r.median,
        "events_per_s": r.rate,
        "failed": r.failed,
    }


def render(report: dict[str, Any]) -> str:
    res = report["results"]
    cond = report["conditions"]

    def rate(key: str) -> float:
        r = res.get(key)
        return float("nan") if r is None or r["failed"] else float(r["events_per_s"])

    def spread(key: str) -> str:
        r = res[key]
        if r["failed"] or not r["seconds"]:
            return "-"
        rates = [r["events"] / s for s in r["seconds"]]
        return f"{min(rates):,.0f} to {max(rates):,.0f}"

    lines = [
        "PostgreSQL append benchmark (issue 6)",
        "",
        "conditions:",
        *(f"  {k}: {v}" for k, v in cond.items() if k != "profile_core"),
        "",
        "| measure | events | events/s (median) | runs' range | vs raw COPY | vs executemany |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, r in res.items():
        if r["failed"]:
            lines.append(f"| {r['label']} | {r['events']:,} | FAILED: {r['failed']} | | | |")
            continue
        vs_copy = vs_many = ""
        if key.startswith(("raw_copy", "raw_executemany", "batched_")):
            vs_copy = f"{rate(key) / rate('raw_copy'):.1%}"
            vs_many = f"{rate(key) / rate('raw_executemany'):.1%}"
        elif key.startswith("single_"):
            vs_copy = f"{rate(key) / rate('raw_single'):.1%} of raw single"
        cells = [r["label"], f"{r['events']:,}", f"{rate(key):,.0f}", spread(key), vs_copy, vs_many]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    core = rate("batched_core")
    lines.append(
        f"batched core vs raw COPY: {core / rate('raw_copy'):.1%} "
        f"(target >= {TARGET_BATCHED_VS_COPY:.0%})"
    )
    for shape in ("batched", "single"):
        one = [k for k in res if k.startswith(f"writers_{shape}_1")]
        many = [k for k in res if k.startswith(f"writers_{shape}_") and k not in one]
        if one and many:
            lines.append(
                f"writers ({shape}): {res[many[0]]['label']} {rate(many[0]):,.0f}/s vs "
                f"1 process {rate(one[0]):,.0f}/s (x{rate(many[0]) / rate(one[0]):.2f})"
            )
    if "profile_core" in cond:
        lines += ["", cond["profile_core"]]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", required=True, help="a postgresql:// URL (trust or password)")
    parser.add_argument("--events", type=int, default=None, help="batched events (default 50,000)")
    parser.add_argument("--single", type=int, default=None, help="single events (default 500)")
    parser.add_argument("--runs", type=int, default=None, help=f"timed runs each (default {RUNS})")
    parser.add_argument("--writers", type=int, default=4, help="writer processes (default 4)")
    parser.add_argument(
        "--writer-events", type=int, default=None, help="events for (d) batched (default 20,000)"
    )
    parser.add_argument(
        "--writer-batch", type=int, default=100, help="events per append call in (d) (100)"
    )
    parser.add_argument(
        "--writer-single", type=int, default=None, help="events for (d) one per call (800)"
    )
    parser.add_argument(
        "--variants",
        default="core,composed",
        type=lambda s: [v for v in s.split(",") if v],
        help="ledger variants (bench_append.VARIANTS), default core,composed",
    )
    parser.add_argument("--quick", action="store_true", help="a smaller run, 1 run each")
    parser.add_argument("--profile", action="store_true", help="also cProfile batched core appends")
    parser.add_argument("--out-json", type=Path, default=None, help="also write the results here")
    # Accepted (and ignored) so bench_append.py can hand over its whole command line.
    for ignored in ("--rss-sizes", "--dir"):
        parser.add_argument(ignored, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--skip-1m", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.store.startswith(("postgresql://", "postgres://")):
        parser.error("--store must be a postgresql:// URL")
    quick = args.quick
    args.events = args.events or (10_000 if quick else 50_000)
    args.single = args.single or (150 if quick else 500)
    args.writer_events = args.writer_events or (4_000 if quick else 20_000)
    args.writer_single = args.writer_single or (200 if quick else 800)
    args.runs = args.runs or (1 if quick else RUNS)
    report = run(args)
    print(render(report), end="")
    if args.out_json:
        args.out_json.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
