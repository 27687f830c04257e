"""Migration 9: ``proj_tests`` is dropped; test results are read from the events.

A writer of an older version would otherwise read rows that stopped changing
and judge gated drafts on stale results; without the table it fails instead.
"""

from __future__ import annotations

import psycopg

from ledger.events import EventDraft
from ledger.service import Ledger
from ledger.store import open_store
from tests.helpers import StepClock


def _tables(url: str) -> set[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
    return {name for (name,) in rows}


def test_a_new_database_has_no_test_rows_table(pg_url: str) -> None:
    open_store(pg_url).close()
    assert "proj_tests" not in _tables(pg_url)


def test_a_version_8_database_loses_its_test_rows_table(pg_url: str) -> None:
    store = open_store(pg_url)
    ledger = Ledger(store, clock=StepClock())
    data = {"suite": "s", "kind": "unit", "passed": True, "metrics": {"score": 0.5}}
    ledger.append([EventDraft.create("test.result.recorded", "model:m@1", data)], "ci")
    store.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:  # as migration 6 left it
        conn.execute("CREATE TABLE proj_tests (version TEXT PRIMARY KEY, entry BYTEA)")
        conn.execute("DELETE FROM schema_migrations WHERE version = 9")
    assert "proj_tests" in _tables(pg_url)
    store = open_store(pg_url)
    try:
        assert "proj_tests" not in _tables(pg_url)
        assert store.get_docs(["tests:model:m@1"])  # type: ignore[attr-defined]
    finally:
        store.close()
