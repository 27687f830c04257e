"""Projection tables on SQLite: documents, status intervals, lineage edges.

They are derived data, rebuilt from the events by ``rollout-ledger rebuild``,
so unlike the events they may be updated; they are written in the append's
transaction together with the tracking position (meta ``projection_seq``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

__all__ = [
    "PROJECTION_TABLES",
    "SCHEMA_V2",
    "EdgeRow",
    "IntervalRow",
    "add_edges",
    "add_intervals",
    "get_docs",
    "put_docs",
]

IntervalRow = tuple[str, str, str, str, float, str | None, int, str]
"""(model, version, environment, status, exposure, strategy, seq, time)."""

EdgeRow = tuple[str, str, str, int, str]
"""(source, target, relation, seq, time)."""

PROJECTION_TABLES = ("proj_docs", "proj_status", "proj_edges", "proj_history")

SCHEMA_V2 = [
    """CREATE TABLE IF NOT EXISTS proj_docs (
        key TEXT PRIMARY KEY,
        doc BLOB NOT NULL,
        seq INTEGER NOT NULL
    ) WITHOUT ROWID""",
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
]


def get_docs(conn: sqlite3.Connection, keys: Sequence[str]) -> dict[str, bytes]:
    """The stored JSON bytes of each key that exists."""
    found: dict[str, bytes] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for key, doc in conn.execute(
            f"SELECT key, doc FROM proj_docs WHERE key IN ({marks})", chunk
        ):
            found[key] = doc
    return found


def put_docs(conn: sqlite3.Connection, docs: Sequence[tuple[str, bytes, int]]) -> None:
    """Insert or replace documents (key, JSON bytes, seq of the last event that changed it)."""
    conn.executemany(
        "INSERT INTO proj_docs (key, doc, seq) VALUES (?,?,?)"
        " ON CONFLICT(key) DO UPDATE SET doc = excluded.doc, seq = excluded.seq",
        docs,
    )


def add_intervals(conn: sqlite3.Connection, rows: Sequence[IntervalRow]) -> None:
    """Open each interval, closing the open one of the same (model, version, environment)."""
    for row in rows:
        model, version, environment, _status, _exposure, _strategy, seq, time = row
        conn.execute(
            "UPDATE proj_status SET end_seq = ?, end_time = ?"
            " WHERE model = ? AND version = ? AND environment = ? AND end_seq IS NULL",
            (seq, time, model, version, environment),
        )
        conn.execute(
            "INSERT INTO proj_status (model, version, environment, status, exposure, strategy,"
            " seq, time) VALUES (?,?,?,?,?,?,?,?)",
            row,
        )


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
