"""Append announcements on PostgreSQL: the store's own NOTIFY (migration 7) says what the
trigger said.

Since migration 7 a write transaction that appended sends
``pg_notify('ledger:<schema>', <last seq>)`` with its COMMIT instead of an
AFTER INSERT trigger. These tests listen on the channel itself and pin that
every committed append is announced exactly once with its last seq, that
nothing else is, and that a version 6 database is brought over.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import psycopg
import pytest
from psycopg import sql

from ledger.events import Event
from ledger.service import Ledger
from ledger.store import open_store, postgres_schema
from ledger.store.postgres import PostgresStore
from ledger.store.postgres_listen import channel_for
from ledger.store.postgres_schema import MIGRATIONS
from tests.helpers import draft


@pytest.fixture
def backend() -> str:
    """Every store in this module is a PostgreSQL one."""
    return "postgres"


@contextmanager
def _heard(url: str, schema: str) -> Iterator[list[str]]:
    """The payloads announced on the ledger's channel while the block runs (and shortly after)."""
    heard: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel_for(schema))))
        yield heard
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            heard.extend(n.payload for n in conn.notifies(timeout=0.1))


def _store(ledger: Ledger) -> PostgresStore:
    store = ledger.store
    assert isinstance(store, PostgresStore)
    return store


@pytest.mark.parametrize("size", [1, 20], ids=["pipelined-insert", "copy"])
def test_each_append_is_announced_once_with_its_last_seq(
    store_url: str, ledger: Ledger, size: int
) -> None:
    store = _store(ledger)
    with _heard(store_url, store.schema) as heard:
        ledger.append([draft(n) for n in range(size)], "ci")
        ledger.append([draft(n) for n in range(size)], "ci")
    assert heard == [str(size), str(2 * size)]


def test_nothing_appended_nothing_announced(store_url: str, ledger: Ledger) -> None:
    store = _store(ledger)
    drafts = [draft(n, id=str(uuid.uuid4())) for n in range(3)]
    ledger.append(drafts, "ci")
    with _heard(store_url, store.schema) as heard:
        ledger.append(drafts, "ci")  # an idempotent retry: no new event
        with store.transaction() as tx:
            tx.head()
        store.set_meta("k", "v")
    assert heard == []


def test_a_savepoints_events_are_announced_by_the_outer_commit(
    store_url: str, ledger: Ledger
) -> None:
    store = _store(ledger)
    ledger.append([draft(1)], "ci")
    (first,) = store.read()
    # The transaction commits (leaving the block) before _heard collects.
    with _heard(store_url, store.schema) as heard, store.transaction() as outer:
        outer.head()
        with store.transaction() as inner:
            inner.insert_events([_next(first)])
    assert heard == ["2"]


def _next(event: Event) -> Event:
    """A row at the next seq (its content does not matter here)."""
    return replace(event, seq=event.seq + 1, id=str(uuid.uuid4()))


def test_a_version_6_database_stops_announcing_by_trigger_and_announces_by_store(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as old_code:
        # Version 6 plus the Merkle node table this code writes (migration 8):
        # the append below runs today's store code.
        old_code.setattr(postgres_schema, "MIGRATIONS", [*MIGRATIONS[:6], MIGRATIONS[7]])
        old_code.setattr(postgres_schema, "SCHEMA_VERSION", 8)
        old = open_store(pg_url)
        Ledger(old).append([draft(1)], "ci")
        old.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert _announce_triggers(conn) == ["events_announce"]
    store = open_store(pg_url)
    assert isinstance(store, PostgresStore)
    try:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            assert _announce_triggers(conn) == []
            assert conn.execute("SELECT to_regproc('ledger_announce_append')").fetchone() == (None,)
        with _heard(pg_url, store.schema) as heard:
            Ledger(store).append([draft(2), draft(3)], "ci")
        assert heard == ["3"]  # once: no trigger left to announce it a second time
        assert Ledger(store).verify().ok
    finally:
        store.close()


def _announce_triggers(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    rows = conn.execute(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'events'::regclass"
        " AND tgname = 'events_announce'"
    ).fetchall()
    return [str(r[0]) for r in rows]


@pytest.mark.parametrize(
    "schema",
    [f"l{'x' * 55}", f"l{'x' * 62}", "ü" * 31, "Odd\"Led;ger'Ü"],
    ids=["56-bytes", "63-bytes", "62-bytes-utf8", "quoted"],
)
def test_a_schema_of_any_legal_name_appends_and_is_heard(schema: str) -> None:
    # A channel name is at most 63 bytes: 'ledger:' plus a schema name over 56
    # bytes used to fail every append at its commit ("channel name too long").
    from tests.conftest import PG_URL, _with_search_path

    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        quoted = '"' + schema.replace('"', '""') + '"'
        url = _with_search_path(PG_URL, quoted)
        store = open_store(url)
        assert isinstance(store, PostgresStore)
        try:
            assert store.schema == schema
            with _heard(url, schema) as heard:
                Ledger(store).append([draft(n) for n in range(3)], "ci")
            assert heard == ["3"]
            assert store.wait_for_append(0, 5) == 3
            assert len(channel_for(schema).encode()) <= 63
        finally:
            store.close()
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def test_channels_of_long_schema_names_differ() -> None:
    names = [f"l{'x' * 60}a", f"l{'x' * 60}b", f"l{'x' * 55}"]
    channels = {channel_for(name) for name in names}
    assert len(channels) == len(names)
    assert channel_for(names[2]) == f"ledger:{names[2]}"  # short names keep their channel
