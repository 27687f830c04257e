"""What every route and resolver of one app shares: the ledger, settings and helpers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from ledger.api.committer import GroupCommitter
from ledger.api.feed import EventFeed
from ledger.api.metrics import Metrics
from ledger.api.settings import Settings
from ledger.auth import RoleCatalogue
from ledger.service import Ledger
from ledger.store.protocol import EventStore

__all__ = ["ApiState", "ThreadReads"]


class ThreadReads:
    """The store's read methods, each run on the calling thread's own read connection.

    A method is looked up when it is *called*, on the thread that calls it, so
    ``run_in_threadpool(reads.get, 5)`` reads on the pool thread's connection.
    SQLite (``SQLiteStore.reader``): readers never wait for the writer's
    commit nor for each other. Other stores (PostgreSQL has its pool) are used
    as they are.
    """

    __slots__ = ("_reader", "_store")

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._reader: Callable[[], Any] | None = getattr(store, "reader", None)

    def current(self) -> Any:
        """The store view for the calling thread."""
        return self._reader() if self._reader is not None else self._store

    def __getattr__(self, name: str) -> Any:
        if self._reader is None:
            return getattr(self._store, name)
        reader = self._reader

        def on_this_thread(*args: Any, **kwargs: Any) -> Any:
            return getattr(reader(), name)(*args, **kwargs)

        return on_this_thread


@dataclass(slots=True)
class ApiState:
    """One app's shared objects (kept on ``app.state.api``).

    Attributes:
        ledger: the service every read and append goes through.
        settings: how the server behaves.
        catalogue: decides which role may append which type (None: prefix rules).
        metrics: the app's Prometheus metrics.
        feed: live events for subscriptions.
        committer: the group-commit writer every network append goes through.
        verify_lock: one full-chain verification at a time per process; it
            reads every event, and concurrent ones would only compete for I/O.
        reads: the store's reads on per-thread connections (``ThreadReads``);
            use it for reads that must not queue behind appends.
        inline_reads: ``reads`` never wait for a lock (SQLite files: WAL readers
            on their own connections), so a short, bounded read may run on the
            event loop instead of paying a thread-pool hop.
        lineage_flight: the shared lineage refreshes of the serving event loop
            (``graphql.loaders.SnapshotFlight``, made on first use).
    """

    ledger: Ledger
    settings: Settings
    catalogue: RoleCatalogue | None
    metrics: Metrics
    feed: EventFeed
    committer: GroupCommitter
    verify_lock: threading.Lock = field(default_factory=threading.Lock)
    reads: EventStore = field(init=False)
    inline_reads: bool = field(init=False)
    lineage_flight: object = None

    def __post_init__(self) -> None:
        self.reads = cast(EventStore, ThreadReads(self.ledger.store))
        store = self.ledger.store
        self.inline_reads = hasattr(store, "reader") and getattr(store, "path", "") != ":memory:"

    def reject(self, code: str) -> None:
        """Count a refused request under its error code."""
        self.metrics.rejected(code)
