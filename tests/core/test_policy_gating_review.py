"""The projector reads test rows only for gated drafts; its verdicts equal policy.check's.

``BatchProjector.check`` decides whether a draft is gated from the model document
alone and reads ``tests:<version>`` only then; ``policy.check`` (the API's
Flagger/Argo gates) reads every key of ``policy_keys_for``. For every kind of
draft the verdicts must be the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from ledger import policy
from ledger.events import EventDraft
from ledger.projecting import BatchProjector
from ledger.projections.base import DraftView
from ledger.service import Ledger
from ledger.store import open_store
from tests.helpers import StepClock, id_factory

POLICY = {
    "policy_version": 1,
    "scope": {"risk_tiers": ["high"]},
    "environments": {
        "prod": {
            "required_tests": ["unit"],
            "required_approvals": {"count": 0},
            "min_minutes_per_stage": 0,
            "max_exposure_step": 50,
        }
    },
}


def _d(type: str, subject: str, data: Mapping[str, object]) -> EventDraft:
    return EventDraft.create(type, subject, dict(data))


def _stage(
    version: str, exposure: float, strategy: str = "canary", dep: str = "m/prod"
) -> dict[str, Any]:
    return {
        "type": "rollout.stage.changed",
        "subject": f"deployment:{dep}",
        "data": {"version": version, "strategy": strategy, "exposure_percent": exposure},
    }


def _decision(version: str, decision: str, env: str = "prod") -> dict[str, Any]:
    data = {"environment": env, "decision": decision, "target_exposure": 5, "justification": "j"}
    return {"type": "deployment.decided", "subject": version, "data": data}


DRAFTS = [
    _decision("model:m@1", "promote"),
    _decision("model:m@2", "promote"),
    _decision("model:m@1", "hold"),
    _decision("model:m@1", "abort"),
    _decision("model:m@1", "promote", env="staging"),
    _decision("model:x@1", "promote"),
    _stage("model:m@1", 20),  # 20 -> 20: not a raise
    _stage("model:m@1", 10),  # lower
    _stage("model:m@1", 60),  # raise by 40
    _stage("model:m@1", 100),  # raise by 80: over the step
    _stage("model:m@2", 5),  # another version, never tested
    _stage("model:m@2", 0, strategy="shadow"),
    _stage("model:m@1", 30, dep="m"),  # a deployment without '/'
    _stage("not a ref", 30),
    {"type": "approval.granted", "subject": "model:m@1", "data": {"environment": "prod"}},
    {"type": "alert.raised", "subject": "deployment:m/prod", "data": {"version": "model:m@1"}},
]


class _Counting:
    def __init__(self, store: object) -> None:
        self.store = store
        self.asked: list[str] = []

    def get_docs(self, keys: Sequence[str]) -> dict[str, bytes]:
        self.asked += keys
        return self.store.get_docs(keys)  # type: ignore[attr-defined, no-any-return]

    def write_projection(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("checks write nothing")


@pytest.mark.parametrize("raw", DRAFTS, ids=lambda d: f"{d['type']}:{d['subject']}")
def test_the_projector_judges_as_policy_check(raw: dict[str, Any], db_path: Path) -> None:
    store = open_store(str(db_path))
    try:
        ledger = Ledger(store, clock=StepClock(), new_id=id_factory())
        owner = {"owner": "o", "risk_tier": "high", "business_process": "b", "description": "d"}
        digest = {"artifact_digest": "sha256:" + "0" * 64}
        unit = {"suite": "u", "kind": "unit", "passed": True}
        ledger.append(
            [
                _d("policy.defined", "policy:high", POLICY),
                _d("model.registered", "model:m", owner),
                _d("model.version.registered", "model:m@1", digest),
                _d("model.version.registered", "model:m@2", digest),
                _d("test.result.recorded", "model:m@1", unit),
                _d("rollout.stage.changed", "deployment:m/prod", _stage("model:m@1", 20)["data"]),
            ],
            "admin",
        )
        draft: DraftView = {**raw, "actor": "alice"}  # type: ignore[typeddict-item,unused-ignore]
        now = "2030-01-01T00:00:00Z"
        keys = policy.policy_keys_for(draft)
        docs = {k: orjson.loads(b) for k, b in store.get_docs(keys).items()}  # type: ignore[attr-defined]
        expected = policy.check(draft, docs, now)
        tx = _Counting(store)
        got = BatchProjector(tx).check(draft, now)
        assert got == expected
        gated = policy.is_gated(draft, policy.state_for(draft, docs))
        assert any(k.startswith("tests:") for k in tx.asked) == gated
    finally:
        store.close()
