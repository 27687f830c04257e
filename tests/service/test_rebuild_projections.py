"""Property: the stored projections after incremental appends equal a rebuild from scratch.

The pure version of this property lives in tests/projections; this one runs the
real path: random logs appended through Ledger.append onto SQLite in random
batches (the rollout policy enforced, refusals recorded as policy.denied), then
``rebuild_projections`` replays the stored events, and every projection table
must come out identical.
"""

from __future__ import annotations

import itertools
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from ledger.errors import PolicyDenied
from ledger.events import EventDraft
from ledger.service import Ledger
from ledger.store import open_store
from ledger.store import sqlite_projections as proj
from tests.helpers import id_factory
from tests.projections.test_rebuild_equals_incremental import Op, events

TABLES = {
    "proj_docs": "SELECT key, doc, seq FROM proj_docs ORDER BY key",
    "proj_status": "SELECT model, version, environment, status, exposure, strategy, seq, time,"
    " end_seq, end_time FROM proj_status ORDER BY id",
    "proj_edges": "SELECT source, target, relation, seq, time FROM proj_edges"
    " ORDER BY source, target, relation",
    "proj_history": "SELECT key, seq FROM proj_history ORDER BY key, seq",
    "position": "SELECT value FROM meta WHERE key = 'projection_seq'",
}


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        dump = {name: conn.execute(query).fetchall() for name, query in TABLES.items()}
        # Test results are read from the events, up to the projection position.
        versions = [f"tests:{s}" for (s,) in conn.execute("SELECT DISTINCT subject FROM events")]
        dump["tests"] = sorted(proj.get_docs(conn, versions).items())
        return dump
    finally:
        conn.close()


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(events, min_size=1, max_size=40), cuts=st.sets(st.integers(1, 39)))
def test_stored_projections_equal_a_rebuild_from_scratch(ops: list[Op], cuts: set[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "l.db"
        clock = _Clock()
        ledger = Ledger(open_store(path), clock=clock, new_id=id_factory())
        bounds = [0, *sorted(c for c in cuts if c < len(ops)), len(ops)]
        denied = 0
        for start, end in itertools.pairwise(bounds):
            batch = ops[start:end]
            clock.now += timedelta(minutes=sum(wait for *_, wait in batch))
            drafts = [EventDraft.create(type, subject, data) for type, subject, data, _, _ in batch]
            try:
                ledger.append(drafts, batch[0][3])
            except PolicyDenied:
                denied += 1
        hypothesis_event(f"denied batches: {min(denied, 2)}")
        hypothesis_event(f"docs: {min(len(_dump(path)['proj_docs']) // 5 * 5, 20)}+")
        incremental = _dump(path)
        assert incremental["position"] == [(str(ledger.head().seq),)]
        ledger.rebuild_projections()
        assert _dump(path) == incremental
        assert ledger.verify().ok
        ledger.store.close()
