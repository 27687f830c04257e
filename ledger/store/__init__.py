"""Storage backends; ``open_store`` is the only place that picks one."""

from __future__ import annotations

from pathlib import Path

from ledger.store.protocol import EventStore, Head, NodeId, StoredCheckpoint, StoreError

__all__ = ["EventStore", "Head", "NodeId", "StoreError", "StoredCheckpoint", "open_store"]


def open_store(url: str | Path) -> EventStore:
    """Open the store a URL names: ``postgresql://…`` or a SQLite path / ``sqlite:///path``.

    The backend module is imported lazily, so the PostgreSQL driver loads only
    when a PostgreSQL URL is used.

    Raises:
        StoreError: the backend cannot be opened.
    """
    text = str(url)
    if text.startswith(("postgresql://", "postgres://")):
        from ledger.store.postgres import PostgresStore

        return PostgresStore(text)
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]
    elif text.startswith("sqlite://"):
        text = text[len("sqlite://") :] or ":memory:"
    from ledger.store.sqlite import SQLiteStore

    return SQLiteStore(text)
