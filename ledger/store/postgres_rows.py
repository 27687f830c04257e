"""How the PostgreSQL store moves events and Merkle nodes: the write transaction and row helpers.

Every round trip of a write happens while the append lock is held, so the
write transaction sends its statements in pipelines (see
``PostgresTransaction``); large batches go through binary ``COPY`` (no text
escaping of the bodies), streamed while the caller goes on, and lookups by
many ids or node ids are one query each (``unnest``), not one per item.

Merkle nodes are stored as runs (migration 8, ``postgres_schema.merkle_runs_ddl``):
one ``merkle_runs`` row holds the hashes of consecutive nodes of one level, so
a node is found by the run starting at or before its index (one backward
probe of the primary key) and cut out of it with ``substring``.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from typing import LiteralString

import psycopg
from psycopg import Copy
from psycopg.copy import LibpqWriter
from psycopg.rows import TupleRow

from ledger.events import Event
from ledger.merkle.hashing import leaf_hash
from ledger.store import postgres_projections
from ledger.store.postgres_schema import RUN_MAX
from ledger.store.protocol import Head, IdsTaken, NodeId, StoreError

__all__ = [
    "EVENT_COLUMNS",
    "Conn",
    "IdsTaken",
    "PostgresTransaction",
    "copy_nodes",
    "count_nodes",
    "fetch_nodes",
    "find_events",
    "get_meta",
    "node_page",
    "node_runs",
    "read_head",
]

EVENT_COLUMNS: LiteralString = (
    "seq, id, type, subject, actor, occurred_at, recorded_at, prev_hash, hash, body"
)
_EVENT_TYPES = ["int8", "text", "text", "text", "text", "text", "text", "text", "text", "bytea"]
_GENESIS = "0" * 64
_COPY_FROM = 8
"""Batches at least this large go through binary COPY; smaller ones through a pipelined
INSERT, which costs one round trip where COPY costs two."""

_HEAD: LiteralString = "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"


def _nodes_of(wanted: LiteralString) -> LiteralString:
    """(level, idx, hash) of every stored node among ``wanted``'s (level, idx) rows."""
    return f"""
    SELECT q.level, q.idx, substring(r.hashes FROM (q.idx - r.first_idx)::int4 * 32 + 1 FOR 32)
    FROM {wanted} CROSS JOIN LATERAL (
        SELECT m.first_idx, m.hashes FROM merkle_runs AS m
        WHERE m.level = q.level AND m.first_idx <= q.idx
        ORDER BY m.first_idx DESC LIMIT 1
    ) AS r
    WHERE q.idx < r.first_idx + length(r.hashes) / 32"""


_FRONTIER: LiteralString = f"""
    WITH head AS (SELECT coalesce(max(seq), 0) AS size FROM events),
    frontier AS (
        SELECT level, (size >> level) - 1 AS idx FROM head, generate_series(1, 62) AS level
        WHERE (size >> level) & 1 = 1
    )
    {_nodes_of("frontier AS q")}
    UNION ALL
    SELECT 0, seq - 1, body FROM events, head WHERE seq = size AND size % 2 = 1
"""
"""The head's Merkle frontier (``ledger.merkle.frontier_ids``: one perfect subtree per set
bit of the size; a lone leaf is hashed from its event's body), read in the transaction's
first round trip. A writer whose cached frontier is stale (another process appended
since) then extends the tree without one more round trip under the lock."""
_BY_ID: LiteralString = (
    f"SELECT {EVENT_COLUMNS} FROM events WHERE id IN (SELECT unnest(%s::text[]))"
)
"""Not ``id = ANY(%s)``: with a thousand ids the planner estimates a thousand rows and
scans the whole table (measured: a seq scan at 20k events); a join on the unnested ids
probes the unique index once per id."""
_INSERT_EVENT: LiteralString = (
    f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%b)"
)
_INSERT_RUN: LiteralString = (
    "INSERT INTO merkle_runs (level, first_idx, hashes) VALUES (%s, %s, %b)"
)
_COPY_RUNS_FROM = 64
"""A write of fewer runs (a 1,000-event append makes about a dozen) goes as pipelined
INSERTs with ``COMMIT``, in its round trip; COPY would cost two more."""
_ANNOUNCE: LiteralString = "SELECT pg_notify(%s, %s)"
"""Sent with COMMIT by a transaction that appended (migration 7 dropped the trigger that did
it): NOTIFY is delivered only if the transaction commits, in commit order."""
_ID_INDEX = "events_id_key"
"""The unique index on events.id (migration 1's ``UNIQUE``), which catches a stored id that
``assume_new`` let through."""

Conn = psycopg.Connection[TupleRow]


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
      there are ``_COPY_RUNS_FROM`` runs or more; the ``NOTIFY`` announcing
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
            head = conn.execute(_HEAD)
            frontier = conn.cursor(binary=True)
            frontier.execute(_FRONTIER)
            found = conn.cursor(binary=True)
            if ids:
                found.execute(_BY_ID, (list(dict.fromkeys(ids)),))
        self._started = True
        self._head = _head_of(head.fetchone())
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
        if len(self._runs) >= _COPY_RUNS_FROM:
            _copy_runs(self._conn, "merkle_runs", self._runs)
            self._runs = []

    def _write_small(self) -> None:
        """Queue INSERTs of what is left (the caller is in a pipeline, after ``_write_large``,
        which turned the kept nodes into runs)."""
        cursor = self._conn.cursor()
        if self._events:
            cursor.executemany(_INSERT_EVENT, [_event_row(e) for e in self._events])
            self._events = []
        if self._runs:
            cursor.executemany(_INSERT_RUN, self._runs)
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
        cursor.execute(_BY_ID, (list(dict.fromkeys(ids)),))
        return {row[1]: Event(*row) for row in cursor}

    def assume_new(self, ids: Sequence[str]) -> None:
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
            copy = stack.enter_context(cursor.copy(_COPY_EVENTS, writer=_Streaming(cursor)))
            copy.set_types(_EVENT_TYPES)
            self._copying = (stack, copy)
        write = self._copying[1].write_row
        for event in (*self._events, *events) if self._events else events:
            write(_event_row(event))
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


_event_row: Callable[[Event], tuple[object, ...]] = operator.attrgetter(
    "seq",
    "id",
    "type",
    "subject",
    "actor",
    "occurred_at",
    "recorded_at",
    "prev_hash",
    "hash",
    "body",
)
"""An event as a row in EVENT_COLUMNS order (one C call, no per-field Python bytecode)."""


_COPY_EVENTS: LiteralString = f"COPY events ({EVENT_COLUMNS}) FROM STDIN (FORMAT BINARY)"


class _Streaming(LibpqWriter):
    """Hands every block of COPY data to the socket at once (psycopg waits for 1 MB), so
    the server can index a batch while the client goes on."""

    def __init__(self, cursor: psycopg.Cursor[TupleRow]) -> None:
        super().__init__(cursor, flush_threshold=0)


def _head_of(row: TupleRow | None) -> Head:
    return Head(0, _GENESIS) if row is None else Head(int(row[0]), str(row[1]))


def read_head(conn: Conn) -> Head:
    return _head_of(conn.execute(_HEAD).fetchone())


def get_meta(conn: Conn, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
    return None if row is None else str(row[0])


def node_runs(nodes: Sequence[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    """``merkle_runs`` rows (level, first_idx, hashes) holding ``nodes`` (level, idx, hash).

    ``append_leaves`` hands over each level's nodes consecutive and in order,
    which costs no Python work per node here; anything else is sorted first.

    Raises:
        StoreError: a node is given twice, or a hash is not 32 bytes long.
    """
    runs: list[tuple[int, int, bytes]] = []
    for level, group in itertools.groupby(nodes, operator.itemgetter(0)):
        items = list(group)
        idxs = list(map(_IDX, items))
        first = idxs[0]
        if idxs != list(range(first, first + len(idxs))):
            runs.extend(_scattered_runs(level, items))
            continue
        hashes = b"".join(map(_HASH, items))
        if len(hashes) != 32 * len(items):
            raise StoreError(f"a Merkle node hash of level {level} is not 32 bytes long")
        step = 32 * RUN_MAX
        runs.extend(
            (level, first + k // 32, hashes[k : k + step]) for k in range(0, len(hashes), step)
        )
    return runs


_IDX = operator.itemgetter(1)
_HASH = operator.itemgetter(2)


def _scattered_runs(
    level: int, items: list[tuple[int, int, bytes]]
) -> list[tuple[int, int, bytes]]:
    """``node_runs`` for one level's nodes that are out of order or not consecutive."""
    items = sorted(items, key=_IDX)
    if any(a[1] == b[1] for a, b in itertools.pairwise(items)):
        raise StoreError(f"Merkle node ({level}, {items[0][1]}…) is given twice")
    runs: list[tuple[int, int, bytes]] = []
    start = 0
    for k in range(1, len(items) + 1):
        if k == len(items) or items[k][1] != items[k - 1][1] + 1:
            runs.extend(node_runs(items[start:k]))
            start = k
    return runs


def _copy_runs(conn: Conn, table: LiteralString, runs: Sequence[tuple[int, int, bytes]]) -> None:
    with conn.cursor().copy(
        f"COPY {table} (level, first_idx, hashes) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["int4", "int8", "bytea"])
        for run in runs:
            copy.write_row(run)


def copy_nodes(conn: Conn, table: LiteralString, nodes: Sequence[tuple[int, int, bytes]]) -> None:
    """Store ``nodes`` (level, idx, hash) as runs into ``table`` (a ``merkle_runs_ddl`` table)."""
    runs = node_runs(nodes)
    if len(runs) >= _COPY_RUNS_FROM:
        _copy_runs(conn, table, runs)
    elif runs:
        conn.cursor().executemany(
            f"INSERT INTO {table} (level, first_idx, hashes) VALUES (%s, %s, %b)", runs
        )


_PAGE: LiteralString = """
    WITH lo AS (
        SELECT coalesce(
            (SELECT r.first_idx FROM (
                SELECT first_idx, hashes FROM merkle_runs
                WHERE level = %(level)s AND first_idx <= %(at)s
                ORDER BY first_idx DESC LIMIT 1
             ) AS r WHERE r.first_idx + length(r.hashes) / 32 > %(at)s),
            (SELECT min(first_idx) FROM merkle_runs WHERE level = %(level)s AND first_idx > %(at)s)
        ) AS first_idx
    )
    SELECT m.first_idx, m.hashes FROM merkle_runs AS m, lo
    WHERE m.level = %(level)s AND m.first_idx >= lo.first_idx
        AND m.first_idx < greatest(lo.first_idx, %(at)s) + %(need)s
    ORDER BY m.first_idx
"""
"""The runs holding a level's nodes from index ``at`` on: from the run holding ``at`` (else
the next one, past a gap) up to ``need`` indices further."""


def node_page(conn: Conn, level: int, start_idx: int, limit: int) -> list[tuple[int, bytes]]:
    """Up to ``limit`` stored nodes (idx, hash) of ``level`` with idx >= ``start_idx``, by idx.

    A node is what ``fetch_nodes`` reads: cut from the run starting last at or
    before its index, if that run reaches it; so a run inserted over another
    (only possible behind the store's back) shadows it here as in proofs, and
    verify compares what proofs use. One query when the level has no gap
    there; each gap costs one more.
    """
    out: list[tuple[int, bytes]] = []
    at = start_idx
    cursor = conn.cursor(binary=True)
    while len(out) < limit:
        need = limit - len(out)
        cursor.execute(_PAGE, {"level": level, "at": at, "need": need})
        rows = cursor.fetchall()
        if not rows:
            break
        upper = max(int(rows[0][0]), at) + need  # the window's end: the next query's start
        for first_idx, raw in rows:
            first, hashes = int(first_idx), bytes(raw)
            while out and out[-1][0] >= max(first, at):
                out.pop()  # shadowed by this later run
            lo, hi = max(at, first) - first, min(len(hashes) // 32, upper - first)
            pieces = [hashes[k : k + 32] for k in range(32 * lo, 32 * hi, 32)]
            out.extend(zip(range(first + lo, first + hi), pieces, strict=True))
        at = upper
    return out[:limit]


def count_nodes(conn: Conn) -> int:
    row = conn.execute("SELECT coalesce(sum(length(hashes) / 32), 0) FROM merkle_runs").fetchone()
    return 0 if row is None else int(row[0])


_NODES: LiteralString = _nodes_of("unnest(%s::int4[], %s::int8[]) AS q(level, idx)")


def fetch_nodes(conn: Conn, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
    """Perfect-subtree hashes, two queries at most; leaves are hashed from the event bodies."""
    out: dict[NodeId, bytes] = {}
    leaves = [idx + 1 for level, idx in ids if level == 0]
    inner = [(level, idx) for level, idx in ids if level > 0]
    cursor = conn.cursor(binary=True)
    if leaves:
        cursor.execute("SELECT seq, body FROM events WHERE seq = ANY(%s::int8[])", (leaves,))
        for seq, body in cursor:
            out[(0, int(seq) - 1)] = leaf_hash(bytes(body))
    if inner:
        cursor.execute(_NODES, ([level for level, _ in inner], [idx for _, idx in inner]))
        for level, idx, hash_ in cursor:
            out[(int(level), int(idx))] = bytes(hash_)
    return out


def find_events(
    conn: Conn,
    *,
    subjects: Sequence[str] | None,
    types: Sequence[str] | None,
    after_seq: int,
    until_seq: int | None,
    time_from: str | None,
    time_to: str | None,
    limit: int,
) -> list[Event]:
    """Events matching every given filter, in seq order (``PostgresStore.find_events``)."""
    where: list[LiteralString] = ["seq > %s"]
    args: list[object] = [after_seq]
    if until_seq is not None:
        where.append("seq <= %s")
        args.append(until_seq)
    if subjects is not None:
        if not subjects:
            return []
        where.append("subject = ANY(%s)")
        args.append(list(subjects))
    if types is not None:
        if not types:
            return []
        where.append("type = ANY(%s)")
        args.append(list(types))
    # RFC 3339 UTC strings in the ledger's one format compare in time order
    # byte by byte; "C" matches the expression index of migration 2.
    if time_from is not None:
        where.append('occurred_at COLLATE "C" >= %s')
        args.append(time_from)
    if time_to is not None:
        where.append('occurred_at COLLATE "C" <= %s')
        args.append(time_to)
    args.append(limit)
    cursor = conn.cursor(binary=True)
    cursor.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE {' AND '.join(where)} ORDER BY seq LIMIT %s",
        args,
    )
    return [Event(*r) for r in cursor]
