"""Review of the DocCache (ledger.projecting): can a stale cached document let a step through?

The cache is valid while the stored tracking position is the one it was filled
at. ``rollout-ledger rebuild`` (here: another Ledger over the same file)
re-projects everything and ends at the same position, so a cache filled from
projections that the rebuild repaired still looks valid.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Mapping
from pathlib import Path

import orjson
import pytest

from ledger.errors import PolicyDenied
from ledger.events import EventDraft
from ledger.service import Ledger
from ledger.store import open_store
from tests.helpers import StepClock

pytestmark = pytest.mark.filterwarnings("error")

V, W = "model:m@1", "model:m@2"
POLICY = {
    "policy_version": 1,
    "scope": {"risk_tiers": ["high"]},
    "environments": {
        "prod": {
            "required_tests": [],
            "required_approvals": {"count": 1},
            "min_minutes_per_stage": 0,
            "max_exposure_step": 100,
        }
    },
}


def _draft(type: str, subject: str, data: Mapping[str, object]) -> EventDraft:
    return EventDraft.create(type, subject, dict(data))


def _decision(ref: str, decision: str) -> EventDraft:
    data = {"environment": "prod", "decision": decision, "target_exposure": 5}
    return _draft("deployment.decided", ref, {**data, "justification": "j"})


def _setup(ledger: Ledger) -> None:
    owner = {"owner": "o", "risk_tier": "high", "business_process": "b", "description": "d"}
    approval = {"environment": "prod", "approver_role": "ml_lead", "justification": "ok"}
    ledger.append(
        [
            _draft("policy.defined", "policy:high", POLICY),
            _draft("model.registered", "model:m", owner),
            _draft("model.version.registered", V, {"artifact_digest": "sha256:" + "0" * 64}),
            _draft("model.version.registered", W, {"artifact_digest": "sha256:" + "1" * 64}),
        ],
        "admin",
    )
    ledger.append([_draft("approval.granted", W, {**approval, "evidence": []})], "carol")


def _corrupt_v(path: Path) -> None:
    """V's document gains W's approval: projections gone wrong, the reason to rebuild."""
    conn = sqlite3.connect(path)
    with conn:
        docs = dict(conn.execute("SELECT key, doc FROM proj_docs WHERE key IN (?, ?)", (V, W)))
        v, w = orjson.loads(docs[V]), orjson.loads(docs[W])
        v["approvals"] = w["approvals"]
        conn.execute("UPDATE proj_docs SET doc = ? WHERE key = ?", (orjson.dumps(v), V))
    conn.close()


def test_a_rebuild_by_another_writer_drops_the_cached_documents(db_path: Path) -> None:
    clock = StepClock()
    a = Ledger(open_store(str(db_path)), clock=clock, new_id=lambda: str(uuid.uuid4()))
    b = Ledger(open_store(str(db_path)), clock=clock, new_id=lambda: str(uuid.uuid4()))
    try:
        _setup(b)
        _corrupt_v(db_path)
        a.append([_decision(V, "hold")], "alice")  # not gated; A caches V as stored
        b.rebuild_projections()  # repairs V; the position is the head, as before
        assert orjson.loads(b.store.get_docs([V])[V])["approvals"] == []  # type: ignore[attr-defined]
        with pytest.raises(PolicyDenied):  # V has no approval
            a.append([_decision(V, "promote")], "alice")
    finally:
        a.store.close()
        b.store.close()


def test_without_a_cache_the_same_promote_is_refused(db_path: Path) -> None:
    """The control: the writer that rebuilt (its cache cleared) refuses it."""
    clock = StepClock()
    b = Ledger(open_store(str(db_path)), clock=clock, new_id=lambda: str(uuid.uuid4()))
    try:
        _setup(b)
        _corrupt_v(db_path)
        b.append([_decision(V, "hold")], "alice")
        b.rebuild_projections()
        with pytest.raises(PolicyDenied):
            b.append([_decision(V, "promote")], "alice")
    finally:
        b.store.close()


def _approve(ref: str, actor: str = "carol") -> EventDraft:
    data = {"environment": "prod", "approver_role": "ml_lead", "justification": "ok"}
    return _draft("approval.granted", ref, {**data, "evidence": []})


def test_a_rolled_back_transaction_leaves_the_cache_as_stored(store_url: str) -> None:
    """The projector saw an approval that never committed: the next check must not."""
    ledger = Ledger(open_store(store_url), clock=StepClock(), new_id=lambda: str(uuid.uuid4()))
    try:
        _setup(ledger)
        ledger.append([_decision(V, "hold")], "alice")  # V cached
        real = ledger._extend_tree

        def fail(*args: object) -> object:
            raise RuntimeError("disk gone")

        ledger._extend_tree = fail  # type: ignore[method-assign,assignment]
        with pytest.raises(RuntimeError):
            ledger.append([_approve(V)], "carol")
        ledger._extend_tree = real  # type: ignore[method-assign]
        with pytest.raises(PolicyDenied):
            ledger.append([_decision(V, "promote")], "alice")
        ledger.append([_approve(V)], "carol")
        ledger.append([_decision(V, "promote")], "alice")
    finally:
        ledger.store.close()


def test_a_refused_request_in_a_group_leaves_no_approval_in_the_cache(store_url: str) -> None:
    from ledger.appending import AppendRequest

    ledger = Ledger(open_store(store_url), clock=StepClock(), new_id=lambda: str(uuid.uuid4()))
    try:
        _setup(ledger)
        # Approves V, then raises an unregistered version: refused, so the
        # request's approval of V is undone and must not reach the cache.
        bad_stage = _draft(
            "rollout.stage.changed",
            "deployment:m/prod",
            {"version": "model:m@9", "strategy": "canary", "exposure_percent": 5},
        )
        outcomes = ledger.append_group([AppendRequest([_approve(V), bad_stage], "carol")])
        assert isinstance(outcomes[0].error, PolicyDenied)
        with pytest.raises(PolicyDenied):  # next transaction, through the cache
            ledger.append([_decision(V, "promote")], "alice")
    finally:
        ledger.store.close()


def test_other_writers_with_and_without_projections_are_seen(store_url: str) -> None:
    """Two ledgers (two processes on PostgreSQL) and a non-projecting writer on one store."""
    clock = StepClock()
    opened = [open_store(store_url) for _ in range(3)]
    a, b = (Ledger(s, clock=clock, new_id=lambda: str(uuid.uuid4())) for s in opened[:2])
    plain = Ledger(opened[2], clock=clock, new_id=lambda: str(uuid.uuid4()), project=False)
    try:
        _setup(a)
        a.append([_approve(V)], "carol")
        a.append([_decision(V, "promote")], "alice")  # allowed; A caches V and the model
        revoke = {"environment": "prod", "approval_seq": 6, "reason": "r"}
        for writer in (b, plain):
            writer.append([_draft("approval.revoked", V, revoke)], "carol")
            with pytest.raises(PolicyDenied):
                a.append([_decision(V, "promote")], "alice")
            a.append([_approve(V, "carol")], "carol")
            a.append([_decision(V, "promote")], "alice")
            revoke = {**revoke, "approval_seq": a.head().seq - 1}
    finally:
        for s in opened:
            s.close()
