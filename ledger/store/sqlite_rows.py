"""Row-level SQL of the SQLite store: the write transaction and shared helpers.

Everything here runs on a connection the caller already holds (and, for the
transaction, inside its ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from operator import attrgetter
from typing import TypeAlias

from ledger.events import Event
from ledger.merkle.hashing import leaf_hash
from ledger.store import sqlite_projections as proj
from ledger.store.protocol import Head, NodeId, StoreError

__all__ = [
    "EVENT_COLUMNS",
    "EventRow",
    "SQLiteTransaction",
    "fetch_nodes",
    "reset_projections",
    "set_meta",
]

EVENT_COLUMNS = "seq, id, type, subject, actor, occurred_at, recorded_at, prev_hash, hash, body"
EventRow: TypeAlias = tuple[int, str, str, str, str, str, str, str, str, bytes]
"""One events row in ``EVENT_COLUMNS`` order, as the driver returns it."""
_GENESIS = "0" * 64
LARGE_BATCH = 256
"""Batches from this many events on are written with the larger checkpoint interval."""
WAL_PAGES_DEFAULT = 1_000  # SQLite's own default for wal_autocheckpoint
WAL_PAGES_LARGE_BATCH = 10_000
# An Event's columns as a row tuple, built in C (one per inserted event).
_EVENT_ROW = attrgetter(*EVENT_COLUMNS.split(", "))


def _row_to_event(row: tuple[object, ...]) -> Event:
    return Event(*row)  # type: ignore[arg-type]


class SQLiteTransaction:
    """The write transaction handed to the service inside BEGIN IMMEDIATE."""

    history_by_subject = True
    """``SQLiteStore.history_of`` adds the subject's own events (sqlite_projections)."""

    def __init__(self, conn: sqlite3.Connection, wal_pages: list[int] | None = None) -> None:
        self._conn = conn
        # The connection's wal_autocheckpoint as last set, kept by the store
        # across transactions (the pragma is per connection and only
        # _pace_checkpoints sets it), so a commit reads it at most once.
        self._wal_pages = wal_pages
        self.large_batch_events = 0
        """Events inserted in batches of LARGE_BATCH or more (the store may then
        checkpoint in the background after the commit)."""

    def head(self) -> Head:
        row = self._conn.execute(
            "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return Head(0, _GENESIS) if row is None else Head(row[0], row[1])

    def events_by_id(self, ids: Sequence[str]) -> dict[str, Event]:
        found: dict[str, Event] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE id IN ({marks})", chunk
            ):
                found[row[1]] = _row_to_event(row)
        return found

    def insert_events(self, events: Sequence[Event]) -> None:
        _pace_checkpoints(self._conn, len(events), self._wal_pages)
        if len(events) >= LARGE_BATCH:
            self.large_batch_events += len(events)
        self._conn.executemany(
            f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
            map(_EVENT_ROW, events),
        )

    def merkle_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        return fetch_nodes(self._conn, ids)

    def insert_merkle_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        if nodes:
            self._conn.executemany(
                "INSERT INTO merkle_nodes (level, idx, hash) VALUES (?,?,?)", nodes
            )

    def get_docs(self, keys: Sequence[str]) -> dict[str, bytes]:
        return proj.get_docs(self._conn, keys)

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def reset_projections(self) -> None:
        reset_projections(self._conn)

    def set_meta(self, key: str, value: str) -> None:
        set_meta(self._conn, key, value)

    def write_projection(
        self,
        docs: Sequence[tuple[str, bytes, int]],
        intervals: Sequence[proj.IntervalRow],
        edges: Sequence[proj.EdgeRow],
        position: int,
        history: Sequence[tuple[str, int]] = (),
    ) -> None:
        proj.put_docs(self._conn, docs)
        proj.add_intervals(self._conn, intervals)
        proj.add_edges(self._conn, edges)
        if history:
            self._conn.executemany(
                "INSERT OR IGNORE INTO proj_history (key, seq) VALUES (?, ?)", history
            )
        set_meta(self._conn, "projection_seq", str(position))


def _pace_checkpoints(conn: sqlite3.Connection, batch: int, known: list[int] | None = None) -> None:
    """Checkpoint the WAL less often while large batches are being written.

    A 1,000-event batch of random-UUID index inserts dirties hundreds of pages,
    so SQLite's default (checkpoint once the WAL holds 1,000 pages) writes and
    fsyncs the database file after nearly every commit; every ~10,000 pages
    writes each hot index page once instead of many times (+20% for 1,000-event
    batches at 200k events, docs/benchmarks.md). Small commits keep the
    default: a WAL that must grow to 10,000 pages first costs each small
    commit a file-size change in its fsync (-20% for one event per commit on a
    fresh file). Durability is unchanged either way: a commit is durable once
    the WAL is fsynced (synchronous=FULL).

    ``known`` (one item, or empty when not yet read) caches the connection's
    setting between calls, saving a statement per single-event commit.
    """
    pages = WAL_PAGES_LARGE_BATCH if batch >= LARGE_BATCH else WAL_PAGES_DEFAULT
    if known is None:
        known = []
    if not known:
        known.append(conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
    if known[0] != pages:
        conn.execute(f"PRAGMA wal_autocheckpoint = {pages}")
        known[0] = pages


def stream_rows(
    conn: sqlite3.Connection, start: int, end: int | None, *, fetch: int
) -> Iterator[EventRow]:
    """Events ``start``..``end`` (``None``: to the head) as ``EventRow`` tuples, in seq order,
    fetched ``fetch`` rows at a time."""
    query = f"SELECT {EVENT_COLUMNS} FROM events WHERE seq >= ?"
    args: tuple[int, ...] = (start,)
    if end is not None:
        query += " AND seq <= ?"
        args = (start, end)
    try:
        cursor = conn.execute(query + " ORDER BY seq", args)
        while rows := cursor.fetchmany(fetch):
            yield from rows
    except sqlite3.Error as exc:
        raise StoreError(f"read failed: {exc}") from None


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def reset_projections(conn: sqlite3.Connection) -> None:
    for table in proj.PROJECTION_TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    for statement in proj.SCHEMA_V2:
        conn.execute(statement)
    set_meta(conn, "projection_seq", "0")
    set_meta(conn, "projection_epoch", uuid.uuid4().hex)


def fetch_nodes(conn: sqlite3.Connection, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
    """Perfect-subtree hashes; leaves (level 0) are hashed from the event bodies."""
    out: dict[NodeId, bytes] = {}
    for level, idx in ids:
        if level == 0:
            row = conn.execute("SELECT body FROM events WHERE seq = ?", (idx + 1,)).fetchone()
            if row is not None:
                out[(level, idx)] = leaf_hash(row[0])
        else:
            row = conn.execute(
                "SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?", (level, idx)
            ).fetchone()
            if row is not None:
                out[(level, idx)] = row[0]
    return out
