"""Helpers for projection tests: a tiny event log and an in-memory document store."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ledger.projections.base import Doc, Edge, EventView, StatusInterval
from ledger.projections.registry import keys_for, project

__all__ = ["Log", "Store", "canonical_round_trip"]


class Log:
    """Builds sealed-looking events: seq 1, 2, 3 ...; a clock moved by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
        self.events: list[EventView] = []

    @property
    def time(self) -> str:
        """The clock as a ledger time string."""
        return self.now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def wait(self, minutes: float) -> None:
        """Move the clock on."""
        self.now += timedelta(minutes=minutes)

    def add(self, type: str, subject: str, data: dict[str, object], actor: str = "ci") -> EventView:
        """Append an event at the current time (one millisecond after the previous)."""
        self.now += timedelta(milliseconds=1)
        seq = len(self.events) + 1
        event: EventView = {
            "seq": seq,
            "id": f"00000000-0000-0000-0000-{seq:012d}",
            "type": type,
            "subject": subject,
            "actor": actor,
            "occurred_at": self.time,
            "recorded_at": self.time,
            "data": data,
            "hash": f"{seq:064x}",
        }
        self.events.append(event)
        return event


def canonical_round_trip(doc: Doc) -> Doc:
    """``doc`` as a store gives it back: JSON text, integral floats written as integers
    (RFC 8785 writes ``5.0`` as ``5``)."""

    def squash(value: object) -> object:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, dict):
            return {k: squash(v) for k, v in value.items()}
        if isinstance(value, list):
            return [squash(v) for v in value]
        return value

    loaded = json.loads(json.dumps(squash(doc), sort_keys=True))
    assert isinstance(loaded, dict)
    return loaded


@dataclass
class Store:
    """What a store does with the registry: fetch by keys, project, write back."""

    docs: dict[str, Doc] = field(default_factory=dict)
    intervals: list[StatusInterval] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def apply(self, events: Iterable[EventView], *, check_pure: bool = False) -> None:
        """Project ``events`` in order, as one transaction: later events see earlier writes."""
        pending: dict[str, Doc] = {}
        for event in events:
            keys = keys_for(event)
            fetched = {k: pending.get(k, self.docs.get(k)) for k in keys}
            before = copy.deepcopy(fetched) if check_pure else None
            effects = project(event, fetched)
            if check_pure:
                assert fetched == before, f"project() changed its input at seq {event['seq']}"
                assert set(effects.docs) <= set(keys), (event["type"], set(effects.docs) - set(keys))
            pending.update(effects.docs)
            self.intervals.extend(effects.intervals)
            self.edges.extend(effects.edges)
        # Commit: documents go through JSON, as they would through a real store.
        self.docs.update({k: canonical_round_trip(doc) for k, doc in pending.items()})
