"""What every route and resolver of one app shares: the ledger, settings and helpers."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ledger.api.committer import GroupCommitter
from ledger.api.feed import EventFeed
from ledger.api.metrics import Metrics
from ledger.api.settings import Settings
from ledger.auth import RoleCatalogue
from ledger.service import Ledger

__all__ = ["ApiState"]


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
    """

    ledger: Ledger
    settings: Settings
    catalogue: RoleCatalogue | None
    metrics: Metrics
    feed: EventFeed
    committer: GroupCommitter
    verify_lock: threading.Lock = field(default_factory=threading.Lock)

    def reject(self, code: str) -> None:
        """Count a refused request under its error code."""
        self.metrics.rejects.labels(code).inc()
