"""How the PostgreSQL store codes events as rows: the column list, binary COPY, head and searches.

An event is a row of ``events`` in ``EVENT_COLUMNS`` order (``event_row``);
reads build ``Event``s straight from the rows (binary cursors: ``body`` comes
back as bytes). The write transaction (``ledger.store.postgres_rows``) sends
these rows by pipelined ``INSERT_EVENT`` or by ``COPY_EVENTS``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import LiteralString

from psycopg.rows import TupleRow

from ledger.events import Event
from ledger.store.postgres_session import Conn
from ledger.store.protocol import Head

__all__ = [
    "BY_ID",
    "COPY_EVENTS",
    "EVENT_COLUMNS",
    "EVENT_TYPES",
    "HEAD",
    "INSERT_EVENT",
    "event_row",
    "find_events",
    "head_of",
    "read_head",
]

EVENT_COLUMNS: LiteralString = (
    "seq, id, type, subject, actor, occurred_at, recorded_at, prev_hash, hash, body"
)
EVENT_TYPES = ["int8", "text", "text", "text", "text", "text", "text", "text", "text", "bytea"]
"""The binary COPY types of ``EVENT_COLUMNS``."""
_GENESIS = "0" * 64

HEAD: LiteralString = "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"
BY_ID: LiteralString = f"SELECT {EVENT_COLUMNS} FROM events WHERE id IN (SELECT unnest(%s::text[]))"
"""Not ``id = ANY(%s)``: with a thousand ids the planner estimates a thousand rows and
scans the whole table (measured: a seq scan at 20k events); a join on the unnested ids
probes the unique index once per id."""
INSERT_EVENT: LiteralString = (
    f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%b)"
)
COPY_EVENTS: LiteralString = f"COPY events ({EVENT_COLUMNS}) FROM STDIN (FORMAT BINARY)"

event_row: Callable[[Event], tuple[object, ...]] = operator.attrgetter(
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


def head_of(row: TupleRow | None) -> Head:
    """The head a ``HEAD`` query's row says (the genesis head when there is no event)."""
    return Head(0, _GENESIS) if row is None else Head(int(row[0]), str(row[1]))


def read_head(conn: Conn) -> Head:
    return head_of(conn.execute(HEAD).fetchone())


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
