"""Projection tables on PostgreSQL: documents, status intervals, lineage edges.

Derived data, rebuilt from the events by ``rollout-ledger rebuild``, so unlike
the events they may be updated; they are written in the append's transaction
together with the tracking position (meta ``projection_seq``).

Keys, refs and times are compared in the "C" collation (byte order), the
order SQLite uses, so range scans and ``ORDER BY`` give the same answers on
both backends whatever the database's default collation is.

"What served environment E at time T" must not scan every interval that began
before T (non-serving statuses such as ``replaced`` stay open for good), so
migration 5 adds partial GiST indexes over the serving intervals' ``[time,
end_time)`` (a range of "C"-collated text, so containment is exactly the
string comparison the other reads use) and ``[seq, end_seq)``.

A version's latest test results are read from its events, as on SQLite
(``ledger.store.sqlite_projections``): ``get_docs`` answers ``tests:<version>``
from the ``test.result.recorded`` events with that subject up to the
projection position. ``proj_tests`` (migration 6) is no longer written or read.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import LiteralString

import psycopg
from psycopg.rows import TupleRow

from ledger.projections.keys import TESTS_PREFIX, subject_history_types
from ledger.projections.test_results import TEST_RESULT, latest_tests_doc

__all__ = [
    "HISTORY_DDL",
    "PROJECTION_DDL",
    "PROJECTION_TABLES",
    "SERVING_DDL",
    "TESTS_DDL",
    "TESTS_DROP",
    "TESTS_MIGRATION",
    "EdgeRow",
    "IntervalRow",
    "docs_with_prefix",
    "edges_after",
    "edges_of",
    "get_docs",
    "reset_projections",
    "set_meta",
    "status_intervals",
    "write_projection",
]

IntervalRow = tuple[str, str, str, str, float, str | None, int, str]
"""(model, version, environment, status, exposure, strategy, seq, time)."""

EdgeRow = tuple[str, str, str, int, str]
"""(source, target, relation, seq, time)."""

PROJECTION_TABLES: tuple[LiteralString, ...] = (
    "proj_docs",
    "proj_status",
    "proj_edges",
    "proj_history",
    "proj_tests",
)

HISTORY_DDL: LiteralString = """CREATE TABLE IF NOT EXISTS proj_history (
        key TEXT NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (key, seq)
    )"""
"""Which events changed which document (migration 4; part of the projection tables)."""

TESTS_DDL: LiteralString = """CREATE TABLE IF NOT EXISTS proj_tests (
        version TEXT COLLATE "C" NOT NULL,
        kind TEXT COLLATE "C" NOT NULL,
        environment TEXT COLLATE "C" NOT NULL,
        suite TEXT COLLATE "C" NOT NULL,
        seq BIGINT NOT NULL,
        entry BYTEA NOT NULL,
        PRIMARY KEY (version, kind, environment, suite)
    )"""
"""The latest test result per slot (``environment`` '' when the result names none)."""

_VERSION_DOCS: LiteralString = "key LIKE 'model:%@%'"

TESTS_MIGRATION: list[LiteralString] = [
    TESTS_DDL,
    # Version documents' tests[] become rows (the latest per slot: files from
    # before tests[] was capped hold every result), then leave the documents.
    f"""INSERT INTO proj_tests (version, kind, environment, suite, seq, entry)
        SELECT DISTINCT ON (version, kind, environment, suite)
            version, kind, environment, suite, seq, entry
        FROM (
            SELECT d.key AS version, coalesce(t ->> 'kind', '') AS kind,
                coalesce(t ->> 'environment', '') AS environment,
                coalesce(t ->> 'suite', '') AS suite, (t ->> 'seq')::bigint AS seq,
                convert_to(t::text, 'UTF8') AS entry
            FROM (SELECT key, convert_from(doc, 'UTF8')::jsonb AS j
                    FROM proj_docs WHERE {_VERSION_DOCS}) d,
                jsonb_array_elements(CASE WHEN jsonb_typeof(d.j -> 'tests') = 'array'
                    THEN d.j -> 'tests' ELSE '[]'::jsonb END) t
            WHERE jsonb_typeof(t) = 'object'
        ) r
        ORDER BY version, kind, environment, suite, seq DESC
        ON CONFLICT DO NOTHING""",
    f"""UPDATE proj_docs
        SET doc = convert_to((convert_from(doc, 'UTF8')::jsonb - 'tests')::text, 'UTF8')
        WHERE {_VERSION_DOCS} AND convert_from(doc, 'UTF8')::jsonb ? 'tests'""",
]
"""Migration 6: test results as rows of ``proj_tests``."""

TESTS_DROP: list[LiteralString] = ["DROP TABLE IF EXISTS proj_tests"]
"""Migration 9 (``postgres_schema.MIGRATIONS``): test results are read from the events.

A writer of an older version would read the rows that stopped changing, and
judge a gated draft on stale results; without the table it fails instead.
"""

PROJECTION_DDL: list[LiteralString] = [
    """CREATE TABLE proj_docs (
        key TEXT COLLATE "C" PRIMARY KEY,
        doc BYTEA NOT NULL,
        seq BIGINT NOT NULL
    )""",
    """CREATE TABLE proj_status (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        model TEXT COLLATE "C" NOT NULL,
        version TEXT COLLATE "C" NOT NULL,
        environment TEXT COLLATE "C" NOT NULL,
        status TEXT NOT NULL,
        exposure DOUBLE PRECISION NOT NULL,
        strategy TEXT,
        seq BIGINT NOT NULL,
        time TEXT COLLATE "C" NOT NULL,
        end_seq BIGINT,
        end_time TEXT COLLATE "C"
    )""",
    """CREATE INDEX proj_status_open ON proj_status (model, version, environment)
        WHERE end_seq IS NULL""",
    "CREATE INDEX proj_status_env_time ON proj_status (environment, time)",
    "CREATE INDEX proj_status_env_seq ON proj_status (environment, seq)",
    """CREATE TABLE proj_edges (
        source TEXT COLLATE "C" NOT NULL,
        target TEXT COLLATE "C" NOT NULL,
        relation TEXT COLLATE "C" NOT NULL,
        seq BIGINT NOT NULL,
        time TEXT NOT NULL,
        PRIMARY KEY (source, target, relation)
    )""",
    "CREATE INDEX proj_edges_target ON proj_edges (target)",
    "CREATE INDEX proj_edges_seq ON proj_edges (seq)",
    HISTORY_DDL,
]
"""The projection tables, as migration 2 creates them and ``reset_projections`` re-creates them.

Not ``proj_tests``: it is no longer written or read (see the module docstring);
``reset_projections`` drops it, and so does :data:`TESTS_DROP`.
"""

_SERVING_SQL: LiteralString = "status IN ('canary', 'production')"
"""The serving statuses (``SERVING_STATUSES``), literally: the partial indexes' predicate."""

_TIME_SPAN: LiteralString = "ledger_time_span(time, end_time)"
_SEQ_SPAN: LiteralString = "int8range(seq, end_seq, '[)')"

_SERVING_INDEXES: list[LiteralString] = [
    f"CREATE INDEX proj_status_serving_time ON proj_status USING gist ({_TIME_SPAN})"
    f" WHERE {_SERVING_SQL}",
    f"CREATE INDEX proj_status_serving_seq ON proj_status USING gist ({_SEQ_SPAN})"
    f" WHERE {_SERVING_SQL}",
]

SERVING_DDL: list[LiteralString] = [
    'CREATE TYPE ledger_text_range AS RANGE (subtype = text, collation = "C")',
    # [time, end_time); an end before the start (a clock stepping back) is an
    # empty range, as the string test "time <= T < end_time" makes it.
    """CREATE FUNCTION ledger_time_span(lo text, hi text) RETURNS ledger_text_range
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        RETURN ledger_text_range(lo,
            CASE WHEN hi COLLATE "C" < lo COLLATE "C" THEN lo ELSE hi END, '[)')""",
    *_SERVING_INDEXES,
]
"""Migration 5: the as-of indexes over serving intervals (see the module docstring)."""

_Conn = psycopg.Connection[TupleRow]
_EDGE_COLUMNS: LiteralString = "source, target, relation, seq, time"


def set_meta(conn: _Conn, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (%s, %s)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def history_of(conn: _Conn, key: str, limit: int) -> list[int]:
    """The seqs of the events that changed document ``key``, in order (at most ``limit``).

    The events of the types ``keys.subject_history_types(key)`` with subject
    ``key`` come from the events, up to the projection position, as well as
    any rows (see ``keys.HISTORY_BY_SUBJECT_TYPES``; the SQLite store does the same).
    """
    types = subject_history_types(key)
    if not types:
        rows = conn.execute(
            "SELECT seq FROM proj_history WHERE key = %s ORDER BY seq LIMIT %s", (key, limit)
        ).fetchall()
        return [int(r[0]) for r in rows]
    rows = conn.execute(
        "SELECT seq FROM proj_history WHERE key = %(key)s"
        " UNION SELECT seq FROM events WHERE subject = %(key)s AND type = ANY(%(types)s)"
        " AND seq <= (SELECT CAST(value AS BIGINT) FROM meta WHERE key = 'projection_seq')"
        " ORDER BY seq LIMIT %(limit)s",
        {"key": key, "types": list(types), "limit": limit},
    ).fetchall()
    return [int(r[0]) for r in rows]


def reset_projections(conn: _Conn) -> None:
    """Drop and re-create the projection tables, tracking position 0 (caller holds the lock)."""
    for table in PROJECTION_TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    for statement in [*PROJECTION_DDL, *_SERVING_INDEXES]:
        conn.execute(statement)
    set_meta(conn, "projection_seq", "0")
    # A rebuild ends at the position it began from: writers' cached documents
    # (ledger.projecting.DocCache) tell the rebuilt ones apart by this.
    set_meta(conn, "projection_epoch", uuid.uuid4().hex)


def get_docs(conn: _Conn, keys: Sequence[str]) -> dict[str, bytes]:
    """The stored JSON bytes of each key that exists (``tests:`` keys: see the module docstring)."""
    if not keys:
        return {}
    unique = list(dict.fromkeys(keys))
    tests = [k[len(TESTS_PREFIX) :] for k in unique if k.startswith(TESTS_PREFIX)]
    if not tests:
        rows = conn.execute(
            "SELECT key, doc FROM proj_docs WHERE key = ANY(%s)", (unique,)
        ).fetchall()
        return {str(key): bytes(doc) for key, doc in rows}
    docs = [k for k in unique if not k.startswith(TESTS_PREFIX)]
    # One statement, so the documents and the results come from one snapshot.
    rows = conn.execute(
        "SELECT 0, key, doc, 0, NULL, NULL FROM proj_docs WHERE key = ANY(%s)"
        " UNION ALL SELECT 1, subject, body, seq, hash, recorded_at FROM events"
        f" WHERE subject = ANY(%s) AND type = '{TEST_RESULT}'"
        " AND seq <= (SELECT CAST(value AS BIGINT) FROM meta WHERE key = 'projection_seq')"
        " ORDER BY 1, 4",
        (docs, tests),
    ).fetchall()
    found: dict[str, bytes] = {}
    events: dict[str, list[tuple[int, str, str, bytes]]] = {}
    for is_test, key, doc, seq, hash, time in rows:
        if is_test:
            events.setdefault(str(key), []).append((int(seq), str(hash), str(time), bytes(doc)))
        else:
            found[str(key)] = bytes(doc)
    for version, results in events.items():
        tests_json = latest_tests_doc(version, results)
        if tests_json is not None:
            found[TESTS_PREFIX + version] = tests_json
    return found


def write_projection(
    conn: _Conn,
    docs: Sequence[tuple[str, bytes, int]],
    intervals: Sequence[IntervalRow],
    edges: Sequence[EdgeRow],
    position: int,
    history: Sequence[tuple[str, int]] = (),
) -> None:
    """Upsert documents, open intervals, add edges (first wins), set the position.

    Pipelined: the statements go out back to back and the results are read
    once, since this runs while the append lock is held.
    """
    with conn.pipeline():
        cursor = conn.cursor()
        if docs:
            cursor.executemany(
                "INSERT INTO proj_docs (key, doc, seq) VALUES (%s, %b, %s)"
                " ON CONFLICT (key) DO UPDATE SET doc = excluded.doc, seq = excluded.seq",
                docs,
            )
        for row in intervals:
            # In order: an interval opened earlier in the batch is closed by a later one.
            model, version, environment, _status, _exposure, _strategy, seq, time = row
            cursor.execute(
                "UPDATE proj_status SET end_seq = %s, end_time = %s WHERE model = %s"
                " AND version = %s AND environment = %s AND end_seq IS NULL",
                (seq, time, model, version, environment),
            )
            cursor.execute(
                "INSERT INTO proj_status (model, version, environment, status, exposure,"
                " strategy, seq, time) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                row,
            )
        if edges:
            cursor.executemany(
                f"INSERT INTO proj_edges ({_EDGE_COLUMNS}) VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                edges,
            )
        if history:
            cursor.executemany(
                "INSERT INTO proj_history (key, seq) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                history,
            )
        set_meta(conn, "projection_seq", str(position))


def docs_with_prefix(conn: _Conn, prefix: str, limit: int) -> list[tuple[str, bytes]]:
    rows = conn.execute(
        "SELECT key, doc FROM proj_docs WHERE key >= %s AND key < %s ORDER BY key LIMIT %s",
        (prefix, prefix + "\U0010ffff", limit),
    ).fetchall()
    return [(str(k), bytes(d)) for k, d in rows]


def status_intervals(
    conn: _Conn,
    *,
    environment: str | None,
    model: str | None,
    at_time: str | None,
    at_seq: int | None,
    statuses: Collection[str] | None = None,
) -> list[tuple[object, ...]]:
    where: list[LiteralString] = []
    args: list[object] = []
    serving_only = statuses is not None and set(statuses) <= {"canary", "production"}
    if serving_only and (at_time is not None or at_seq is not None):
        # Spelled as the partial GiST indexes are, so the planner can use them.
        where.append(_SERVING_SQL)
        if at_time is not None:
            where.append(f"{_TIME_SPAN} @> %s::text")
            args.append(at_time)
        if at_seq is not None:
            where.append(f"{_SEQ_SPAN} @> %s::bigint")
            args.append(at_seq)
    if environment is not None:
        where.append("environment = %s")
        args.append(environment)
    if model is not None:
        where.append("model = %s")
        args.append(model)
    if at_time is not None:
        where.append("time <= %s AND (end_time IS NULL OR end_time > %s)")
        args += [at_time, at_time]
    if at_seq is not None:
        where.append("seq <= %s AND (end_seq IS NULL OR end_seq > %s)")
        args += [at_seq, at_seq]
    if statuses is not None:
        where.append("status = ANY(%s)")
        args.append(sorted(set(statuses)))
    query: LiteralString = (
        "SELECT model, version, environment, status, exposure, strategy, seq, time,"
        " end_seq, end_time FROM proj_status"
    )
    if where:
        query += " WHERE " + " AND ".join(where)
    return [tuple(r) for r in conn.execute(query + " ORDER BY seq, id", args).fetchall()]


def _edge(row: tuple[object, ...]) -> EdgeRow:
    source, target, relation, seq, time = row
    return (str(source), str(target), str(relation), int(str(seq)), str(time))


def edges_after(conn: _Conn, after_seq: int) -> list[EdgeRow]:
    rows = conn.execute(
        f"SELECT {_EDGE_COLUMNS} FROM proj_edges WHERE seq > %s"
        # Ties within a seq in primary-key order: what SQLite's seq index yields.
        " ORDER BY seq, source, target, relation",
        (after_seq,),
    ).fetchall()
    return [_edge(r) for r in rows]


def edges_of(conn: _Conn, refs: Sequence[str]) -> list[EdgeRow]:
    if not refs:
        return []
    rows = conn.execute(
        f"SELECT {_EDGE_COLUMNS} FROM proj_edges WHERE source = ANY(%s)"
        f" UNION SELECT {_EDGE_COLUMNS} FROM proj_edges WHERE target = ANY(%s)",
        (list(refs), list(refs)),
    ).fetchall()
    return [_edge(r) for r in rows]
