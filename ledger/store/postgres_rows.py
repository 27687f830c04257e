"""How the PostgreSQL store writes: the write transaction holding the append lock.

Every round trip of a write happens while the append lock is held, so the
write transaction sends its statements in pipelines (see
``PostgresTransaction``); large batches go through binary ``COPY`` (no text
escaping of the bodies), streamed while the caller goes on, and lookups by
many ids or node ids are one query each (``unnest``), not one per item.

How events become rows is ``ledger.store.postgres_events``; how Merkle nodes
are stored as runs and read back is ``ledger.store.postgres_runs``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from typing import LiteralString

import psycopg
from psycopg import Copy
from psycopg.copy import LibpqWriter
from psycopg.rows import TupleRow

from ledger.events import Event
from ledger.merkle.hashing import leaf_hash
from ledger.store import postgres_projections
from ledger.store.postgres_events import (
    BY_ID,
    COPY_EVENTS,
    EVENT_TYPES,
    HEAD,
    INSERT_EVENT,
    event_row,
    head_of,
    read_head,
)
from ledger.store.postgres_runs import (
    COPY_RUNS_FROM,
    FRONTIER,
    INSERT_RUN,
    copy_runs,
    fetch_nodes,
    node_runs,
)
from ledger.store.postgres_session import Conn
from ledger.store.protocol import Head, IdsTaken, NodeId, StoreError

__all__ = ["PostgresTransaction", "get_meta"]

_COPY_FROM = 8
"""Batches at least this large go through binary COPY; smaller ones through a pipelined
INSERT, which costs one round trip where COPY costs two."""
_ANNOUNCE: LiteralString = "SELECT pg_notify(%s, %s)"
"""Sent with COMMIT by a transaction that appended (migration 7 dropped the trigger that did
it): NOTIFY is delivered only if the transaction commits, in commit order."""
_ID_INDEX = "events_id_key"
"""The unique index on events.id (migration 1's ``UNIQUE``), which catches a stored id that
``assume_new`` let through."""


class PostgresTransaction:
    """The write transaction handed to the service, holding the append lock.

    Round trips, not rows, are what an append pays for while every other
    writer waits on the lock, so the transaction costs two of them when the
    batch is small (two more for the events' COPY when it is large):

    - it starts with its first call, which sends ``BEGIN``, the lock, the head
      query, the head's Merkle frontier and, when that first call is
      ``events_by_id``, the id lookup as one pipeline. The server runs them in
      order, so the head query's snapshot is taken after the lock is granted
      (see ``ledger.store.postgres``);
    - small batches of events, and Merkle nodes, are kept until the commit (or
      until a read that could see them), then sent with ``COMMIT``: as
      pipelined INSERTs in the commit's round trip (a 1,000-event batch's
      nodes are a dozen ``merkle_runs`` rows), or by binary COPY first when
      there are ``COPY_RUNS_FROM`` runs or more; the ``NOTIFY`` announcing
      the append (``announce``) goes with them;
    - a large batch of events (``_COPY_FROM`` or more) is streamed by binary
      COPY as soon as it is inserted, and the COPY is left open: the server
      indexes the rows while the service computes the Merkle tree. Whatever
      uses the connection next (the ``_conn`` property) ends the COPY first.

    With ``assume_new`` the first round trip skips the id lookup; the unique
    index then finds a stored id at the write, which raises ``IdsTaken``.

    A write refused at the commit (it cannot be, under the lock, but a driver
    or server fault can) fails the whole transaction, as it would have failed
    the call that made it.
    """

    history_by_subject = True
    """``PostgresStore.history_of`` adds the subject's own events (postgres_projections)."""

    def __init__(
        self, conn: Conn, lock: tuple[int, int], channel: str, *, started: bool = False
    ) -> None:
        self._raw = conn
        self._copying: tuple[ExitStack, Copy] | None = None
        self._lock = lock
        self._channel = channel
        self._started = started
        self._unchecked = False
        self._head: Head | None = None
        self._events: list[Event] = []
        self._nodes: list[tuple[int, int, bytes]] = []
        self._runs: list[tuple[int, int, bytes]] = []  # the kept nodes as merkle_runs rows
        # Perfect-subtree hashes never change once complete, so any node read
        # here stays right for the whole transaction, whatever it appends.
        self._nodes_known: dict[NodeId, bytes] = {}
        self.appended_head: Head | None = None
        """The last event this transaction inserted (None: it inserted none)."""

    @property
    def conn(self) -> Conn:
        return self._conn

    @property
    def _conn(self) -> Conn:
        """The connection, for anything but the events' COPY: that COPY is ended first
        (it holds the connection; its rows become visible to what follows)."""
        if self._copying is not None:
            self._end_copy()
        return self._raw

    def _end_copy(self) -> None:
        """Send the rest of the open events COPY and wait for the server to take it all."""
        assert self._copying is not None
        stack, _ = self._copying
        self._copying = None
        with self._ids_checked():
            stack.close()

    def _abort_copy(self) -> None:
        """Cancel the open events COPY, if any (the transaction is being rolled back)."""
        if self._copying is not None:
            stack, _ = self._copying
            self._copying = None
            failed = StoreError("the append was abandoned")
            with suppress(psycopg.Error):
                stack.__exit__(StoreError, failed, None)

    def _start(self, ids: Sequence[str] = ()) -> dict[str, Event]:
        """BEGIN, lock, head, frontier (and the ids' events) in one round trip; return those."""
        conn = self._conn
        with conn.pipeline():
            # Explicit READ COMMITTED whatever default_transaction_isolation
            # says: at REPEATABLE READ or SERIALIZABLE the snapshot would be
            # taken by the lock statement, before the wait, and the head
            # would be stale (a fork).
            conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", self._lock)
            head = conn.execute(HEAD)
            frontier = conn.cursor(binary=True)
            frontier.execute(FRONTIER)
            found = conn.cursor(binary=True)
            if ids:
                found.execute(BY_ID, (list(dict.fromkeys(ids)),))
        self._started = True
        self._head = head_of(head.fetchone())
        for level, idx, hash_ in frontier:
            node = (int(level), int(idx))
            self._nodes_known[node] = leaf_hash(bytes(hash_)) if level == 0 else bytes(hash_)
        return {row[1]: Event(*row) for row in found} if ids else {}

    def _ensure_started(self) -> None:
        if not self._started:
            self._start()

    def flush(self) -> None:
        """Send the kept events and nodes (before a read that could see them)."""
        self._ensure_started()
        with self._ids_checked():
            self._write_large()
            if self._events or self._runs:
                with self._conn.pipeline():
                    self._write_small()

    def announce(self) -> None:
        """Queue the NOTIFY of what this transaction appended, if anything (sent with COMMIT)."""
        if self.appended_head is not None:
            self._conn.execute(_ANNOUNCE, (self._channel, str(self.appended_head.seq)))

    def commit(self) -> None:
        """Write what is kept, announce it and COMMIT (durably: synchronous_commit is on)."""
        if not self._started:
            return  # nothing was locked, read or written
        with self._ids_checked():
            self._write_large()
            with self._conn.pipeline():
                self._write_small()
                self.announce()
                done = self._conn.execute("COMMIT")
        if done.statusmessage != "COMMIT":
            # PostgreSQL answers COMMIT of a transaction that already failed (an
            # error someone caught and went on) with ROLLBACK, and no error.
            raise StoreError("append failed: the transaction had failed; nothing was written")

    @contextmanager
    def _ids_checked(self) -> Iterator[None]:
        """Turn the unique index refusing an id declared new into IdsTaken."""
        try:
            yield
        except psycopg.errors.UniqueViolation as exc:
            if not self._unchecked or exc.diag.constraint_name != _ID_INDEX:
                raise
            self._events.clear()
            self._nodes.clear()
            self._runs.clear()
            raise IdsTaken(
                "append refused: an id given as new is already stored; nothing was written",
                suggestion="append again looking the ids up (events_by_id)",
            ) from None

    def discard(self) -> None:
        """Drop what is kept and cancel an open COPY (the caller rolls back)."""
        self._events.clear()
        self._nodes.clear()
        self._runs.clear()
        self._abort_copy()

    def rollback(self) -> None:
        self.discard()
        if self._started and not self._conn.closed:
            self._conn.execute("ROLLBACK")

    def _write_large(self) -> None:
        """COPY what is large (COPY cannot run in a pipeline; it costs two round trips)."""
        if self._copying is not None:
            self._end_copy()
        if self._nodes:
            self._runs.extend(node_runs(self._nodes))
            self._nodes = []
        if len(self._runs) >= COPY_RUNS_FROM:
            copy_runs(self._conn, "merkle_runs", self._runs)
            self._runs = []

    def _write_small(self) -> None:
        """Queue INSERTs of what is left (the caller is in a pipeline, after ``_write_large``,
        which turned the kept nodes into runs)."""
        cursor = self._conn.cursor()
        if self._events:
            cursor.executemany(INSERT_EVENT, [event_row(e) for e in self._events])
            self._events = []
        if self._runs:
            cursor.executemany(INSERT_RUN, self._runs)
            self._runs = []

    def head(self) -> Head:
        self._ensure_started()
        if self._head is None:
            self.flush()
            self._head = read_head(self._conn)
        return self._head

    def events_by_id(self, ids: Sequence[str]) -> dict[str, Event]:
        if not self._started:
            return self._start(ids)
        if not ids:
            return {}
        self.flush()
        cursor = self._conn.cursor(binary=True)
        cursor.execute(BY_ID, (list(dict.fromkeys(ids)),))
        return {row[1]: Event(*row) for row in cursor}

    def assume_new(self, ids: Sequence[str]) -> bool:
        """Treat ``ids`` as not stored, without looking them up (``events_by_id``'s lookup
        is about a tenth of a 1,000-event append).

        The unique index on ``id`` still checks every inserted id: if one is
        stored (a client retrying), the write raises ``IdsTaken`` and the
        transaction is rolled back, so the caller redoes the append with the
        lookup. Ids repeated within the batch are the caller's to merge.
        """
        self._ensure_started()
        if ids:
            self._unchecked = True
        return True

    def insert_events(self, events: Sequence[Event]) -> None:
        self._ensure_started()
        if not events:
            return
        # Under the lock nobody else appends: the head is the last event kept.
        self._head = self.appended_head = Head(events[-1].seq, events[-1].hash)
        if self._copying is None and len(self._events) + len(events) < _COPY_FROM:
            self._events.extend(events)
            return
        # A large batch is streamed now and the COPY left open: the server
        # indexes the rows while the caller computes the Merkle tree, instead
        # of after it. Whatever uses the connection next ends the COPY.
        if self._copying is None:
            stack = ExitStack()
            cursor = self._raw.cursor()
            copy = stack.enter_context(cursor.copy(COPY_EVENTS, writer=_Streaming(cursor)))
            copy.set_types(EVENT_TYPES)
            self._copying = (stack, copy)
        write = self._copying[1].write_row
        for event in (*self._events, *events) if self._events else events:
            write(event_row(event))
        self._events = []

    def move_head(self, head: Head) -> None:
        """A savepoint of this transaction appended up to ``head`` (PostgresStore._write)."""
        self._head = self.appended_head = head

    def merkle_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        known = self._nodes_known
        missing = [node for node in ids if node not in known]
        if missing or not self._started:
            self.flush()
            known.update(fetch_nodes(self._conn, missing))
        return {node: known[node] for node in ids if node in known}

    def insert_merkle_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        self._ensure_started()
        self._nodes.extend(nodes)

    def get_meta(self, key: str) -> str | None:
        self._ensure_started()
        return get_meta(self._conn, key)

    def set_meta(self, key: str, value: str) -> None:
        self._ensure_started()
        postgres_projections.set_meta(self._conn, key, value)

    def reset_projections(self) -> None:
        self._ensure_started()
        postgres_projections.reset_projections(self._conn)

    def get_docs(self, keys: Sequence[str]) -> dict[str, bytes]:
        self._ensure_started()
        return postgres_projections.get_docs(self._conn, keys)

    def write_projection(
        self,
        docs: Sequence[tuple[str, bytes, int]],
        intervals: Sequence[tuple[str, str, str, str, float, str | None, int, str]],
        edges: Sequence[tuple[str, str, str, int, str]],
        position: int,
        history: Sequence[tuple[str, int]] = (),
    ) -> None:
        self._ensure_started()
        postgres_projections.write_projection(self._conn, docs, intervals, edges, position, history)


class _Streaming(LibpqWriter):
    """Hands every block of COPY data to the socket at once (psycopg waits for 1 MB), so
    the server can index a batch while the client goes on."""

    def __init__(self, cursor: psycopg.Cursor[TupleRow]) -> None:
        super().__init__(cursor, flush_threshold=0)


def get_meta(conn: Conn, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
    return None if row is None else str(row[0])
