"""Helpers shared by tests: a fixed clock, id factories and realistic drafts."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ledger.events import EventDraft


class StepClock:
    """A deterministic clock: each call is one millisecond after the previous."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def id_factory() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: str(uuid.UUID(int=next(counter)))


def draft(n: int = 0, **overrides: object) -> EventDraft:
    """A realistic test.result.recorded draft, varied by ``n``."""
    fields: dict[str, object] = {
        "type": "test.result.recorded",
        "subject": f"model:fraud-detector@1.{n % 7}.0",
        "data": {
            "suite": "offline-eval",
            "kind": "evaluation",
            "metrics": {"auc": 0.9 + (n % 10) / 1000, "latency_p99_ms": 40 + n % 5},
            "passed": n % 3 != 0,
            "n": n,
        },
    }
    fields.update(overrides)
    return EventDraft.create(
        fields["type"],  # type: ignore[arg-type]
        fields["subject"],  # type: ignore[arg-type]
        fields["data"],
        id=fields.get("id"),  # type: ignore[arg-type]
        occurred_at=fields.get("occurred_at"),  # type: ignore[arg-type]
    )
