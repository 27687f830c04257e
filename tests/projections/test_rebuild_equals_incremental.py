"""Property: projecting a log from scratch equals projecting it in batches with stored docs.

The random logs are well-formed events (valid references, schema-shaped
payloads) in any order, including orders no real rollout would produce:
stages before registration, rollbacks of versions never deployed, approvals
revoked twice. The projection must stay deterministic through all of them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.projections._json import as_dict, dict_list
from ledger.projections.base import STATUSES, StatusInterval
from tests.projections.story import Log, Store

Op = tuple[str, str, dict[str, object], str, int]  # type, subject, data, actor, minutes waited

MODELS = st.sampled_from(["m1", "m2"])
VERSIONS = st.sampled_from(["1", "2", "3"])
ENVS = st.sampled_from(["prod", "staging"])
PEOPLE = st.sampled_from(["alice", "bob", "carol", "ci"])
WAIT = st.sampled_from([0, 0, 30, 61, 1500])
KINDS = st.sampled_from(["unit", "fairness", "shadow"])
ALERTS = st.sampled_from(["a1", "a2"])
STAGES = st.sampled_from(
    [("shadow", 0), ("canary", 5), ("canary", 25), ("blue_green", 50), ("full", 100), ("canary", 0)]
)
DIGEST = "sha256:" + "0" * 64


def op(type: str, subject: str, data: Mapping[str, object], actor: str = "ci", wait: int = 0) -> Op:
    return (type, subject, dict(data), actor, wait)


def policy(name: str, n: int, scope: dict[str, object], prod: dict[str, object], wait: int) -> Op:
    data = {"policy_version": n, "scope": scope, "environments": {"prod": prod}}
    return op("policy.defined", f"policy:{name}", data, "admin", wait)


def rules(tests: list[str], count: int, threshold: float, ttl: int | None) -> dict[str, object]:
    env: dict[str, object] = {
        "required_tests": tests,
        "required_approvals": {"count": count},
        "min_minutes_per_stage": 60,
        "max_exposure_step": 50,
        "rollback_thresholds": [{"metric": "error_rate", "comparator": "gt", "value": threshold}],
    }
    if ttl is not None:
        env["stage_ttl_minutes"] = ttl
    return env


def model(m: str, tier: str) -> Op:
    data = {"owner": "o", "risk_tier": tier, "business_process": "b", "description": "d"}
    return op("model.registered", f"model:{m}", data)


def version(m: str, v: str, author: str, dataset: str) -> Op:
    data: dict[str, object] = {"artifact_digest": DIGEST, "training_run": "r", "code_ref": "g"}
    data.update(author=author, trained_on=[f"dataset:d@{dataset}"])
    return op("model.version.registered", f"model:{m}@{v}", data)


def result(m: str, v: str, kind: str, passed: bool, env: str | None) -> Op:
    data: dict[str, object] = {"suite": kind, "kind": kind, "passed": passed, "metrics": {}}
    if env is not None:
        data["environment"] = env
    return op("test.result.recorded", f"model:{m}@{v}", data)


def approval(m: str, v: str, env: str, actor: str, wait: int) -> Op:
    data = {"environment": env, "approver_role": "ml_lead", "justification": "j", "evidence": []}
    return op("approval.granted", f"model:{m}@{v}", data, actor, wait)


def revocation(m: str, v: str, env: str, seq: int) -> Op:
    data = {"approval_seq": seq, "environment": env, "justification": "j"}
    return op("approval.revoked", f"model:{m}@{v}", data)


def decision(m: str, v: str, env: str, decision: str, wait: int) -> Op:
    data = {"environment": env, "decision": decision, "justification": "j", "target_exposure": 5}
    return op("deployment.decided", f"model:{m}@{v}", data, "bob", wait)


def stage(m: str, v: str, env: str, stage: tuple[str, int], wait: int) -> Op:
    data = {"version": f"model:{m}@{v}", "strategy": stage[0], "exposure_percent": stage[1]}
    data["expires_at"] = "2026-11-21T09:00:00Z"
    return op("rollout.stage.changed", f"deployment:{m}/{env}", data, "ops", wait)


def rollback(m: str, a: str, b: str, env: str, verified: bool, rollback_seq: int | None) -> Op:
    data: dict[str, object] = {"from_version": f"model:{m}@{a}", "to_version": f"model:{m}@{b}"}
    if verified:
        data.update(passed=True, checks=[{"name": "c", "passed": True}])
        if rollback_seq is not None:
            data["rollback_seq"] = rollback_seq
    else:
        data["reason"] = "r"
    kind = "rollback.verified" if verified else "rollback.executed"
    return op(kind, f"deployment:{m}/{env}", data, "ops")


def alert(m: str, env: str, alert: str, metric: str, observed: float, severity: str,
          v: str | None) -> Op:  # fmt: skip
    data: dict[str, object] = {"alert_id": alert, "metric": metric, "observed": observed}
    data.update(threshold=0.5, severity=severity)
    if v is not None:
        data["version"] = f"model:{m}@{v}"
    return op("alert.raised", f"deployment:{m}/{env}", data)


def resolution(m: str, env: str, alert: str, wait: int) -> Op:
    data = {"alert_id": alert, "metric": "error_rate", "observed": 0}
    return op("alert.resolved", f"deployment:{m}/{env}", data, "ci", wait)


def dataset(v: str) -> Op:
    data = {"digest": DIGEST, "source": "s3://x", "schema_ref": "s", "row_count": 1}
    return op("dataset.version.registered", f"dataset:d@{v}", data)


def incident(kind: str, affected: list[str]) -> Op:
    return op(kind, "incident:INC-1", {"severity": "sev2", "summary": "s", "affected": affected})


def retraining(m: str, v: str | None) -> Op:
    data: dict[str, object] = {"signal": "manual"}
    if v is not None:
        data["version"] = f"model:{m}@{v}"
    return op("retraining.triggered", f"model:{m}", data)


def denial(m: str, v: str) -> Op:
    data = {"draft_type": "deployment.decided", "actor": "bob", "unmet": ["x"]}
    return op("policy.denied", f"model:{m}@{v}", data)


SCOPES = st.one_of(
    st.builds(lambda t: {"risk_tiers": [t]}, st.sampled_from(["low", "high"])),
    st.builds(lambda m: {"models": [f"model:{m}"]}, MODELS),
)
RULES = st.builds(
    rules,
    st.lists(KINDS, unique=True),
    st.integers(0, 2),
    st.floats(0, 1),
    st.none() | st.integers(1, 2000),
)
NAMES = st.sampled_from(["strict", "relaxed"])
DECISIONS = st.sampled_from(["promote", "hold", "abort", "retire"])
SEVERITIES = st.sampled_from(["info", "warning", "critical"])
METRICS = st.sampled_from(["error_rate", "latency"])
INCIDENTS = st.sampled_from(["incident.opened", "incident.resolved"])
AFFECTED = st.lists(st.sampled_from(["deployment:m1/prod", "model:m2@1"]), max_size=2)
SOURCES = st.sampled_from(["dataset:d@1", "feature:f", "model:m1@1"])
TARGETS = st.sampled_from(["dataset:d@2", "model:m2@2", "deployment:m1/prod"])
RELATIONS = st.sampled_from(["derived_from", "feature_of", "consumed_by"])

events = st.one_of(
    st.builds(policy, NAMES, st.integers(1, 3), SCOPES, RULES, WAIT),
    st.builds(model, MODELS, st.sampled_from(["low", "high"])),
    st.builds(version, MODELS, VERSIONS, PEOPLE, st.sampled_from(["1", "2"])),
    st.builds(result, MODELS, VERSIONS, KINDS, st.booleans(), st.none() | ENVS),
    st.builds(approval, MODELS, VERSIONS, ENVS, PEOPLE, WAIT),
    st.builds(revocation, MODELS, VERSIONS, ENVS, st.integers(1, 40)),
    st.builds(decision, MODELS, VERSIONS, ENVS, DECISIONS, WAIT),
    st.builds(stage, MODELS, VERSIONS, ENVS, STAGES, WAIT),
    st.builds(
        rollback, MODELS, VERSIONS, VERSIONS, ENVS, st.booleans(), st.none() | st.integers(1, 40)
    ),
    st.builds(
        alert, MODELS, ENVS, ALERTS, METRICS, st.floats(0, 1), SEVERITIES, st.none() | VERSIONS
    ),
    st.builds(resolution, MODELS, ENVS, ALERTS, WAIT),
    st.builds(lambda m: op("model.retired", f"model:{m}", {"reason": "r"}), MODELS),
    st.builds(dataset, st.sampled_from(["1", "2"])),
    st.builds(
        lambda s, t, r: op("lineage.edge.recorded", s, {"target": t, "relation": r}),
        SOURCES,
        TARGETS,
        RELATIONS,
    ),
    st.builds(incident, INCIDENTS, AFFECTED),
    st.just(op("review.recorded", "incident:INC-1", {"findings": ["f"], "actions": []})),
    st.builds(retraining, MODELS, st.none() | VERSIONS),
    st.builds(denial, MODELS, VERSIONS),
)


def replay(ops: list[Op]) -> Log:
    log = Log()
    for type, subject, data, actor, wait in ops:
        log.wait(wait)
        log.add(type, subject, data, actor)
    return log


def assert_intervals_agree_with_docs(store: Store) -> None:
    last: dict[tuple[str, str, str], StatusInterval] = {}
    seen_in_event: set[tuple[int, str, str, str]] = set()
    for i in store.intervals:
        assert i.status in STATUSES
        once = (i.seq, i.model, i.version, i.environment)
        assert once not in seen_in_event, f"two intervals for one triple at seq {i.seq}"
        seen_in_event.add(once)
        last[(i.model, i.version, i.environment)] = i
    for key, doc in store.docs.items():
        if not key.startswith("model:") or "@" in key:
            continue
        for entry in dict_list(doc.get("versions")):
            for env, status in as_dict(entry.get("status")).items():
                interval = last[(str(doc["name"]), str(entry["version"]), env)]
                got = as_dict(status)
                assert (got["status"], got["exposure"], got["strategy"]) == (
                    interval.status, interval.exposure, interval.strategy
                )  # fmt: skip


def assert_tests_are_the_latest_per_slot(store: Store, log: Log) -> None:
    """The test rows are, per version and (kind, environment, suite), the log's last result."""
    latest: dict[str, dict[tuple[str, str, str], int]] = {}
    for e in log.events:
        if e["type"] == "test.result.recorded":
            d = e["data"]
            slot = (str(d["kind"]), str(d.get("environment") or ""), str(d["suite"]))
            latest.setdefault(e["subject"], {})[slot] = e["seq"]
    got = {v: {slot: t["seq"] for slot, t in rows.items()} for v, rows in store.tests.items()}
    assert got == latest
    for version in latest:
        assert "tests" not in store.docs.get(version, {})  # the version document keeps none


@settings(max_examples=400, deadline=None)
@given(ops=st.lists(events, max_size=60), cuts=st.sets(st.integers(1, 59)))
def test_rebuild_from_scratch_equals_incremental_batches(ops: list[Op], cuts: set[int]) -> None:
    log = replay(ops)
    whole = Store()
    whole.apply(log.events, check_pure=True)
    batched = Store()
    bounds = [0, *sorted(c for c in cuts if c < len(log.events)), len(log.events)]
    for start, end in itertools.pairwise(bounds):
        batched.apply(log.events[start:end], check_pure=True)
    assert batched.docs == whole.docs
    assert batched.intervals == whole.intervals
    assert batched.edges == whole.edges
    assert batched.tests == whole.tests
    assert batched.history == whole.history
    assert_intervals_agree_with_docs(whole)
    assert_tests_are_the_latest_per_slot(whole, log)
    json.dumps(whole.docs, allow_nan=False)
