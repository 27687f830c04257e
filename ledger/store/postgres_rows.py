"""How the PostgreSQL store moves events and Merkle nodes: the write transaction and row helpers.

Batches go through binary ``COPY`` (one round trip for the rows, no text
escaping of the bodies); lookups by many ids or node ids are one query each
(``= ANY(array)``, ``unnest``), not one per item, since every round trip
happens while the append lock is held.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import LiteralString

import psycopg
from psycopg.rows import TupleRow

from ledger.events import Event
from ledger.merkle.hashing import leaf_hash
from ledger.store import postgres_projections
from ledger.store.protocol import Head, NodeId

__all__ = [
    "EVENT_COLUMNS",
    "Conn",
    "PostgresTransaction",
    "copy_nodes",
    "fetch_nodes",
    "get_meta",
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

Conn = psycopg.Connection[TupleRow]


class PostgresTransaction:
    """The write transaction handed to the service, holding the append lock."""

    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    def head(self) -> Head:
        return read_head(self._conn)

    def events_by_id(self, ids: Sequence[str]) -> dict[str, Event]:
        if not ids:
            return {}
        cursor = self._conn.cursor(binary=True)
        cursor.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ANY(%s)", (list(ids),))
        return {row[1]: Event(*row) for row in cursor}

    def insert_events(self, events: Sequence[Event]) -> None:
        rows = [
            (
                e.seq,
                e.id,
                e.type,
                e.subject,
                e.actor,
                e.occurred_at,
                e.recorded_at,
                e.prev_hash,
                e.hash,
                e.body,
            )
            for e in events
        ]
        cursor = self._conn.cursor()
        if len(rows) < _COPY_FROM:
            cursor.executemany(
                f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%b)",
                rows,
            )
            return
        with cursor.copy(f"COPY events ({EVENT_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_EVENT_TYPES)
            for row in rows:
                copy.write_row(row)

    def merkle_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
        return fetch_nodes(self._conn, ids)

    def insert_merkle_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        copy_nodes(self._conn, "merkle_nodes", nodes)

    def get_meta(self, key: str) -> str | None:
        return get_meta(self._conn, key)

    def set_meta(self, key: str, value: str) -> None:
        postgres_projections.set_meta(self._conn, key, value)

    def reset_projections(self) -> None:
        postgres_projections.reset_projections(self._conn)

    def get_docs(self, keys: Sequence[str]) -> dict[str, bytes]:
        return postgres_projections.get_docs(self._conn, keys)

    def write_projection(
        self,
        docs: Sequence[tuple[str, bytes, int]],
        intervals: Sequence[tuple[str, str, str, str, float, str | None, int, str]],
        edges: Sequence[tuple[str, str, str, int, str]],
        position: int,
        history: Sequence[tuple[str, int]] = (),
    ) -> None:
        postgres_projections.write_projection(self._conn, docs, intervals, edges, position, history)


def read_head(conn: Conn) -> Head:
    row = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return Head(0, _GENESIS) if row is None else Head(int(row[0]), str(row[1]))


def get_meta(conn: Conn, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = %s", (key,)).fetchone()
    return None if row is None else str(row[0])


def copy_nodes(conn: Conn, table: LiteralString, nodes: Sequence[tuple[int, int, bytes]]) -> None:
    if not nodes:
        return
    if len(nodes) < _COPY_FROM:
        conn.cursor().executemany(
            f"INSERT INTO {table} (level, idx, hash) VALUES (%s, %s, %b)", nodes
        )
        return
    with conn.cursor().copy(f"COPY {table} (level, idx, hash) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["int4", "int8", "bytea"])
        for node in nodes:
            copy.write_row(node)


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
        cursor.execute(
            "SELECT m.level, m.idx, m.hash FROM merkle_nodes AS m"
            " JOIN unnest(%s::int4[], %s::int8[]) AS q(level, idx) USING (level, idx)",
            ([level for level, _ in inner], [idx for _, idx in inner]),
        )
        for level, idx, hash_ in cursor:
            out[(int(level), int(idx))] = bytes(hash_)
    return out
