"""Projection tables on SQLite: documents, status intervals, lineage edges.

They are derived data, rebuilt from the events by ``rollout-ledger rebuild``,
so unlike the events they may be updated; they are written in the append's
transaction together with the tracking position (meta ``projection_seq``).

"What served environment E at time T" must not scan every interval that
began before T (non-serving statuses such as ``replaced`` stay open for
good). Serving intervals (``canary``, ``production``) that have *ended* are
kept in an R*Tree, ``proj_serving``: ``[t0, t1)`` in seconds since the Unix
epoch and ``[s0, s1)`` in seqs, inserted once when the interval closes (an
R*Tree update costs a delete and a re-insert, eight times an insert here).
Open ones are few (what serves now) and found through the partial index
``proj_status_serving_open``. R*Tree coordinates are 32-bit floats rounded
outwards, and times get a second of slack either side, so the tree yields a
superset that the exact test on ``proj_status`` then trims. The tree has no
environment column: an auxiliary column costs a lookup per candidate, more
than joining the other environments' candidates and dropping them.

A version's latest test results are not stored at all: ``get_docs`` answers
``tests:<version>`` from the version's ``test.result.recorded`` events up to
the projection position (``ledger.projections.test_results``), as one
``{"ref", "tests": [...]}`` document in seq order. ``proj_tests`` (migration
4), which held them as rows until round 5 of issue 4, is no longer written
or read (a rebuild and migration 5 drop it): upserting a row per result
dirtied about a page per result in every transaction, the largest share of a
projecting append's writes.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime

from ledger.projections.base import SERVING_STATUSES
from ledger.projections.keys import TESTS_PREFIX, subject_history_types
from ledger.projections.test_results import TEST_RESULT, latest_tests_doc

__all__ = [
    "PROJECTION_TABLES",
    "SCHEMA_V2",
    "SCHEMA_V3",
    "SCHEMA_V4",
    "SCHEMA_V5",
    "EdgeRow",
    "IntervalRow",
    "add_edges",
    "add_intervals",
    "get_docs",
    "history_of",
    "put_docs",
    "status_intervals",
]

IntervalRow = tuple[str, str, str, str, float, str | None, int, str]
"""(model, version, environment, status, exposure, strategy, seq, time)."""

EdgeRow = tuple[str, str, str, int, str]
"""(source, target, relation, seq, time)."""

PROJECTION_TABLES = (
    "proj_docs",
    "proj_status",
    "proj_edges",
    "proj_history",
    "proj_serving",
    "proj_tests",
)

_OPEN = 1e12
"""The far end of an open interval, in seconds and in seqs."""

_SLACK_S = 1.0
"""Seconds added either side of a time in ``proj_serving`` (see the module docstring)."""

_SERVING_DDL = "CREATE VIRTUAL TABLE IF NOT EXISTS proj_serving USING rtree(id, t0, t1, s0, s1)"


def _seconds_sql(column: str, default: float) -> str:
    """SQL for a time column in seconds since the epoch, with slack (``default`` if not a time)."""
    sign = "+" if default > 0 else "-"
    return f"coalesce((julianday({column}) - 2440587.5) * 86400 {sign} {_SLACK_S}, {default})"


_SERVING_SQL = "status IN ('canary', 'production')"
"""``SERVING_STATUSES`` spelled as the partial index's predicate (queries must match it)."""

_SERVING_OPEN_DDL = (
    "CREATE INDEX IF NOT EXISTS proj_status_serving_open ON proj_status(environment, time)"
    f" WHERE end_seq IS NULL AND {_SERVING_SQL}"
)

_TESTS_DDL = """CREATE TABLE IF NOT EXISTS proj_tests (
        version TEXT NOT NULL,
        kind TEXT NOT NULL,
        environment TEXT NOT NULL,
        suite TEXT NOT NULL,
        seq INTEGER NOT NULL,
        entry BLOB NOT NULL,
        PRIMARY KEY (version, kind, environment, suite)
    ) WITHOUT ROWID"""
"""The latest test result per slot (``environment`` '' when the result names none)."""

SCHEMA_V2 = [
    # A rowid table: a WITHOUT ROWID row lives in an index B-tree that keeps
    # only ~1 KB of it on the leaf, so every 5 KB document spilled onto two
    # overflow pages, and each rewrite wrote three pages instead of two.
    """CREATE TABLE IF NOT EXISTS proj_docs (
        key TEXT NOT NULL UNIQUE,
        doc BLOB NOT NULL,
        seq INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS proj_status (
        id INTEGER PRIMARY KEY,
        model TEXT NOT NULL,
        version TEXT NOT NULL,
        environment TEXT NOT NULL,
        status TEXT NOT NULL,
        exposure REAL NOT NULL,
        strategy TEXT,
        seq INTEGER NOT NULL,
        time TEXT NOT NULL,
        end_seq INTEGER,
        end_time TEXT
    )""",
    """CREATE INDEX IF NOT EXISTS proj_status_open
        ON proj_status(model, version, environment) WHERE end_seq IS NULL""",
    "CREATE INDEX IF NOT EXISTS proj_status_env_time ON proj_status(environment, time)",
    "CREATE INDEX IF NOT EXISTS proj_status_env_seq ON proj_status(environment, seq)",
    """CREATE TABLE IF NOT EXISTS proj_edges (
        source TEXT NOT NULL,
        target TEXT NOT NULL,
        relation TEXT NOT NULL,
        seq INTEGER NOT NULL,
        time TEXT NOT NULL,
        PRIMARY KEY (source, target, relation)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS proj_edges_target ON proj_edges(target)",
    "CREATE INDEX IF NOT EXISTS proj_edges_seq ON proj_edges(seq)",
    "CREATE INDEX IF NOT EXISTS events_occurred ON events(occurred_at)",
    """CREATE TABLE IF NOT EXISTS proj_history (
        key TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (key, seq)
    ) WITHOUT ROWID""",
    _SERVING_DDL,
    _SERVING_OPEN_DDL,
]
"""Every projection table as it stands (``IF NOT EXISTS``): migration 2, ``reset_projections``.

Not ``proj_tests``, no longer written or read (see the module docstring):
``reset_projections`` drops it (``PROJECTION_TABLES``), and so does migration 5.
"""

SCHEMA_V3 = [
    # proj_docs becomes a rowid table (see SCHEMA_V2); a no-op copy on new files.
    """CREATE TABLE proj_docs_v3 (
        key TEXT NOT NULL UNIQUE,
        doc BLOB NOT NULL,
        seq INTEGER NOT NULL
    )""",
    "INSERT INTO proj_docs_v3 (key, doc, seq) SELECT key, doc, seq FROM proj_docs ORDER BY key",
    "DROP TABLE proj_docs",
    "ALTER TABLE proj_docs_v3 RENAME TO proj_docs",
    _SERVING_DDL,
    _SERVING_OPEN_DDL,
    # Files migrated from version 2 index the serving intervals that have ended.
    f"""INSERT INTO proj_serving (id, t0, t1, s0, s1)
        SELECT s.id, {_seconds_sql("s.time", -_OPEN)},
            max({_seconds_sql("s.time", -_OPEN)}, {_seconds_sql("s.end_time", _OPEN)}),
            s.seq, max(s.seq, s.end_seq)
        FROM proj_status s
        WHERE s.{_SERVING_SQL} AND s.end_seq IS NOT NULL
            AND s.id NOT IN (SELECT id FROM proj_serving)""",
]
"""Migration 3: ``proj_docs`` as a rowid table, and the R*Tree of serving intervals."""

_OLD_TESTS = "json_each(CAST(d.doc AS TEXT), '$.tests')"

SCHEMA_V4 = [
    _TESTS_DDL,
    # Version documents' tests[] become rows (the latest per slot wins: files
    # from before tests[] was capped hold every result), then leave the documents.
    f"""INSERT INTO proj_tests (version, kind, environment, suite, seq, entry)
        SELECT d.key, coalesce(json_extract(t.value, '$.kind'), ''),
            coalesce(json_extract(t.value, '$.environment'), ''),
            coalesce(json_extract(t.value, '$.suite'), ''),
            json_extract(t.value, '$.seq'), CAST(t.value AS BLOB)
        FROM proj_docs d, {_OLD_TESTS} t
        WHERE d.key LIKE 'model:%@%' AND json_valid(CAST(d.doc AS TEXT))
            AND json_type(CAST(d.doc AS TEXT), '$.tests') = 'array'
            AND json_type(t.value) = 'object'
        ORDER BY json_extract(t.value, '$.seq')
        ON CONFLICT (version, kind, environment, suite) DO UPDATE
            SET seq = excluded.seq, entry = excluded.entry
            WHERE excluded.seq >= proj_tests.seq""",
    """UPDATE proj_docs SET doc = CAST(json_remove(CAST(doc AS TEXT), '$.tests') AS BLOB)
        WHERE key LIKE 'model:%@%' AND json_valid(CAST(doc AS TEXT))
            AND json_type(CAST(doc AS TEXT), '$.tests') IS NOT NULL""",
]
"""Migration 4: test results as rows of ``proj_tests`` (see the module docstring)."""

SCHEMA_V5 = ["DROP TABLE IF EXISTS proj_tests"]
"""Migration 5: test results are read from the events (see the module docstring).

A writer of an older version would read the rows that stopped changing, and
judge a gated draft on stale results; without the table it fails instead.
"""

_LEDGER_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z", re.ASCII)


def _seconds(time: str) -> float | None:
    """Seconds since the Unix epoch of a ledger time (``...Z``); None for any other form."""
    if _LEDGER_TIME.fullmatch(time) is None:
        return None
    try:
        return datetime.fromisoformat(time[:-1] + "+00:00").timestamp()
    except ValueError:
        return None


def get_docs(conn: sqlite3.Connection, keys: Sequence[str]) -> dict[str, bytes]:
    """The stored JSON bytes of each key that exists (``tests:`` keys: see the module docstring)."""
    found: dict[str, bytes] = {}
    unique = list(dict.fromkeys(keys))
    tests = [k[len(TESTS_PREFIX) :] for k in unique if k.startswith(TESTS_PREFIX)]
    unique = [k for k in unique if not k.startswith(TESTS_PREFIX)]
    # Several statements must read one state: on an autocommit reader each
    # would see the commits made meanwhile (test rows from one position and
    # the version's approvals from the next: a verdict no position gives).
    statements = -(-len(tests) // 500) + -(-len(unique) // 500)
    snapshot = statements > 1 and not conn.in_transaction
    if snapshot:
        conn.execute("BEGIN")
    try:
        if tests:
            found.update(_get_tests(conn, tests))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, doc in conn.execute(
                f"SELECT key, doc FROM proj_docs WHERE key IN ({marks})", chunk
            ):
                found[key] = doc
    finally:
        if snapshot:
            conn.execute("COMMIT")
    return found


_TESTS_SQL = (
    "SELECT subject, seq, hash, recorded_at, body FROM events WHERE subject IN ({marks})"
    f" AND +type = '{TEST_RESULT}'"
    " AND seq <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'projection_seq')"
    " ORDER BY subject, seq"
)
"""A version's projected results (``+type``: on ``events_subject``, not ``events_type``)."""


def _get_tests(conn: sqlite3.Connection, versions: Sequence[str]) -> dict[str, bytes]:
    events: dict[str, list[tuple[int, str, str, bytes]]] = {}
    for start in range(0, len(versions), 500):
        chunk = versions[start : start + 500]
        query = _TESTS_SQL.format(marks=",".join("?" * len(chunk)))
        for subject, seq, hash, time, body in conn.execute(query, chunk):
            events.setdefault(subject, []).append((seq, hash, time, body))
    found = {}
    for version, rows in events.items():
        doc = latest_tests_doc(version, rows)
        if doc is not None:
            found[TESTS_PREFIX + version] = doc
    return found


def put_docs(conn: sqlite3.Connection, docs: Sequence[tuple[str, bytes, int]]) -> None:
    """Insert or replace documents (key, JSON bytes, seq of the last event that changed it)."""
    conn.executemany(
        "INSERT INTO proj_docs (key, doc, seq) VALUES (?,?,?)"
        " ON CONFLICT(key) DO UPDATE SET doc = excluded.doc, seq = excluded.seq",
        docs,
    )


def history_of(conn: sqlite3.Connection, key: str, limit: int) -> list[int]:
    """The seqs of the events that changed document ``key``, in order (at most ``limit``).

    The events of the types ``keys.subject_history_types(key)`` with subject
    ``key`` come from the events, up to the projection position, as well as
    any rows (see ``keys.HISTORY_BY_SUBJECT_TYPES``); files written before have
    rows for them too, which the union absorbs. ``+type`` keeps the planner on
    ``events_subject``: with ``events_type`` (which it took for one type) a
    version's history scanned every test result in the ledger (75 ms at 250k).
    """
    types = subject_history_types(key)
    if not types:
        query = "SELECT seq FROM proj_history WHERE key = ? ORDER BY seq LIMIT ?"
        return [int(r[0]) for r in conn.execute(query, (key, limit))]
    marks = ",".join("?" * len(types))
    rows = conn.execute(
        "SELECT seq FROM proj_history WHERE key = ?"
        f" UNION SELECT seq FROM events WHERE subject = ? AND +type IN ({marks})"
        " AND seq <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'projection_seq')"
        " ORDER BY seq LIMIT ?",
        (key, key, *types, limit),
    )
    return [int(r[0]) for r in rows]


def add_intervals(conn: sqlite3.Connection, rows: Sequence[IntervalRow]) -> None:
    """Open each interval, closing the open one of the same (model, version, environment).

    A serving interval that closes enters ``proj_serving`` (see the module
    docstring). Not by a trigger: a statement that may fire one needs a
    statement journal, which more than doubled the bytes an append wrote.
    """
    for row in rows:
        model, version, environment, _status, _exposure, _strategy, seq, time = row
        closed = conn.execute(
            "UPDATE proj_status SET end_seq = ?, end_time = ?"
            " WHERE model = ? AND version = ? AND environment = ? AND end_seq IS NULL"
            " RETURNING id, status, seq, time",
            (seq, time, model, version, environment),
        ).fetchall()
        for closed_id, closed_status, start_seq, start_time in closed:
            if closed_status in SERVING_STATUSES:
                began, ended = _seconds(start_time), _seconds(time)
                t0 = -_OPEN if began is None else began - _SLACK_S
                t1 = _OPEN if ended is None else ended + _SLACK_S
                # An R*Tree refuses t1 < t0; an interval ending before it began
                # (the clock stepped back) matches no moment, so any box will do.
                conn.execute(
                    "INSERT INTO proj_serving (id, t0, t1, s0, s1) VALUES (?,?,?,?,?)",
                    (closed_id, t0, max(t0, t1), start_seq, max(start_seq, seq)),
                )
        conn.execute(
            "INSERT INTO proj_status (model, version, environment, status, exposure, strategy,"
            " seq, time) VALUES (?,?,?,?,?,?,?,?)",
            row,
        )


_COLUMNS = "model, version, environment, status, exposure, strategy, seq, time, end_seq, end_time"


def status_intervals(
    conn: sqlite3.Connection,
    *,
    environment: str | None = None,
    model: str | None = None,
    at_time: str | None = None,
    at_seq: int | None = None,
    statuses: Collection[str] | None = None,
) -> list[tuple[object, ...]]:
    """Status intervals, optionally those in force at a time or seq, or with these statuses.

    Rows are (model, version, environment, status, exposure, strategy, seq,
    time, end_seq, end_time), ordered by seq. A moment asked for serving
    statuses only is answered from the R*Tree; everything else from the
    ``(environment, time)`` and ``(environment, seq)`` indexes.
    """
    where: list[str] = []
    args: list[object] = []
    if environment is not None:
        where.append("s.environment = ?")
        args.append(environment)
    if model is not None:
        where.append("s.model = ?")
        args.append(model)
    if at_time is not None:
        where.append("s.time <= ? AND (s.end_time IS NULL OR s.end_time > ?)")
        args += [at_time, at_time]
    if at_seq is not None:
        where.append("s.seq <= ? AND (s.end_seq IS NULL OR s.end_seq > ?)")
        args += [at_seq, at_seq]
    if statuses is not None:
        wanted = sorted(set(statuses))
        where.append(f"s.status IN ({','.join('?' * len(wanted))})")
        args += wanted
    select = f"SELECT {', '.join('s.' + c for c in _COLUMNS.split(', '))}"
    seconds = None if at_time is None else _seconds(at_time)
    serving_only = statuses is not None and set(statuses) <= SERVING_STATUSES
    if not serving_only or (at_seq is None and seconds is None):
        query = f"{select} FROM proj_status s" + (" WHERE " + " AND ".join(where) if where else "")
        return [tuple(r) for r in conn.execute(query + " ORDER BY s.seq, s.id", args).fetchall()]
    # Ended intervals from the tree (CROSS JOIN keeps it the outer loop), open
    # ones from the partial index; the exact tests in ``where`` decide for both.
    tree: list[str] = []
    tree_args: list[object] = []
    if seconds is not None:
        tree.append("r.t0 <= ? AND r.t1 > ?")
        tree_args += [seconds, seconds]
    if at_seq is not None:
        tree.append("r.s0 <= ? AND r.s1 > ?")
        tree_args += [at_seq, at_seq]
    ended = (
        f"{select}, s.id FROM proj_serving r CROSS JOIN proj_status s ON s.id = r.id"
        f" WHERE {' AND '.join(tree + where)}"
    )
    still_open = (
        f"{select}, s.id FROM proj_status s INDEXED BY proj_status_serving_open"
        f" WHERE s.end_seq IS NULL AND s.{_SERVING_SQL}"
        f" AND {' AND '.join(where)}"
    )
    query = f"SELECT * FROM ({ended} UNION ALL {still_open}) ORDER BY 7, 11"
    rows = conn.execute(query, [*tree_args, *args, *args]).fetchall()
    return [tuple(r[:10]) for r in rows]


def add_edges(conn: sqlite3.Connection, rows: Sequence[EdgeRow]) -> None:
    """Record edges; the first (source, target, relation) wins, as the projection defines."""
    conn.executemany(
        "INSERT OR IGNORE INTO proj_edges (source, target, relation, seq, time) VALUES (?,?,?,?,?)",
        rows,
    )


def iter_edges(conn: sqlite3.Connection, after_seq: int = 0) -> Iterator[EdgeRow]:
    """Every edge recorded after ``after_seq``, in seq order (to load a lineage graph)."""
    cursor = conn.execute(
        "SELECT source, target, relation, seq, time FROM proj_edges WHERE seq > ?"
        " ORDER BY seq, source, target, relation",
        (after_seq,),
    )
    while rows := cursor.fetchmany(5000):
        yield from rows
