"""The PostgreSQL store (psycopg 3 with a connection pool).

Select it with a ``postgresql://`` URL. The ledger lives in the connection's
current schema, so one database can hold several ledgers: put
``options=-csearch_path%3Dmy_ledger`` in the URL's query to pick one (the
schema must exist).

Serialization: every write transaction starts with
``pg_advisory_xact_lock(APPEND_LOCK, <schema key>)``, so appends from any
number of processes on any number of hosts queue up on the server, and only
then read the head. The lock is released only when the transaction ends, and
PostgreSQL makes a commit visible before it releases the committing
transaction's locks; the next writer's head query (a new READ COMMITTED
snapshot, taken after the lock is granted) therefore sees the previous batch.
Seqs are computed from that head, never from a SEQUENCE (which would leave
gaps on rollback), and ``seq`` is the primary key, so the chain can neither
fork nor skip.

The lock and the head query go out in one pipeline with ``BEGIN`` (and the
id lookup, unless the caller declared its ids new: ``assume_new``), and the
rows and the ``NOTIFY`` with ``COMMIT`` (``ledger.store.postgres_rows``): the
server still runs them one after the other, so the head query's snapshot is
taken after the lock is granted, but a small append costs two round trips
instead of eight, and the lock is held that much shorter.

Readers never skip a seq that commits late: seq N+1 is written only by a
transaction that obtained the lock after the one writing seq N had committed
and become visible, so seqs become visible in order and any snapshot that
shows N+1 also shows N. (Keep write transactions at READ COMMITTED: at
REPEATABLE READ the snapshot would be taken by the lock statement, before the
wait, and the head would be stale.)

Durability: a commit returns only after its WAL is flushed
(``synchronous_commit`` is turned back on for our sessions if the server
default is ``off``; stronger settings such as ``remote_apply`` are kept). A
process killed mid-append loses its connection, so the server rolls the
batch back and frees the lock; nothing was acknowledged, nothing is partial.

Append-only: statement-level triggers refuse UPDATE, DELETE and TRUNCATE on
``events``, ``merkle_runs`` (the Merkle nodes, a run of one level per row) and
``checkpoints``; a superuser can disable them, which is why ``verify``
re-derives everything from the bytes.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager, suppress

import psycopg
import psycopg_pool
from psycopg.rows import TupleRow

from ledger.events import Event
from ledger.store import postgres_projections as proj
from ledger.store.postgres_events import EVENT_COLUMNS, find_events, read_head
from ledger.store.postgres_listen import AppendListener, channel_for
from ledger.store.postgres_rows import PostgresTransaction, get_meta
from ledger.store.postgres_runs import copy_nodes, count_nodes, fetch_nodes, node_page
from ledger.store.postgres_schema import (
    APPEND_LOCK,
    append_only_trigger,
    merkle_runs_ddl,
    merkle_runs_keys,
    migrate,
)
from ledger.store.postgres_session import (
    CONNECT_TIMEOUT_S,
    Conn,
    configure,
    describe,
    redact,
    translated,
)
from ledger.store.protocol import Head, NodeId, StoredCheckpoint, StoreError, TokenRecord

__all__ = ["APPEND_LOCK", "PostgresStore"]

POOL_MAX = 8
READ_PAGE = 1000


class PostgresStore:
    """An event store in one PostgreSQL schema, shared by any number of processes.

    Thread-safe: every call borrows a connection from the pool (or, inside a
    write transaction, uses that transaction's connection). Opening runs the
    missing migrations (see ``ledger.store.postgres_schema``).

    Raises:
        StoreError: the server is unreachable, refuses us, or the schema
            cannot be migrated.
    """

    def __init__(self, url: str, *, max_connections: int = POOL_MAX) -> None:
        self.url = url
        self._where = redact(url)
        self._local = threading.local()
        self._listener: AppendListener | None = None
        self._listener_lock = threading.Lock()
        # A first, direct connection runs the migrations and reports a wrong
        # URL, a refused login or a missing schema at once, instead of after
        # the pool's reconnection attempts time out.
        try:
            with psycopg.connect(
                url, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT_S)
            ) as conn:
                configure(conn)
                row = conn.execute("SELECT current_schema()").fetchone()
                if row is None or row[0] is None:
                    raise StoreError(
                        f"cannot open PostgreSQL store {self._where}: the search_path "
                        "names no existing schema",
                        suggestion="CREATE SCHEMA it first, or fix options=-csearch_path=…",
                    )
                self.schema = str(row[0])
                # One lock key per schema: ledgers in different schemas of one
                # database append in parallel; a ledger's own writers queue up.
                self._lock_key = zlib.crc32(self.schema.encode()) - 2**31
                self._lock = (APPEND_LOCK, self._lock_key)
                self._channel = channel_for(self.schema)
                migrate(conn, self._lock_key)
            self._pool: psycopg_pool.ConnectionPool[Conn] = psycopg_pool.ConnectionPool(
                url,
                min_size=1,
                max_size=max(2, max_connections),
                kwargs={"autocommit": True},
                configure=configure,
                open=True,
                name="rollout-ledger",
                timeout=CONNECT_TIMEOUT_S,
            )
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot open PostgreSQL store {self._where}: {describe(exc)}"
            ) from None

    def __repr__(self) -> str:
        return f"PostgresStore({self._where!r}, schema={self.schema!r})"

    @contextmanager
    def _conn(self, what: str) -> Iterator[Conn]:
        """A connection: this thread's open write transaction if any, else one from the pool.

        Reusing the write transaction's connection matters: the service reads
        (catch-up, rebuild) while it holds the append lock, and with as many
        threads as pooled connections all queued on the lock, a second
        connection might never come. The transaction first sends the rows it
        keeps back, so such a read sees them.
        """
        active: PostgresTransaction | None = getattr(self._local, "tx", None)
        with translated(what):
            if active is not None:
                active.flush()
                yield active.conn
                return
            with self._pool.connection() as conn:
                yield conn

    @contextmanager
    def _write(self, what: str) -> Iterator[Conn]:
        """One transaction holding the append lock; commit on exit (durably), roll back on error.

        Inside this thread's open write transaction it is a savepoint of it.
        """
        outer: PostgresTransaction | None = getattr(self._local, "tx", None)
        with self._conn(what) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", self._lock)
            self._local.tx = tx = PostgresTransaction(conn, self._lock, self._channel, started=True)
            try:
                yield conn
                tx.flush()
                if outer is None:
                    tx.announce()  # a savepoint's events are announced by the outer commit
            except BaseException:
                # An open COPY holds the connection: cancel it, or the rollback
                # to the savepoint would wait for the connection forever.
                tx.discard()
                raise
            finally:
                self._local.tx = outer
        if outer is not None and tx.appended_head is not None:
            # The savepoint's events are the outer transaction's now: its kept
            # head (read once, then moved by its own inserts) must move too.
            outer.move_head(tx.appended_head)

    @contextmanager
    def transaction(self) -> Iterator[PostgresTransaction]:
        if getattr(self._local, "tx", None) is not None:
            # Nested in this thread's write transaction: a savepoint of it.
            with self._write("append failed"):
                yield self._local.tx
            return
        with self._conn("append failed") as conn:
            tx = PostgresTransaction(conn, self._lock, self._channel)
            self._local.tx = tx
            try:
                yield tx
                tx.commit()
            except BaseException:
                with suppress(psycopg.Error):
                    tx.rollback()
                raise
            finally:
                self._local.tx = None

    def head(self) -> Head:
        with self._conn("cannot read the head") as conn:
            return read_head(conn)

    def read(self, start: int = 1, end: int | None = None) -> Iterator[Event]:
        # Keyset pagination by seq: each page is one short statement on a
        # borrowed connection, so a slow consumer pins no connection and no
        # long transaction, and memory stays at one page. Seqs become visible
        # in order (module docstring), so no page can skip a late commit.
        if end is None:
            end = self.head().seq
        after = max(start, 1) - 1
        while after < end:
            with self._conn("read failed") as conn:
                cursor = conn.cursor(binary=True)
                cursor.execute(
                    f"SELECT {EVENT_COLUMNS} FROM events WHERE seq > %s AND seq <= %s"
                    " ORDER BY seq LIMIT %s",
                    (after, end, READ_PAGE),
                )
                page = [Event(*row) for row in cursor]
            yield from page
            if len(page) < READ_PAGE:
                return
            after = page[-1].seq

    def get(self, seq: int) -> Event | None:
        with self._conn("read failed") as conn:
            cursor = conn.cursor(binary=True)
            row = cursor.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE seq = %s", (seq,)
            ).fetchone()
        return None if row is None else Event(*row)

    def get_by_id(self, id: str) -> Event | None:
        with self._conn("read failed") as conn:
            cursor = conn.cursor(binary=True)
            row = cursor.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE id = %s", (id,)
            ).fetchone()
        return None if row is None else Event(*row)

    def merkle_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        with self._conn("cannot read Merkle nodes") as conn:
            return fetch_nodes(conn, ids)

    def merkle_node_page(self, level: int, start_idx: int, limit: int) -> list[tuple[int, bytes]]:
        """Stored nodes of one level with idx >= start_idx, in idx order."""
        with self._conn("cannot read Merkle nodes") as conn:
            return node_page(conn, level, start_idx, limit)

    def merkle_node_count(self) -> int:
        with self._conn("cannot count Merkle nodes") as conn:
            return count_nodes(conn)

    def reset_merkle(self, nodes: Iterator[Sequence[tuple[int, int, bytes]]]) -> None:
        # Merkle nodes are derived data. The triggers refuse DELETE and
        # TRUNCATE, so rebuilding fills a fresh table and swaps it in, all in
        # one transaction under the append lock (no append can add nodes to
        # the old table meanwhile). The keys are built after loading; their
        # indexes are renamed so the next rebuild can reuse the _new names.
        with self._write("cannot rebuild the Merkle tree") as conn:
            conn.execute("DROP TABLE IF EXISTS merkle_runs_new")
            for statement in merkle_runs_ddl("merkle_runs_new"):
                conn.execute(statement)
            for chunk in nodes:
                copy_nodes(conn, "merkle_runs_new", chunk)
            for statement in merkle_runs_keys("merkle_runs_new"):
                conn.execute(statement)
            conn.execute("DROP TABLE merkle_runs")
            conn.execute("ALTER TABLE merkle_runs_new RENAME TO merkle_runs")
            conn.execute("ALTER INDEX merkle_runs_new_pkey RENAME TO merkle_runs_pkey")
            conn.execute("ALTER INDEX merkle_runs_new_disjoint RENAME TO merkle_runs_disjoint")
            conn.execute(append_only_trigger("merkle_runs"))

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        with self._conn("cannot store the checkpoint") as conn:
            conn.execute(
                "INSERT INTO checkpoints (size, root_hash, note, created_at) VALUES (%s,%s,%s,%s)",
                (checkpoint.size, checkpoint.root_hash, checkpoint.note, checkpoint.created_at),
            )

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        with self._conn("cannot read checkpoints") as conn:
            row = conn.execute(
                "SELECT size, root_hash, note, created_at FROM checkpoints"
                " ORDER BY size DESC, id DESC LIMIT 1"
            ).fetchone()
        return None if row is None else _checkpoint(row)

    def checkpoints(self) -> list[StoredCheckpoint]:
        with self._conn("cannot read checkpoints") as conn:
            rows = conn.execute(
                "SELECT size, root_hash, note, created_at FROM checkpoints ORDER BY id"
            ).fetchall()
        return [_checkpoint(row) for row in rows]

    def get_meta(self, key: str) -> str | None:
        with self._conn("cannot read meta") as conn:
            return get_meta(conn, key)

    def set_meta(self, key: str, value: str) -> None:
        with self._conn("cannot write meta") as conn:
            proj.set_meta(conn, key, value)

    # ---- projections -------------------------------------------------------------

    def projection_position(self) -> int:
        value = self.get_meta("projection_seq")
        return int(value) if value else 0

    def history_of(self, key: str, limit: int = 1000) -> list[int]:
        """The seqs of the events that changed document ``key``, in order."""
        with self._conn("cannot read projections") as conn:
            return proj.history_of(conn, key, limit)

    def reset_projections(self) -> None:
        # Under the append lock, so no append projects into a table being replaced.
        with self._write("cannot reset the projections") as conn:
            proj.reset_projections(conn)

    def get_docs(self, keys: Sequence[str]) -> dict[str, bytes]:
        with self._conn("cannot read projections") as conn:
            return proj.get_docs(conn, keys)

    def docs_with_prefix(self, prefix: str, limit: int = 1000) -> list[tuple[str, bytes]]:
        """Documents whose key starts with ``prefix`` (e.g. every ``model:`` doc), by key."""
        with self._conn("cannot read projections") as conn:
            return proj.docs_with_prefix(conn, prefix, limit)

    def status_intervals(
        self,
        *,
        environment: str | None = None,
        model: str | None = None,
        at_time: str | None = None,
        at_seq: int | None = None,
        statuses: Collection[str] | None = None,
    ) -> list[tuple[object, ...]]:
        """Status intervals, optionally those in force at a time or seq, or with these statuses.

        Rows are (model, version, environment, status, exposure, strategy,
        seq, time, end_seq, end_time), ordered by seq.
        """
        with self._conn("cannot read projections") as conn:
            return proj.status_intervals(
                conn,
                environment=environment,
                model=model,
                at_time=at_time,
                at_seq=at_seq,
                statuses=statuses,
            )

    def edges(self, after_seq: int = 0) -> Iterator[proj.EdgeRow]:
        with self._conn("cannot read projections") as conn:
            rows = proj.edges_after(conn, after_seq)
        return iter(rows)

    def edges_of(self, refs: Sequence[str]) -> list[proj.EdgeRow]:
        """Edges touching any of ``refs`` (either end)."""
        with self._conn("cannot read projections") as conn:
            return proj.edges_of(conn, refs)

    def find_events(
        self,
        *,
        subjects: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        after_seq: int = 0,
        until_seq: int | None = None,
        time_from: str | None = None,
        time_to: str | None = None,
        limit: int = 1000,
    ) -> list[Event]:
        """Events matching every given filter, in seq order, at most ``limit``.

        Times filter ``occurred_at`` (RFC 3339 UTC strings compare in time order).
        """
        with self._conn("cannot search events") as conn:
            return find_events(
                conn,
                subjects=subjects,
                types=types,
                after_seq=after_seq,
                until_seq=until_seq,
                time_from=time_from,
                time_to=time_to,
                limit=limit,
            )

    def add_token(self, token: TokenRecord) -> None:
        with self._conn("cannot store the token") as conn:
            try:
                conn.execute(
                    "INSERT INTO tokens (name, role, token_hash, created_at, revoked_at)"
                    " VALUES (%s,%s,%s,%s,%s)",
                    (token.name, token.role, token.token_hash, token.created_at, token.revoked_at),
                )
            except psycopg.errors.UniqueViolation:
                raise StoreError(f"a token named {token.name!r} already exists") from None

    def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        with self._conn("cannot read tokens") as conn:
            row = conn.execute(
                "SELECT name, role, token_hash, created_at, revoked_at FROM tokens"
                " WHERE token_hash = %s",
                (token_hash,),
            ).fetchone()
        return None if row is None else TokenRecord(*row)

    def tokens(self) -> list[TokenRecord]:
        with self._conn("cannot read tokens") as conn:
            rows = conn.execute(
                "SELECT name, role, token_hash, created_at, revoked_at FROM tokens"
                ' ORDER BY name COLLATE "C"'
            ).fetchall()
        return [TokenRecord(*row) for row in rows]

    def revoke_token(self, name: str, revoked_at: str) -> bool:
        with self._conn("cannot revoke the token") as conn:
            cursor = conn.execute(
                "UPDATE tokens SET revoked_at = %s WHERE name = %s AND revoked_at IS NULL",
                (revoked_at, name),
            )
            return cursor.rowcount == 1

    def wait_for_append(self, after_seq: int, timeout: float) -> int:
        """Block until an event beyond ``after_seq`` is committed, by any process on any
        host, or ``timeout`` seconds pass; return the head seq either way.

        LISTEN/NOTIFY wakes the wait (see ``ledger.store.postgres_listen``);
        the returned head is read from the store, so a caller that reads
        ``after_seq + 1 .. head`` next never misses nor skips a seq.

        Raises:
            StoreError: the head cannot be read.
        """
        with self._listener_lock:
            if self._listener is None:
                self._listener = AppendListener(self.url, self.schema)
            listener = self._listener
        listener.wait_beyond(after_seq, timeout)
        return self.head().seq

    def close(self) -> None:
        with self._listener_lock:
            if self._listener is not None:
                self._listener.close()
        self._pool.close()


def _checkpoint(row: TupleRow) -> StoredCheckpoint:
    return StoredCheckpoint(int(row[0]), bytes(row[1]), str(row[2]), str(row[3]))
