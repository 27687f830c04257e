"""The parsed documents a Ledger keeps between appends never hide another writer's changes.

Each ``Ledger`` keeps the documents of its last transaction (ledger.projecting.DocCache)
while the stored tracking position is the one it saw. Another projecting writer moves
the position, so the cache is dropped; a writer that does not project leaves the
position, and its events are replayed on top of the cached documents. Either way the
projections must equal a rebuild from the events.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.events import EventDraft
from ledger.service import Ledger
from ledger.store import open_store
from ledger.store.protocol import EventStore
from tests.helpers import StepClock, draft

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture
def stores(store_url: str) -> Iterator[list[EventStore]]:
    opened = [open_store(store_url) for _ in range(3)]
    yield opened
    for s in opened:
        s.close()


def _approval(version: str, actor: str) -> EventDraft:
    data = {
        "environment": "prod",
        "approver_role": "ml_lead",
        "justification": "ok",
        "evidence": [],
    }
    return EventDraft.create("approval.granted", f"model:fraud-detector@{version}", data)


def _projections(store: EventStore) -> list[tuple[str, bytes]]:
    return store.docs_with_prefix("", limit=100_000)  # type: ignore[attr-defined, no-any-return]


def test_appends_from_other_writers_are_seen_through_the_cache(stores: list[EventStore]) -> None:
    clock = StepClock()
    a, b = (Ledger(s, clock=clock) for s in stores[:2])
    plain = Ledger(stores[2], clock=clock, project=False)
    for n in range(8):
        a.append([draft(n)], "ci")  # A caches the version documents it wrote
        b.append([draft(n + 7), _approval(f"1.{n % 7}.0", "alice")], "alice")  # moves the position
        plain.append([draft(n + 14)], "ci")  # leaves the position; A and B replay it
        a.append([_approval(f"1.{n % 7}.0", "bob")], "bob")
    incremental = _projections(stores[0])
    assert incremental
    a.rebuild_projections()
    assert _projections(stores[0]) == incremental
    # and after a rebuild the cache starts afresh
    a.append([draft(99)], "ci")
    b.append([draft(100)], "ci")
    incremental = _projections(stores[0])
    b.rebuild_projections()
    assert _projections(stores[1]) == incremental
