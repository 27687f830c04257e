"""The PostgreSQL store's schema: versioned migrations and append-only triggers.

Every migration runs in one transaction under a transaction-scoped advisory
lock, so two processes opening the same ledger at once take turns: the first
applies the missing versions, the second finds them in ``schema_migrations``
and does nothing. DDL is transactional in PostgreSQL, so a migration that
fails half-way leaves no half-built schema behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import LiteralString

import psycopg
from psycopg.rows import TupleRow

from ledger.errors import StoreError
from ledger.store.postgres_projections import (
    HISTORY_DDL,
    PROJECTION_DDL,
    SERVING_DDL,
    TESTS_MIGRATION,
)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "append_only_trigger", "migrate"]

_GUARD = "ledger_refuse_change"

MIGRATE_LOCK = 0x4C454D47
"""Advisory lock class ('LEMG') held while migrating; the object key is the schema's."""


def append_only_trigger(table: LiteralString) -> LiteralString:
    """One statement-level trigger refusing UPDATE, DELETE and TRUNCATE on ``table``.

    Statement-level, so even an UPDATE or DELETE that matches no row is
    refused, and TRUNCATE (which fires no row triggers) is covered too.
    """
    return (
        f"CREATE TRIGGER {table}_append_only"
        f" BEFORE UPDATE OR DELETE OR TRUNCATE ON {table}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {_GUARD}()"
    )


_V1: list[LiteralString] = [
    """CREATE TABLE events (
        seq BIGINT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        subject TEXT NOT NULL,
        actor TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        body BYTEA NOT NULL
    )""",
    "CREATE INDEX events_subject ON events (subject)",
    "CREATE INDEX events_type ON events (type)",
    """CREATE TABLE merkle_nodes (
        level INTEGER NOT NULL,
        idx BIGINT NOT NULL,
        hash BYTEA NOT NULL,
        CONSTRAINT merkle_nodes_pkey PRIMARY KEY (level, idx)
    )""",
    """CREATE TABLE checkpoints (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        size BIGINT NOT NULL,
        root_hash BYTEA NOT NULL,
        note TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE tokens (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    )""",
    # restrict_violation (23001) surfaces in drivers as an integrity error,
    # like SQLite's RAISE(ABORT) in the embedded store.
    f"""CREATE FUNCTION {_GUARD}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
    END
    $$""",
    append_only_trigger("events"),
    append_only_trigger("merkle_nodes"),
    append_only_trigger("checkpoints"),
]

_V2: list[LiteralString] = [
    *PROJECTION_DDL,
    'CREATE INDEX events_occurred ON events (occurred_at COLLATE "C")',
]

_V3: list[LiteralString] = [
    # Cross-process live updates (ledger.store.postgres_listen): NOTIFY is
    # delivered on commit only, in commit order; the payload is the last seq.
    """CREATE FUNCTION ledger_announce_append() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('ledger:' || TG_TABLE_SCHEMA, (SELECT max(seq) FROM inserted)::text);
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER events_announce AFTER INSERT ON events
        REFERENCING NEW TABLE AS inserted
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_announce_append()""",
]

_V4: list[LiteralString] = [HISTORY_DDL]

_V5: list[LiteralString] = [*SERVING_DDL]

_V6: list[LiteralString] = [*TESTS_MIGRATION]

_V7: list[LiteralString] = [
    # The store now sends the NOTIFY itself, in the commit's pipeline
    # (ledger.store.postgres_rows): the trigger's transition table copied every
    # row of every batch (bodies included) only to take max(seq) of it, about
    # 5% of a 1,000-event COPY.
    "DROP TRIGGER events_announce ON events",
    "DROP FUNCTION ledger_announce_append()",
]

MIGRATIONS: Sequence[tuple[int, Sequence[LiteralString]]] = [
    (1, _V1),
    (2, _V2),
    (3, _V3),
    (4, _V4),
    (5, _V5),
    (6, _V6),
    (7, _V7),
]
"""(version, statements) in order; append new versions, never edit old ones."""

SCHEMA_VERSION = MIGRATIONS[-1][0]


def _current(conn: psycopg.Connection[TupleRow]) -> bool:
    """Whether every migration is applied, found out with reads only."""
    with conn.transaction():
        table = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
        if table is None or table[0] is None:
            return False
        done = {int(row[0]) for row in conn.execute("SELECT version FROM schema_migrations")}
    # Every version, not just the last: a database missing an older one (restored
    # from a partial dump, or doctored by a test) still gets it.
    return done == {version for version, _ in MIGRATIONS}


def migrate(conn: psycopg.Connection[TupleRow], lock_key: int) -> list[int]:
    """Apply every migration ``schema_migrations`` does not list; return the versions applied.

    Plain ``CREATE`` (not ``IF NOT EXISTS``): a schema that already holds
    tables of another application makes the migration fail instead of being
    silently adopted.

    Raises:
        psycopg.Error: the database refused a statement (the caller translates it).
        StoreError: the database is at a newer version than this code knows.
    """
    applied: list[int] = []
    if _current(conn):
        # Nothing to do, and nothing written: a read replica (read-only, in
        # recovery) can open an up-to-date ledger.
        return applied
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (MIGRATE_LOCK, lock_key))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = {int(row[0]) for row in conn.execute("SELECT version FROM schema_migrations")}
        if done and max(done) > SCHEMA_VERSION:
            raise StoreError(
                f"the database schema is at version {max(done)}, newer than this "
                f"rollout-ledger's {SCHEMA_VERSION}",
                suggestion="upgrade rollout-ledger before opening this database",
            )
        for version, statements in MIGRATIONS:
            if version in done:
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
            applied.append(version)
    return applied
