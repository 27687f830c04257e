"""How the PostgreSQL store talks to its server: session settings and error translation.

Every connection, pooled or not, is configured the same way whatever the
server's defaults (``configure``); every psycopg error leaves the store as a
``StoreError`` that names what was being done and never the password
(``translated``, ``redact``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import conninfo as _conninfo
from psycopg.rows import TupleRow

from ledger.store.protocol import StoreError

__all__ = [
    "CONNECT_TIMEOUT_S",
    "IDLE_IN_TX_TIMEOUT_MS",
    "Conn",
    "configure",
    "describe",
    "redact",
    "translated",
]

Conn = psycopg.Connection[TupleRow]
"""A connection as the store uses them: tuple rows (autocommit; transactions are explicit)."""

CONNECT_TIMEOUT_S = 15.0
IDLE_IN_TX_TIMEOUT_MS = 120_000


def describe(exc: psycopg.Error) -> str:
    """The server's one-line message for ``exc`` (its primary message when it has one)."""
    primary = exc.diag.message_primary if exc.diag is not None else None
    return (primary or str(exc) or type(exc).__name__).strip().splitlines()[0]


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn any psycopg error into a StoreError naming what we were doing."""
    try:
        yield
    except psycopg.Error as exc:
        raise StoreError(f"{what}: {describe(exc)}") from None


def redact(url: str) -> str:
    """host:port/dbname for messages; never the password."""
    try:
        params = _conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql://…"
    host, port, db = params.get("host", ""), params.get("port", ""), params.get("dbname", "")
    return f"postgresql://{host}{':' if port else ''}{port}/{db}"


def configure(conn: psycopg.Connection[TupleRow]) -> None:
    """Session settings every pooled connection needs, whatever the server defaults are."""
    # Write transactions must take a fresh snapshot per statement (see the
    # ``ledger.store.postgres`` docstring), whatever default_transaction_isolation says.
    conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
    row = conn.execute(
        "SELECT current_setting('synchronous_commit'),"
        " current_setting('idle_in_transaction_session_timeout')"
    ).fetchone()
    if row is None:  # pragma: no cover - SELECT of two settings always returns a row
        return
    if row[0] == "off":
        conn.execute("SET synchronous_commit = on")
    if row[1] == "0":
        # A client that dies mid-append without closing its socket would hold
        # the append lock until TCP gives up; the server ends such a
        # transaction (and frees the lock) after this much idleness instead.
        conn.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TX_TIMEOUT_MS}")
