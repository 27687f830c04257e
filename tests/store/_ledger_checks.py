"""Whole-ledger checks shared by the concurrency and crash tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ledger.events import Event
from ledger.service import Ledger
from ledger.store import open_store
from tests.merkle.reference import ReferenceTree

__all__ = ["assert_whole_ledger"]


def assert_whole_ledger(path: Path, expected: int | None = None) -> list[Event]:
    """Assert the ledger at ``path`` is one gapless, verifying chain with a right tree.

    Beyond ``Ledger.verify()`` (chain, stored frontier, checkpoints), every stored
    Merkle node is compared with a naive RFC 9162 tree over the stored bodies, and
    no node may be missing or extra. Returns the events in seq order.
    """
    store = open_store(path)
    try:
        ledger = Ledger(store)
        events = list(ledger.events())
        size = len(events)
        assert [e.seq for e in events] == list(range(1, size + 1)), "seqs are not 1..N"
        if expected is not None:
            assert size == expected
        report = ledger.verify()
        assert report.ok, report
        assert report.checked == size
        reference = ReferenceTree([e.body for e in events])
        if size:
            assert ledger.root() == reference.mth(0, size)
    finally:
        store.close()
    conn = sqlite3.connect(path)
    try:
        stored = {
            (level, idx): bytes(h)
            for level, idx, h in conn.execute("SELECT level, idx, hash FROM merkle_nodes")
        }
    finally:
        conn.close()
    assert stored == reference.perfect_nodes(size), "stored Merkle nodes differ from RFC 9162"
    return events
