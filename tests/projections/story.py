"""Helpers for projection tests: an event log, an in-memory document store, and a story."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ledger.policy import check, policy_keys_for
from ledger.projections.base import Doc, DraftView, Edge, EventView, StatusInterval
from ledger.projections.keys import tests_version
from ledger.projections.registry import keys_for, project

__all__ = [
    "DATA",
    "DEP",
    "HOLDOUT",
    "OLD",
    "POLICY",
    "Log",
    "Store",
    "Story",
    "V",
    "approve",
    "build_story",
    "canonical_round_trip",
    "result",
    "stage",
]


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
    history: dict[str, list[int]] = field(default_factory=dict)
    tests: dict[str, dict[tuple[str, str, str], Doc]] = field(default_factory=dict)

    def get(self, key: str) -> Doc | None:
        """A document, or the ``tests:<version>`` rows read as one (as the stores answer it)."""
        version = tests_version(key)
        if version is None:
            return self.docs.get(key)
        rows = sorted(self.tests.get(version, {}).values(), key=lambda t: int(str(t["seq"])))
        return {"ref": version, "tests": rows} if rows else None

    def apply(self, events: Iterable[EventView], *, check_pure: bool = False) -> None:
        """Project ``events`` in order, as one transaction: later events see earlier writes."""
        pending: dict[str, Doc] = {}
        rows: list[tuple[str, tuple[str, str, str], Doc]] = []
        for event in events:
            keys = keys_for(event)
            fetched = {k: pending.get(k, self.docs.get(k)) for k in keys}
            before = copy.deepcopy(fetched) if check_pure else None
            effects = project(event, fetched)
            if check_pure:
                assert fetched == before, f"project() changed its input at seq {event['seq']}"
                assert set(effects.docs) <= set(keys), (
                    event["type"],
                    set(effects.docs) - set(keys),
                )
            pending.update(effects.docs)
            rows += [(t.version, t.slot, t.entry) for t in effects.tests]
            for key in [*effects.docs, *effects.touched]:
                self.history.setdefault(key, []).append(event["seq"])
            self.intervals.extend(effects.intervals)
            self.edges.extend(effects.edges)
        # Commit: documents go through JSON, as they would through a real store.
        self.docs.update({k: canonical_round_trip(doc) for k, doc in pending.items()})
        for version, slot, entry in rows:
            self.tests.setdefault(version, {})[slot] = canonical_round_trip(entry)


# ---- the fraud-detector story ---------------------------------------------------------

V = "model:fraud-detector@1.4.0"
OLD = "model:fraud-detector@1.3.2"
DEP = "deployment:fraud-detector/prod"
DATA = "dataset:transactions@2026-11-01"
HOLDOUT = "dataset:transactions-holdout@2026-11-01"
DIGEST = "sha256:" + "ab" * 32

POLICY = {
    "policy_version": 1,
    "scope": {"risk_tiers": ["high", "critical"]},
    "environments": {
        "prod": {
            "required_tests": ["unit", "evaluation", "fairness"],
            "required_approvals": {"count": 2, "roles": ["ml_lead", "model_risk"]},
            "min_minutes_per_stage": 60,
            "max_exposure_step": 75,
            "stage_ttl_minutes": 1440,
            "allowed_strategies": ["shadow", "canary", "full"],
            "rollback_thresholds": [{"metric": "error_rate", "comparator": "gt", "value": 0.02}],
        }
    },
}


class Story:
    """The fraud-detector rollout, appended through a policy gate like the service's."""

    def __init__(self) -> None:
        self.log = Log()
        self.store = Store()
        self.denied: list[list[str]] = []

    def add(self, type: str, subject: str, data: dict[str, object], actor: str = "ci") -> int:
        draft: DraftView = {"type": type, "subject": subject, "actor": actor, "data": data}
        docs = {key: self.store.get(key) for key in policy_keys_for(draft)}
        _, violations = check(draft, docs, self.log.time)
        if violations:
            self.denied.append([v.code for v in violations])
            return 0
        event = self.log.add(type, subject, data, actor)
        self.store.apply([event], check_pure=True)
        return event["seq"]

    def doc(self, key: str) -> Doc:
        return self.store.docs[key]


def stage(version: str, strategy: str, exposure: int) -> dict[str, object]:
    return {"version": version, "strategy": strategy, "exposure_percent": exposure}


def result(kind: str, passed: bool = True, **extra: object) -> dict[str, object]:
    return {"suite": f"{kind}-suite", "kind": kind, "passed": passed, "metrics": {"m": 1}, **extra}


def approve(role: str) -> dict[str, object]:
    return {"environment": "prod", "approver_role": role, "justification": "ok", "evidence": []}


PROMOTE = {"environment": "prod", "decision": "promote", "target_exposure": 5, "justification": "j"}


def build_story() -> Story:
    """Append the whole story; drafts the policy refuses are left out of the log."""
    s = Story()
    owner = {"owner": "fraud-ml", "risk_tier": "high", "business_process": "card payments"}
    s.add("model.registered", "model:fraud-detector", {**owner, "description": "Scores fraud."})
    s.add(
        "dataset.version.registered",
        DATA,
        {"digest": DIGEST, "source": "s3://lake/tx", "schema_ref": "tx/7", "row_count": 10},
    )
    s.add(
        "model.version.registered",
        OLD,
        {
            "artifact_digest": DIGEST,
            "training_run": "run:mlflow/1",
            "code_ref": "g",
            "author": "dan",
        },
    )
    s.add("rollout.stage.changed", DEP, stage(OLD, "full", 100))  # before any policy: 1.3.2 serves
    s.add("policy.defined", "policy:high-risk", POLICY, actor="admin")  # seq 5
    s.add(
        "model.version.registered",
        V,
        {
            "artifact_digest": DIGEST,
            "training_run": "run:mlflow/2",
            "code_ref": "g",
            "author": "carol",
            "trained_on": [DATA],
        },
    )  # seq 6
    s.add("test.result.recorded", V, result("unit"))
    s.add("test.result.recorded", V, result("evaluation", evaluated_on=HOLDOUT))
    s.add("test.result.recorded", V, result("fairness", False))  # seq 9
    s.add("deployment.decided", V, PROMOTE, actor="bob")  # denied: fairness, approvals
    s.add("test.result.recorded", V, result("fairness"))  # seq 10
    s.add("approval.granted", V, approve("ml_lead"), actor="alice")  # seq 11
    s.add("approval.granted", V, approve("model_risk"), actor="carol")  # the author: ignored
    s.add("deployment.decided", V, PROMOTE, actor="bob")  # denied: approvals
    s.add("approval.granted", V, approve("model_risk"), actor="erin")  # seq 13
    s.add("approval.revoked", V, {"approval_seq": 13, "environment": "prod", "justification": "x"})
    s.add("deployment.decided", V, PROMOTE, actor="bob")  # denied: revoked
    s.add("approval.granted", V, approve("model_risk"), actor="bob")  # seq 15
    s.add("deployment.decided", V, {**PROMOTE, "strategy": "canary"}, actor="bob")  # seq 16
    s.add("rollout.stage.changed", DEP, stage(V, "shadow", 0))  # seq 17
    s.log.wait(61)
    s.add("rollout.stage.changed", DEP, stage(V, "canary", 5))  # seq 18
    s.log.wait(61)
    s.add("rollout.stage.changed", DEP, stage(V, "canary", 25))  # seq 19
    s.add(
        "alert.raised",
        DEP,
        {
            "alert_id": "lat",
            "metric": "latency_p99_ms",
            "observed": 300,
            "threshold": 250,
            "severity": "critical",
        },
    )  # seq 20, no rollback threshold on latency
    s.log.wait(61)
    s.add("rollout.stage.changed", DEP, stage(V, "full", 100))  # denied: alert open
    s.add("alert.resolved", DEP, {"alert_id": "lat", "metric": "latency_p99_ms", "observed": 90})
    s.add("rollout.stage.changed", DEP, stage(V, "full", 100))  # denied: clock restarted
    s.log.wait(61)
    s.add("rollout.stage.changed", DEP, stage(V, "full", 100))  # seq 22
    s.log.wait(5)
    s.add(
        "alert.raised",
        DEP,
        {
            "alert_id": "err",
            "metric": "error_rate",
            "observed": 0.034,
            "threshold": 0.02,
            "severity": "critical",
            "version": V,
        },
    )  # seq 23
    s.add(
        "incident.opened",
        "incident:INC-204",
        {"severity": "sev2", "summary": "errors", "affected": [DEP]},
        actor="ops",
    )  # seq 24
    s.add(
        "rollback.executed",
        DEP,
        {
            "from_version": V,
            "to_version": OLD,
            "reason": "threshold",
            "trigger": "alert",
            "alert_id": "err",
            "incident": "incident:INC-204",
        },
    )  # seq 25
    s.add(
        "rollback.verified",
        DEP,
        {
            "from_version": V,
            "to_version": OLD,
            "rollback_seq": 25,
            "passed": True,
            "checks": [{"name": "errors back to baseline", "passed": True}],
        },
    )
    s.add("alert.resolved", DEP, {"alert_id": "err", "metric": "error_rate", "observed": 0.004})
    s.add(
        "deployment.decided",
        V,
        {"environment": "prod", "decision": "retire", "justification": "superseded"},
        actor="bob",
    )  # seq 28
    s.add("model.retired", "model:fraud-detector", {"reason": "replaced"}, actor="bob")  # seq 29
    return s
