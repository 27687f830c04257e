"""History by subject (``keys.HISTORY_BY_SUBJECT_TYPES``) answers exactly what the rows did.

The same random operations go into two SQLite ledgers: one whose transactions
write a ``proj_history`` row for every (document, event), one that says
``history_by_subject`` and skips the rows of the events' own subjects
(``keys.in_history_by_subject``). Besides the rebuild test's well-formed
events, the operations include ones whose handlers return early or write
another key than their subject: unusable version refs, missing environments,
subjects of another kind or with(out) a version, unknown types.
``sqlite_projections.history_of`` on the second must give, for every key, the
seqs the first has as rows, at every limit; a rebuild of the second must
leave the answers alone. The every-type tests run each type on each kind of
subject deterministically, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import itertools
import sqlite3
import tempfile
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from ledger.errors import InvalidEvent, PolicyDenied
from ledger.events import EventDraft
from ledger.projections.subjects import fits
from ledger.refs import parse_ref
from ledger.service import Ledger
from ledger.store import open_store
from ledger.store import sqlite_projections as proj
from ledger.store.sqlite_rows import SQLiteTransaction
from tests.helpers import id_factory
from tests.projections.test_rebuild_equals_incremental import Op, events, op
from tests.service.test_rebuild_projections import _Clock

_REFS = st.sampled_from(
    ["model:m1@1", "model:m1", "model:m2@2", "deployment:m1/prod", "dataset:d@1", "dataset:d",
     "policy:strict", "policy:strict@2", "incident:INC-1", "nope", "", "model:m1@"]
)  # fmt: skip
_SUBJECT_NAMES = (
    ["model:m1@1", "model:m1", "model:m2@2", "deployment:m1/prod", "dataset:d@1", "dataset:d",
     "policy:strict", "policy:strict@2", "incident:INC-1"]
)  # fmt: skip
_TYPE_NAMES = (
    ["model.registered", "model.retired", "retraining.triggered", "model.version.registered",
     "test.result.recorded", "approval.granted", "approval.revoked", "policy.denied",
     "dataset.version.registered", "policy.defined", "incident.opened", "incident.resolved",
     "review.recorded", "alert.raised", "alert.resolved", "deployment.decided",
     "rollout.stage.changed", "rollback.executed", "rollback.verified", "lineage.edge.recorded",
     "custom.thing"]
)  # fmt: skip
_SUBJECTS, _TYPES = st.sampled_from(_SUBJECT_NAMES), st.sampled_from(_TYPE_NAMES)


def _odd(type: str, subject: str, ref: str, env: str | None, draft: str, gated: bool) -> Op:
    """Any type on any subject, with refs that may not parse: handlers' early returns.

    Not ``gated``: a hold and a stage at 0%, which no policy refuses. A type
    on a subject of a kind it does not fit (``ledger.projections.subjects``)
    is refused by the projecting ledger; ``_run`` then appends it through a
    writer that does not project, so the projecting one replays it (as nothing).
    """
    data: dict[str, object] = {"version": ref, "from_version": ref, "to_version": "model:m1@2"}
    data.update(alert_id="a1", metric="error_rate", observed=1.0, severity="critical")
    data.update(decision="promote" if gated else "hold", strategy="canary", approval_seq=1)
    data.update(exposure_percent=5 if gated else 0)
    data.update(draft_data={"version": draft}, suite="unit", kind="unit", passed=True)
    data.update(policy_version=1, scope={"models": ["model:m1"]}, reason="r")
    if env is not None:
        data["environment"] = env
    return op(type, subject, data)


_ODD = st.builds(
    _odd, _TYPES, _SUBJECTS, _REFS, st.none() | st.sampled_from(["prod"]), _REFS, st.booleans()
)
_OPS = st.one_of(events, events, _ODD)


def _plain_ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: str(uuid.UUID(int=(1 << 64) + next(counter)))


def _run(path: Path | str, ops: list[Op], bounds: list[int], by_subject: bool) -> Ledger:
    saved = SQLiteTransaction.__dict__.get("history_by_subject")
    SQLiteTransaction.history_by_subject = by_subject  # type: ignore[attr-defined]
    try:
        clock = _Clock()
        ledger = Ledger(open_store(str(path)), clock=clock, new_id=id_factory())
        # Shares the store: what it appends, the projecting ledger catches up on.
        plain = Ledger(ledger.store, clock=clock, new_id=_plain_ids(), project=False)
        for start, end in itertools.pairwise(bounds):
            batch = ops[start:end]
            clock.now += timedelta(minutes=sum(wait for *_, wait in batch))
            drafts = [EventDraft.create(type, subject, data) for type, subject, data, _, _ in batch]
            try:
                ledger.append(drafts, batch[0][3])
            except PolicyDenied:
                pass
            except InvalidEvent:  # a draft on a subject it does not fit: the others one by one
                for draft in drafts:
                    _append_one(ledger, plain, draft, batch[0][3])
        ledger.append([EventDraft.create("custom.thing", "model:m1", {})], "ci")  # catch up
        return ledger
    finally:
        if saved is None:
            del SQLiteTransaction.history_by_subject  # type: ignore[attr-defined]
        else:
            SQLiteTransaction.history_by_subject = saved  # type: ignore[attr-defined]


def _append_one(ledger: Ledger, plain: Ledger, draft: EventDraft, actor: str) -> None:
    """Append ``draft``; one the projecting ledger refuses for its subject goes in unprojected."""
    try:
        ledger.append([draft], actor)
    except PolicyDenied:
        pass
    except InvalidEvent as refused:
        field = refused.field
        assert field == "events[0].subject", refused.message  # noqa: PT017
        assert not fits(draft.type, parse_ref(draft.subject))
        plain.append([draft], actor)


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


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_OPS, min_size=1, max_size=40), cuts=st.sets(st.integers(1, 39)))
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


def _every_type() -> tuple[list[Op], list[int]]:
    ops = [
        _odd(type, subject, ref, env, draft, gated=False)
        for type in _TYPE_NAMES
        for subject in _SUBJECT_NAMES
        for ref, draft in (("model:m1@1", "model:m2@2"), ("nope", "model:m1"))
        for env in (None, "prod")
    ]
    return ops, [*range(0, len(ops), 25), len(ops)]


def _keys(rows_path: Path) -> list[str]:
    conn = sqlite3.connect(rows_path)
    try:
        return sorted(
            {k for (k,) in conn.execute("SELECT key FROM proj_history")}
            | {s for (s,) in conn.execute("SELECT subject FROM events")}
        )
    finally:
        conn.close()


def test_every_type_on_every_subject_equals_the_rows(tmp_path: Path) -> None:
    """Each type on each kind of subject, refs usable or not, environment or not, in order.

    The property test above draws these rarely; a type wrongly answered by
    subject (``deployment.decided`` without an environment, a stage change of
    an unusable version, a ``model.registered`` on a version key) fails here.
    """
    ops, bounds = _every_type()
    rows_path, subject_path = tmp_path / "rows.db", tmp_path / "subject.db"
    _run(rows_path, ops, bounds, by_subject=False).store.close()
    ledger = _run(subject_path, ops, bounds, by_subject=True)
    keys = _keys(rows_path)
    assert sum(1 for _ in ledger.store.read()) > len(ops) // 2
    expected = _answers(rows_path, keys, rows=True)
    assert _answers(subject_path, keys, rows=False) == expected
    ledger.rebuild_projections()
    assert _answers(subject_path, keys, rows=False) == expected
    ledger.store.close()


def test_every_type_on_postgres_equals_the_rows(tmp_path: Path, pg_url: str) -> None:
    """The same operations on PostgreSQL (``postgres_projections.history_of``)."""
    ops, bounds = _every_type()
    rows_path = tmp_path / "rows.db"
    _run(rows_path, ops, bounds, by_subject=False).store.close()
    ledger = _run(pg_url, ops, bounds, by_subject=True)
    try:
        keys = _keys(rows_path)
        expected = _answers(rows_path, keys, rows=True)
        history_of = ledger.store.history_of  # type: ignore[attr-defined]
        got = {(key, limit): history_of(key, limit) for key, limit in expected}
        assert got == expected
        ledger.rebuild_projections()
        got = {(key, limit): history_of(key, limit) for key, limit in expected}
        assert got == expected
    finally:
        ledger.store.close()
