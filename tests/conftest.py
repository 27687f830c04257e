"""Shared fixtures: stores and ledgers on every backend (SQLite file, PostgreSQL schema)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from ledger.service import Ledger
from ledger.store import EventStore, open_store
from tests.helpers import StepClock, id_factory

PG_URL = os.environ.get("LEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@cache
def _pg_unreachable() -> str | None:
    """Why PostgreSQL cannot be used for tests (None when it can); asked once per session."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a dependency
        return f"psycopg is not installed ({exc})"
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        return f"LEDGER_TEST_PG ({PG_URL}) is unreachable: {str(exc).strip().splitlines()[0]}"
    return None


def _with_search_path(url: str, schema: str) -> str:
    """``url`` with libpq's ``options=-csearch_path=<schema>`` added to its query."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"]
    query.append(("options", f"-csearch_path={schema}"))
    return urlunsplit(parts._replace(query=urlencode(query)))


@contextmanager
def _postgres_schema() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped (CASCADE) on exit."""
    import psycopg
    from psycopg import sql

    schema = f"ledger_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield _with_search_path(PG_URL, schema)
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )


@pytest.fixture(scope="session")
def pg_schema() -> Callable[[], AbstractContextManager[str]]:
    """Make throw-away PostgreSQL schemas (skips when LEDGER_TEST_PG is unreachable)."""
    reason = _pg_unreachable()
    if reason is not None:
        pytest.skip(reason)
    return _postgres_schema


@pytest.fixture
def pg_url(pg_schema: Callable[[], AbstractContextManager[str]]) -> Iterator[str]:
    """A PostgreSQL URL on its own schema for one test, dropped afterwards."""
    with pg_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """The store backend under test; a test module may override it to pin one."""
    return str(request.param)


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest) -> str:
    """Where the store under test lives: the ``db_path`` file, or a throw-away PG schema.

    Tests that also open the SQLite file themselves (they request ``db_path``)
    only make sense on SQLite and are skipped for the other backends.
    """
    if backend == "sqlite":
        return str(request.getfixturevalue("db_path"))
    if "db_path" in request.fixturenames:
        pytest.skip("reads the SQLite file directly (requests db_path): SQLite-only")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[EventStore]:
    s = open_store(store_url)
    yield s
    s.close()


@pytest.fixture
def ledger(store: EventStore) -> Ledger:
    return Ledger(store, clock=StepClock(), new_id=id_factory())
