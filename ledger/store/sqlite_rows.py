"""Row-level SQL of the SQLite store: the write transaction and shared helpers.

Everything here runs on a connection the caller already holds (and, for the
transaction, inside its ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from operator import attrgetter
from types import TracebackType
from typing import TypeAlias

from ledger.events import Event
from ledger.merkle.hashing import leaf_hash
from ledger.store import sqlite_projections as proj
from ledger.store.protocol import Head, NodeId, StoreError

__all__ = [
    "EVENT_COLUMNS",
    "EventRow",
    "SQLiteTransaction",
    "WriteScope",
    "begin",
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
_INSERT_EVENT = f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)"
_INSERT_NODE = "INSERT INTO merkle_nodes (level, idx, hash) VALUES (?,?,?)"
_HEAD = "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"
# The head as one more row of an id lookup: id NULL marks it (ids are NOT NULL).
_HEAD_ROW = (
    "SELECT * FROM (SELECT seq, NULL, NULL, NULL, NULL, NULL, NULL, NULL, hash, NULL"
    " FROM events ORDER BY seq DESC LIMIT 1)"
)


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
        self.events_inserted = 0
        # The head read along with the id lookup (a single append's one
        # statement less). Only valid before this transaction inserts: the
        # write lock is held since BEGIN IMMEDIATE, so nobody else can move it.
        self._head: Head | None = None

    def head(self) -> Head:
        if self._head is not None:
            return self._head
        row = self._conn.execute(_HEAD).fetchone()
        return Head(0, _GENESIS) if row is None else Head(row[0], row[1])

    def assume_new(self, ids: Sequence[str]) -> bool:
        # The lookup is in-process and brings the head along: nothing to save.
        return False

    def events_by_id(self, ids: Sequence[str]) -> dict[str, Event]:
        found: dict[str, Event] = {}
        head: Head | None = None
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT {EVENT_COLUMNS} FROM events WHERE id IN ({marks})"
            if start == 0 and not self.events_inserted:
                query += " UNION ALL " + _HEAD_ROW
                head = Head(0, _GENESIS)
            for row in self._conn.execute(query, chunk):
                if row[1] is None:
                    head = Head(row[0], row[8])
                else:
                    found[row[1]] = _row_to_event(row)
        self._head = head
        return found

    def insert_events(self, events: Sequence[Event]) -> None:
        self._head = None
        self.events_inserted += len(events)
        _pace_checkpoints(self._conn, len(events), self._wal_pages)
        if len(events) >= LARGE_BATCH:
            self.large_batch_events += len(events)
        if len(events) == 1:  # execute binds one row for less than executemany's iterator
            self._conn.execute(_INSERT_EVENT, _EVENT_ROW(events[0]))
        else:
            self._conn.executemany(_INSERT_EVENT, map(_EVENT_ROW, events))

    def merkle_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        return fetch_nodes(self._conn, ids)

    def insert_merkle_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        if len(nodes) == 1:
            self._conn.execute(_INSERT_NODE, nodes[0])
        elif nodes:
            self._conn.executemany(_INSERT_NODE, nodes)

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


class WriteScope:
    """``with``: the store's lock, ``BEGIN IMMEDIATE``, a ``SQLiteTransaction``,
    then ``COMMIT`` (or ``ROLLBACK`` on any exception), and ``after_commit``.

    A class rather than a generator context manager: a single-event append
    goes through it once per event, and the generator machinery was a
    measurable share of that append's Python (docs/benchmarks.md, run E).
    ``after_commit`` runs under the lock, after a successful ``COMMIT`` only.
    """

    __slots__ = ("_after_commit", "_conn", "_lock", "_tx", "_wal_pages")

    def __init__(
        self,
        lock: threading.RLock,
        conn: sqlite3.Connection,
        wal_pages: list[int],
        after_commit: Callable[[SQLiteTransaction], object],
    ) -> None:
        self._lock = lock
        self._conn = conn
        self._wal_pages = wal_pages
        self._after_commit = after_commit

    def __enter__(self) -> SQLiteTransaction:
        # Made first: nothing between a BEGIN that took effect and the body
        # may raise without being undone (see ``begin``).
        tx = SQLiteTransaction(self._conn, self._wal_pages)
        self._lock.acquire()
        try:
            begin(self._conn)
        except BaseException:
            self._lock.release()
            raise
        self._tx = tx
        return tx

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._conn
        try:
            if exc_type is not None:
                try:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                except sqlite3.Error as failed:
                    raise StoreError(f"write failed: {failed}") from None
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"write failed: {exc}") from None
                return  # the body's own exception propagates
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as failed:
                with suppress(sqlite3.Error):
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                raise StoreError(f"commit failed: {failed}") from None
            self._after_commit(self._tx)
        finally:
            self._lock.release()


def begin(conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE`` on ``conn``; if anything interrupts it (a signal's
    exception is raised as the statement returns, after a BEGIN that waited
    for the write lock has taken it), the write lock is given back at once:
    a connection left inside the transaction would keep it until closed,
    failing every later write of its store and stalling every other writer.

    Raises:
        StoreError: the BEGIN failed (busy for ``busy_timeout``, or already
            inside a transaction: a nested write scope, which is left alone).
    """
    outer = conn.in_transaction  # a scope already open on this connection
    try:
        conn.execute("BEGIN IMMEDIATE")
    except BaseException as exc:
        if not outer and conn.in_transaction:  # our BEGIN took effect
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"cannot begin a write: {exc}") from None
        raise


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
