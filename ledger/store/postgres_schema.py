"""The PostgreSQL store's schema: versioned migrations and append-only triggers.

Every migration runs in one transaction under a transaction-scoped advisory
lock, so two processes opening the same ledger at once take turns: the first
applies the missing versions, the second finds them in ``schema_migrations``
and does nothing. It holds the append lock too, so no writer, not even a
server still on older code, appends while the tables change under it (an
append of older code committing between migration 8's copy of
``merkle_nodes`` and its ``DROP`` lost its nodes). DDL is transactional in
PostgreSQL, so a migration that fails half-way leaves no half-built schema
behind.
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
    TESTS_DROP,
    TESTS_MIGRATION,
)

__all__ = [
    "APPEND_LOCK",
    "MIGRATIONS",
    "RUN_MAX",
    "SCHEMA_VERSION",
    "append_only_trigger",
    "merkle_runs_ddl",
    "merkle_runs_keys",
    "migrate",
]

_GUARD = "ledger_refuse_change"

APPEND_LOCK = 0x4C454447
"""Advisory lock class ('LEDG') every write transaction takes (``ledger.store.postgres``), and
every migration; the object key is the schema's."""

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


RUN_MAX = 248
"""Most hashes in one ``merkle_runs`` row: 7,936 bytes, so a row stays under the table's
``toast_tuple_target`` and is stored inline (one heap tuple, read without a TOAST lookup)."""


_IDX_LIMIT = (1 << 56) - 1
"""Node indices fit in 56 bits (2**56 events), the level above them (``merkle_runs_keys``)."""


def merkle_runs_ddl(table: LiteralString) -> list[LiteralString]:
    """The Merkle node table (migration 8 and ``PostgresStore.reset_merkle``), without its
    keys (``merkle_runs_keys``: rebuild adds them after loading) and its append-only trigger.

    One row holds the hashes of consecutive nodes of one level, from ``first_idx`` on,
    32 bytes each: a 1,000-event append writes about a dozen rows where one per node
    wrote a thousand (heap tuples, index entries, WAL records and COPY rows).
    """
    return [
        f"""CREATE TABLE {table} (
            level INTEGER NOT NULL,
            first_idx BIGINT NOT NULL,
            hashes BYTEA NOT NULL
                CONSTRAINT whole_hashes CHECK (length(hashes) > 0 AND length(hashes) % 32 = 0),
            CONSTRAINT node_position
                CHECK (level BETWEEN 1 AND 62 AND first_idx BETWEEN 0 AND {_IDX_LIMIT}),
            -- The run's end too: past it, a run would overlap the next level's span.
            CONSTRAINT run_end CHECK (first_idx + length(hashes) / 32 <= {_IDX_LIMIT} + 1)
        ) WITH (toast_tuple_target = 8160)""",
        # SHA-256 output does not compress: never try to.
        f"ALTER TABLE {table} ALTER COLUMN hashes SET STORAGE EXTERNAL",
    ]


def merkle_runs_keys(table: LiteralString) -> list[LiteralString]:
    """The keys of a ``merkle_runs_ddl`` table: ``<table>_pkey`` and ``<table>_disjoint``.

    Beyond the primary key (the lookup index), runs of a level may not
    overlap, as one row per node could not hold a node twice: otherwise an
    INSERT alone, with every trigger on, could shadow a stored node (lookups
    read the run starting last at or before an index). A GiST index over each
    run's span, level and index in one bigint (``node_position`` keeps it in
    range), checks it; a 1,000-event append adds a dozen entries to it.
    """
    return [
        f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (level, first_idx)",
        f"""ALTER TABLE {table} ADD CONSTRAINT {table}_disjoint EXCLUDE USING gist (
            int8range(
                (level::int8 << 56) + first_idx,
                (level::int8 << 56) + first_idx + length(hashes) / 32
            ) WITH &&
        )""",
    ]


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

_V8: list[LiteralString] = [
    # One row per run of consecutive nodes of a level instead of one per node
    # (merkle_runs_ddl). Each maximal run of consecutive stored indices becomes
    # rows of at most RUN_MAX hashes (split at multiples of RUN_MAX). A hash
    # that is not 32 bytes long (no writer stores one) is left out rather
    # than shifting its neighbours: verify reports the node count (run rebuild).
    *merkle_runs_ddl("merkle_runs"),
    f"""INSERT INTO merkle_runs (level, first_idx, hashes)
        SELECT level, min(idx), string_agg(hash, ''::bytea ORDER BY idx)
        FROM (
            SELECT level, idx, hash,
                idx - row_number() OVER (PARTITION BY level ORDER BY idx) AS run
            FROM merkle_nodes WHERE length(hash) = 32
        ) AS nodes
        GROUP BY level, run, idx / {RUN_MAX}""",
    *merkle_runs_keys("merkle_runs"),
    # Triggers do not fire on DROP; the new table gets the same guard.
    "DROP TABLE merkle_nodes",
    append_only_trigger("merkle_runs"),
]

MIGRATIONS: Sequence[tuple[int, Sequence[LiteralString]]] = [
    (1, _V1),
    (2, _V2),
    (3, _V3),
    (4, _V4),
    (5, _V5),
    (6, _V6),
    (7, _V7),
    (8, _V8),
    (9, TESTS_DROP),
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
        # After MIGRATE_LOCK (writers take only this one: no deadlock), and only
        # when something is to be applied: an up-to-date ledger opens without it.
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (APPEND_LOCK, lock_key))
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
