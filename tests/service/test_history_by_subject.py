"""History by subject (``keys.HISTORY_BY_SUBJECT_TYPE``) answers exactly what the rows did.

The same random operations go into two SQLite ledgers: one whose transactions
write a ``proj_history`` row for every (document, event), one that says
``history_by_subject`` and skips the test results' rows for their own
version. ``sqlite_projections.history_of`` on the second must give, for every
key, the seqs the first has as rows, at every limit; a rebuild of the second
must leave the answers alone.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from ledger.errors import PolicyDenied
from ledger.events import EventDraft
from ledger.service import Ledger
from ledger.store import open_store
from ledger.store import sqlite_projections as proj
from ledger.store.sqlite_rows import SQLiteTransaction
from tests.helpers import id_factory
from tests.projections.test_rebuild_equals_incremental import Op, events
from tests.service.test_rebuild_projections import _Clock


def _run(path: Path, ops: list[Op], bounds: list[int], by_subject: bool) -> Ledger:
    saved = SQLiteTransaction.__dict__.get("history_by_subject")
    SQLiteTransaction.history_by_subject = by_subject  # type: ignore[attr-defined]
    try:
        clock = _Clock()
        ledger = Ledger(open_store(path), clock=clock, new_id=id_factory())
        for start, end in itertools.pairwise(bounds):
            batch = ops[start:end]
            clock.now += timedelta(minutes=sum(wait for *_, wait in batch))
            drafts = [EventDraft.create(type, subject, data) for type, subject, data, _, _ in batch]
            with contextlib.suppress(PolicyDenied):
                ledger.append(drafts, batch[0][3])
        return ledger
    finally:
        if saved is None:
            del SQLiteTransaction.history_by_subject  # type: ignore[attr-defined]
        else:
            SQLiteTransaction.history_by_subject = saved  # type: ignore[attr-defined]


def _answers(path: Path, keys: list[str], rows: bool) -> dict[tuple[str, int], list[int]]:
    conn = sqlite3.connect(path)
    try:
        out = {}
        for key, limit in itertools.product(keys, (1, 2, 1000)):
            if rows:
                query = "SELECT seq FROM proj_history WHERE key = ? ORDER BY seq LIMIT ?"
                out[key, limit] = [int(r[0]) for r in conn.execute(query, (key, limit))]
            else:
                out[key, limit] = proj.history_of(conn, key, limit)
        return out
    finally:
        conn.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(events, min_size=1, max_size=40), cuts=st.sets(st.integers(1, 39)))
def test_history_by_subject_equals_the_rows(ops: list[Op], cuts: set[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bounds = [0, *sorted(c for c in cuts if c < len(ops)), len(ops)]
        rows_path, subject_path = Path(tmp) / "rows.db", Path(tmp) / "subject.db"
        _run(rows_path, ops, bounds, by_subject=False).store.close()
        ledger = _run(subject_path, ops, bounds, by_subject=True)
        conn = sqlite3.connect(rows_path)
        keys = sorted(
            {k for (k,) in conn.execute("SELECT key FROM proj_history")}
            | {s for (s,) in conn.execute("SELECT subject FROM events")}
        )
        skipped = conn.execute("SELECT count(*) FROM proj_history").fetchone()[0]
        conn.close()
        conn = sqlite3.connect(subject_path)
        skipped -= conn.execute("SELECT count(*) FROM proj_history").fetchone()[0]
        conn.close()
        hypothesis_event(f"rows left to the subject: {min(skipped, 5)}+")
        expected = _answers(rows_path, keys, rows=True)
        assert _answers(subject_path, keys, rows=False) == expected
        ledger.rebuild_projections()
        assert _answers(subject_path, keys, rows=False) == expected
        ledger.store.close()
