"""The embedded SQLite store (sqlite-utils over the stdlib driver).

Durability: WAL with ``synchronous=FULL``. In WAL mode FULL syncs the log on
every commit, so an acknowledged append survives a crash of the process *and*
of the machine; NORMAL would survive ``kill -9`` but could lose the last
commits on power loss, which an audit ledger must not.

Serialization: every append runs in ``BEGIN IMMEDIATE``, which takes SQLite's
single write lock before reading the head, so threads and processes queue
up (``busy_timeout``) instead of forking the chain.

Checkpoints: once a process has committed a few thousand events in large
batches, or a hundred smaller commits, a background thread copies the
WAL into the database file (``wal_checkpoint(PASSIVE)``, on a connection of
its own; sqlite3 releases the GIL meanwhile), so the writer's own automatic
checkpoint, which still bounds the WAL, finds little left to copy. It never
touches durability: a commit is durable once its WAL frames are fsynced.

Append-only: triggers refuse UPDATE and DELETE on ``events``, ``merkle_nodes``
and ``checkpoints``; someone who drops them can still edit rows, which is why
``verify`` re-derives everything from the bytes.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from ledger.events import Event
from ledger.store import sqlite_projections as proj
from ledger.store.protocol import Head, NodeId, StoredCheckpoint, StoreError, TokenRecord
from ledger.store.sqlite_checkpoint import CheckpointPacer
from ledger.store.sqlite_rows import (
    EVENT_COLUMNS,
    EventRow,
    SQLiteTransaction,
    WriteScope,
    begin,
    fetch_nodes,
    set_meta,
    stream_rows,
)
from ledger.store.sqlite_schema import SCHEMA_V1, append_only_triggers

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

SCHEMA_VERSION = 5
BUSY_TIMEOUT_MS = 120_000
BACKGROUND_CHECKPOINT_EVENTS = 5_000
"""Events committed in large batches between two background checkpoints."""
BACKGROUND_CHECKPOINT_COMMITS = 100
"""Smaller commits (under LARGE_BATCH events) between two background checkpoints
(sqlite_checkpoint.CheckpointPacer says why)."""


class SQLiteStore:
    """An event store in one SQLite file (or ``:memory:`` for tests).

    One connection, guarded by a lock so threads may share the store; other
    processes open their own store on the same file and are serialized by
    SQLite's write lock.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.url = self.path
        # Every connection opened later (streaming reads, per-thread readers,
        # the checkpoint thread, the API's commit lock beside it) opens this
        # file, not whatever a relative path names once the process has
        # changed directory.
        self.file = self.path if self.path in (":memory:", "") else os.path.abspath(self.path)
        try:
            self._conn = sqlite3.connect(
                self.file,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self.db = sqlite_utils.Database(self._conn)
            self._lock = threading.RLock()
            self._wal_pages: list[int] = []  # see sqlite_rows._pace_checkpoints
            self._pacer = CheckpointPacer(self.file)
            self._closed = False
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store {self.path}: {exc}") from None

    def _migrate(self) -> None:
        if self._conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return
        with self._write():
            # Re-read under the write lock: another process may have migrated meanwhile.
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version < 1:
                for statement in SCHEMA_V1:
                    self._conn.execute(statement)
                for table in ("events", "merkle_nodes", "checkpoints"):
                    for statement in append_only_triggers(table):
                        self._conn.execute(statement)
            if version < 2:
                for statement in proj.SCHEMA_V2:
                    self._conn.execute(statement)
            if version < 3:
                for statement in proj.SCHEMA_V3:
                    self._conn.execute(statement)
            if version < 4:
                for statement in proj.SCHEMA_V4:
                    self._conn.execute(statement)
            if version < 5:
                for statement in proj.SCHEMA_V5:
                    self._conn.execute(statement)
            self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            begin(self._conn)
            try:
                yield self._conn
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise StoreError(f"commit failed: {exc}") from None

    def transaction(self) -> WriteScope:
        return WriteScope(self._lock, self._conn, self._wal_pages, self._after_commit)

    def _after_commit(self, tx: SQLiteTransaction) -> None:
        # The thresholds are read here, at call time, so tests can lower them.
        self._pacer.after_commit(tx, BACKGROUND_CHECKPOINT_EVENTS, BACKGROUND_CHECKPOINT_COMMITS)

    def head(self) -> Head:
        with self._lock:
            return SQLiteTransaction(self._conn).head()

    def read(self, start: int = 1, end: int | None = None) -> Iterator[Event]:
        for row in self.read_rows(start, end):
            yield Event(*row)

    def read_rows(self, start: int = 1, end: int | None = None) -> Iterator[EventRow]:
        """Events as plain tuples in ``EVENT_COLUMNS`` order (verify's hot loop
        builds no object per event)."""
        # A separate connection: a long streaming read must neither hold the
        # shared connection's lock nor see a half-written transaction.
        reader = (
            sqlite3.connect(self.file, check_same_thread=False) if self.path != ":memory:" else None
        )
        try:
            yield from stream_rows(reader or self._conn, start, end, fetch=1024)
        finally:
            if reader is not None:
                reader.close()

    def get(self, seq: int) -> Event | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE seq = ?", (seq,)
            ).fetchone()
        return None if row is None else Event(*row)

    def get_by_id(self, id: str) -> Event | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ?", (id,)
            ).fetchone()
        return None if row is None else Event(*row)

    def merkle_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        with self._lock:
            return fetch_nodes(self._conn, ids)

    def merkle_node_page(self, level: int, start_idx: int, limit: int) -> list[tuple[int, bytes]]:
        """Stored nodes of one level with idx >= start_idx, in idx order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT idx, hash FROM merkle_nodes WHERE level = ? AND idx >= ?"
                " ORDER BY idx LIMIT ?",
                (level, start_idx, limit),
            ).fetchall()
        return [(i, h) for i, h in rows]

    def merkle_node_count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM merkle_nodes").fetchone()[0])

    def reset_merkle(self, nodes: Iterator[Sequence[tuple[int, int, bytes]]]) -> None:
        # Merkle nodes are derived data: rebuilding swaps in a fresh table in
        # one transaction (DROP is not an UPDATE/DELETE, the triggers go with it).
        with self._write() as conn:
            conn.execute("DROP TABLE IF EXISTS merkle_nodes_new")
            conn.execute(
                "CREATE TABLE merkle_nodes_new (level INTEGER NOT NULL, idx INTEGER NOT NULL,"
                " hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID"
            )
            for chunk in nodes:
                conn.executemany("INSERT INTO merkle_nodes_new VALUES (?,?,?)", chunk)
            conn.execute("DROP TABLE merkle_nodes")
            conn.execute("ALTER TABLE merkle_nodes_new RENAME TO merkle_nodes")
            for statement in append_only_triggers("merkle_nodes"):
                conn.execute(statement)

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO checkpoints (size, root_hash, note, created_at) VALUES (?,?,?,?)",
                (checkpoint.size, checkpoint.root_hash, checkpoint.note, checkpoint.created_at),
            )

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT size, root_hash, note, created_at FROM checkpoints"
                " ORDER BY size DESC, id DESC LIMIT 1"
            ).fetchone()
        return None if row is None else StoredCheckpoint(*row)

    def checkpoints(self) -> list[StoredCheckpoint]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT size, root_hash, note, created_at FROM checkpoints ORDER BY id"
            ).fetchall()
        return [StoredCheckpoint(*row) for row in rows]

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as conn:
            set_meta(conn, key, value)

    # ---- projections -------------------------------------------------------------

    def projection_position(self) -> int:
        value = self.get_meta("projection_seq")
        return int(value) if value else 0

    def get_docs(self, keys: Sequence[str]) -> dict[str, bytes]:
        with self._lock:
            return proj.get_docs(self._conn, keys)

    def docs_with_prefix(self, prefix: str, limit: int = 1000) -> list[tuple[str, bytes]]:
        """Documents whose key starts with ``prefix`` (e.g. every ``model:`` doc), by key."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, doc FROM proj_docs WHERE key >= ? AND key < ? ORDER BY key LIMIT ?",
                (prefix, prefix + "\U0010ffff", limit),
            ).fetchall()
        return [(k, d) for k, d in rows]

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
        with self._lock:
            return proj.status_intervals(
                self._conn,
                environment=environment,
                model=model,
                at_time=at_time,
                at_seq=at_seq,
                statuses=statuses,
            )

    def history_of(self, key: str, limit: int = 1000) -> list[int]:
        """The seqs of the events that changed document ``key``, in order."""
        with self._lock:
            return proj.history_of(self._conn, key, limit)

    def edges(self, after_seq: int = 0) -> Iterator[proj.EdgeRow]:
        with self._lock:
            rows = list(proj.iter_edges(self._conn, after_seq))
        return iter(rows)

    def edges_of(self, refs: Sequence[str]) -> list[proj.EdgeRow]:
        """Edges touching any of ``refs`` (either end)."""
        out: list[proj.EdgeRow] = []
        with self._lock:
            for start in range(0, len(refs), 400):
                chunk = list(refs[start : start + 400])
                marks = ",".join("?" * len(chunk))
                out += self._conn.execute(
                    "SELECT source, target, relation, seq, time FROM proj_edges"
                    f" WHERE source IN ({marks}) UNION SELECT source, target, relation, seq, time"
                    f" FROM proj_edges WHERE target IN ({marks})",
                    chunk + chunk,
                ).fetchall()
        return out

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
        where: list[str] = ["seq > ?"]
        args: list[object] = [after_seq]
        if until_seq is not None:
            where.append("seq <= ?")
            args.append(until_seq)
        for column, values in (("subject", subjects), ("type", types)):
            if values is not None:
                if not values:
                    return []
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                args += list(values)
        if time_from is not None:
            where.append("occurred_at >= ?")
            args.append(time_from)
        if time_to is not None:
            where.append("occurred_at <= ?")
            args.append(time_to)
        args.append(limit)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE {' AND '.join(where)}"
                " ORDER BY seq LIMIT ?",
                args,
            ).fetchall()
        return [Event(*r) for r in rows]

    def add_token(self, token: TokenRecord) -> None:
        try:
            with self._write() as conn:
                conn.execute(
                    "INSERT INTO tokens (name, role, token_hash, created_at, revoked_at)"
                    " VALUES (?,?,?,?,?)",
                    (token.name, token.role, token.token_hash, token.created_at, token.revoked_at),
                )
        except sqlite3.IntegrityError:
            raise StoreError(f"a token named {token.name!r} already exists") from None

    def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT name, role, token_hash, created_at, revoked_at FROM tokens"
                " WHERE token_hash = ?",
                (token_hash,),
            ).fetchone()
        return None if row is None else TokenRecord(*row)

    def tokens(self) -> list[TokenRecord]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, role, token_hash, created_at, revoked_at FROM tokens ORDER BY name"
            ).fetchall()
        return [TokenRecord(*row) for row in rows]

    def revoke_token(self, name: str, revoked_at: str) -> bool:
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (revoked_at, name),
            )
            return cursor.rowcount == 1

    def reader(self) -> SQLiteStore:
        """The calling thread's read-only view of this store (a ``SQLiteThreadReader``).

        Its read methods run on a connection of the thread's own, without the
        store's lock: in WAL mode a reader sees the last committed state and
        never waits for the writer's commit (fsync), nor for other readers. A
        ``:memory:`` store has one connection, so it is its own reader.
        """
        return SQLiteThreadReader.of(self)

    def close(self) -> None:
        """Close the store: its connection, every thread's reader connection
        (``reader``) and the checkpoint thread. Closing twice is harmless."""
        with self._lock:
            self._pacer.close()
            with _READERS_GUARD:
                # A reader left open would close later, at a random moment, as
                # the file's last connection (deleting -wal and -shm then).
                self._closed = True
                for _thread, conn in self.__dict__.pop("_reader_conns", []):
                    conn.close()
            self._conn.close()


_READERS_GUARD = threading.Lock()


class SQLiteThreadReader(SQLiteStore):
    """One thread's read-only view of a ``SQLiteStore`` (see ``SQLiteStore.reader``).

    It shares the store's state but has its own connection (``query_only``:
    a write through it fails) and its own lock, so reads on different threads
    never queue behind each other or behind the writer. Views of threads that
    have ended are closed when the next one is made.
    """

    @classmethod
    def of(cls, store: SQLiteStore) -> SQLiteStore:
        if store.path == ":memory:" or isinstance(store, SQLiteThreadReader):
            return store
        if store.__dict__.get("_closed"):
            raise StoreError(f"the SQLite store {store.path} is closed")
        local: threading.local | None = store.__dict__.get("_thread_readers")
        if local is None:
            with _READERS_GUARD:
                local = store.__dict__.setdefault("_thread_readers", threading.local())
        view: SQLiteThreadReader | None = getattr(local, "view", None)
        if view is None:
            view = cls._open(store)
            local.view = view
        return view

    @classmethod
    def _open(cls, store: SQLiteStore) -> SQLiteThreadReader:
        try:
            conn = sqlite3.connect(
                store.file,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA query_only = 1")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open a reader of SQLite store {store.path}: {exc}") from None
        view = cls.__new__(cls)
        view.__dict__.update(store.__dict__)
        view._conn = conn
        view._wal_pages = []  # the pragma is per connection
        view._pacer = CheckpointPacer(":memory:")  # a read-only view never writes
        view.db = sqlite_utils.Database(conn)
        view._lock = threading.RLock()
        with _READERS_GUARD:
            if store.__dict__.get("_closed"):
                conn.close()
                raise StoreError(f"the SQLite store {store.path} is closed")
            # Close the connections of threads that ended (thread pools retire idle threads).
            opened: list[tuple[threading.Thread, sqlite3.Connection]] = store.__dict__.setdefault(
                "_reader_conns", []
            )
            for thread, old in [t for t in opened if not t[0].is_alive()]:
                old.close()
                opened.remove((thread, old))
            opened.append((threading.current_thread(), conn))
        return view

    def read_rows(self, start: int = 1, end: int | None = None) -> Iterator[EventRow]:
        # The connection is this thread's own: no second connection per read.
        yield from stream_rows(self._conn, start, end, fetch=4096)

    def close(self) -> None:
        """Close this view's connection only; the store stays open."""
        with self._lock:
            self._conn.close()
