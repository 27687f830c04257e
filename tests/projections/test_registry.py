"""The registry projection: a realistic rollout story, keys, and rebuild == incremental."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ledger.projections._json import as_dict, dict_list
from ledger.projections.base import SERVING_STATUSES, Doc, EventView, StatusInterval
from ledger.projections.registry import keys_for, project
from tests.projections.story import (
    DATA,
    DEP,
    HOLDOUT,
    OLD,
    POLICY,
    Log,
    Store,
    Story,
    V,
    approve,
    build_story,
    result,
    stage,
)


def served_at(intervals: Sequence[StatusInterval], environment: str, time: str) -> list[str]:
    """Versions serving live traffic in ``environment`` at ``time``, read from intervals alone.

    The query the store runs: per (model, version, environment), the last
    interval starting at or before ``time`` is the one open then.
    """
    open_then: dict[tuple[str, str], StatusInterval] = {}
    for interval in intervals:
        if interval.environment == environment and interval.time <= time:
            open_then[(interval.model, interval.version)] = interval
    return sorted(
        f"{i.version}@{i.exposure:g}%" for i in open_then.values() if i.status in SERVING_STATUSES
    )


def test_story_gate_denies_exactly_the_bypass_attempts(story: Story) -> None:
    assert story.denied == [
        ["test_missing", "approval_count", "approval_roles"],
        ["approval_count", "approval_roles"],
        ["approval_count", "approval_roles"],
        ["alert_open"],
        ["stage_too_short"],
    ]
    assert [e["seq"] for e in story.log.events] == list(range(1, 30))


def test_story_intervals_record_every_status_change(story: Story) -> None:
    got = [(i.version, i.status, i.exposure, i.strategy, i.seq) for i in story.store.intervals]
    assert got == [
        ("1.3.2", "production", 100, "full", 4),
        ("1.4.0", "candidate", 0, "canary", 16),
        ("1.4.0", "shadow", 0, "shadow", 17),
        ("1.3.2", "production", 95, "full", 18),
        ("1.4.0", "canary", 5, "canary", 18),
        ("1.3.2", "production", 75, "full", 19),
        ("1.4.0", "canary", 25, "canary", 19),
        ("1.3.2", "replaced", 0, None, 22),
        ("1.4.0", "production", 100, "full", 22),
        ("1.4.0", "rolled_back", 0, None, 25),
        ("1.3.2", "production", 100, None, 25),
        ("1.4.0", "retired", 0, None, 28),
        ("1.3.2", "retired", 0, None, 29),
    ]
    assert {(i.model, i.environment) for i in story.store.intervals} == {("fraud-detector", "prod")}


def test_story_intervals_answer_what_served_prod_at_any_time(story: Story) -> None:
    time = {e["seq"]: e["recorded_at"] for e in story.log.events}
    intervals = story.store.intervals
    assert served_at(intervals, "prod", time[3]) == []
    assert served_at(intervals, "prod", time[17]) == ["1.3.2@100%"]
    assert served_at(intervals, "prod", time[19]) == ["1.3.2@75%", "1.4.0@25%"]
    assert served_at(intervals, "prod", time[24]) == ["1.4.0@100%"]
    assert served_at(intervals, "prod", time[27]) == ["1.3.2@100%"]
    assert served_at(intervals, "prod", time[29]) == []
    assert served_at(intervals, "staging", time[29]) == []


def rows(doc: Doc, key: str, *fields: str) -> list[tuple[object, ...]]:
    """Selected fields of the entries of a list in a document."""
    return [tuple(entry.get(f) for f in fields) for entry in dict_list(doc.get(key))]


def test_story_version_doc_holds_tests_approvals_decisions_and_history(story: Story) -> None:
    doc = story.doc(V)
    assert (doc["author"], doc["registered_by"], doc["registered_seq"]) == ("carol", "ci", 6)
    assert doc["trained_on"] == [DATA]
    # Only the latest result per (kind, suite, environment) is kept: the failed
    # fairness run at seq 9 was superseded by the passing one at seq 10.
    assert "tests" not in doc  # latest results are rows, read as tests:<version>
    assert rows(story.store.get(f"tests:{V}") or {}, "tests", "kind", "passed", "seq") == [
        ("unit", True, 7), ("evaluation", True, 8), ("fairness", True, 10)
    ]  # fmt: skip
    assert rows(doc, "approvals", "actor", "role", "revoked", "revoked_seq") == [
        ("alice", "ml_lead", False, None), ("carol", "model_risk", False, None),
        ("erin", "model_risk", True, 14), ("bob", "model_risk", False, None),
    ]  # fmt: skip
    assert rows(doc, "decisions", "decision", "seq") == [("promote", 16), ("retire", 28)]
    assert rows(doc, "stages", "strategy", "exposure", "expires_at") == [
        ("shadow", 0, story.log.events[16]["recorded_at"].replace("20T", "21T")),
        ("canary", 5, story.log.events[17]["recorded_at"].replace("20T", "21T")),
        ("canary", 25, story.log.events[18]["recorded_at"].replace("20T", "21T")),
        ("full", 100, None),
    ]
    assert rows(doc, "rollbacks", "role", "environment") == [("from", "prod")]
    history = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 22, 23, 25, 26, 28]
    assert story.store.history[V] == history
    assert "history" not in doc


def test_story_model_doc_holds_versions_status_and_retirement(story: Story) -> None:
    doc = story.doc("model:fraud-detector")
    assert (doc["owner"], doc["risk_tier"], doc["retired"]) == ("fraud-ml", "high", True)
    assert rows(doc, "versions", "version", "registered_seq") == [("1.3.2", 3), ("1.4.0", 6)]
    statuses = [as_dict(v["status"])["prod"] for v in dict_list(doc["versions"])]
    assert [as_dict(s)["status"] for s in statuses] == ["retired", "retired"]
    assert as_dict(doc["retirement"])["reason"] == "replaced"


def test_story_deployment_doc_tracks_rollout_alerts_and_rollbacks(story: Story) -> None:
    doc = story.doc(DEP)
    assert {k: doc[k] for k in ("version", "stable_version", "exposure", "rollback_required")} == {
        "version": "1.3.2", "stable_version": "1.3.2", "exposure": 100, "rollback_required": False
    }  # fmt: skip
    assert doc["open_alerts"] == {}
    assert rows(doc, "rollbacks", "seq", "verified", "verification_seq") == [(25, True, 26)]
    assert "history" not in doc


@pytest.fixture(scope="module")
def story() -> Story:
    return build_story()


def test_alert_past_a_rollback_threshold_marks_rollback_required(story: Story) -> None:
    store = Store()
    store.apply(story.log.events[:23])
    doc = store.docs[DEP]
    assert doc["rollback_required"] is True
    assert doc["rollback_cause"] == {
        "seq": 23, "alert_id": "err", "metric": "error_rate", "observed": 0.034,
        "comparator": "gt", "value": 0.02,
    }  # fmt: skip
    assert list(as_dict(doc["open_alerts"])) == ["err"]


def test_story_edges_include_the_implied_ones(story: Story) -> None:
    edges = {(e.source, e.target, e.relation) for e in story.store.edges}
    assert edges == {
        ("dataset:transactions@2026-11-01", "dataset:transactions", "version_of"),
        (OLD, "model:fraud-detector", "version_of"),
        (OLD, "run:mlflow/1", "produced_by"),
        (DEP, OLD, "serves"),
        (V, "model:fraud-detector", "version_of"),
        (V, DATA, "trained_on"),
        (V, "run:mlflow/2", "produced_by"),
        (V, HOLDOUT, "evaluated_on"),
        (HOLDOUT, "dataset:transactions-holdout", "version_of"),
        (DEP, V, "serves"),
        ("incident:INC-204", DEP, "affects"),
    }
    first: dict[tuple[str, str, str], int] = {}
    for e in story.store.edges:
        first.setdefault((e.source, e.target, e.relation), e.seq)
    assert first[(DEP, V, "serves")] == 17


def test_rebuilding_the_story_in_one_go_gives_the_same_state(story: Story) -> None:
    rebuilt = Store()
    rebuilt.apply(story.log.events, check_pure=True)
    assert rebuilt == story.store


def test_keys_for_names_exactly_what_project_may_touch() -> None:
    assert keys_for(event("rollout.stage.changed", DEP, stage(V, "canary", 5))) == [
        DEP, V, "model:fraud-detector", "policies"
    ]  # fmt: skip
    assert keys_for(event("alert.raised", DEP, {"alert_id": "a", "metric": "m"})) == [
        DEP, "model:fraud-detector", "policies"
    ]  # fmt: skip
    assert keys_for(event("policy.defined", "policy:p", POLICY)) == ["policy:p", "policies"]
    assert keys_for(event("lineage.edge.recorded", V, {"target": DATA, "relation": "x"})) == []
    assert keys_for(event("unknown.type", V, {})) == []


def test_project_ignores_unknown_types() -> None:
    effects = project(event("unknown.type", V, {}), {})
    assert (effects.docs, effects.intervals, effects.edges) == ({}, [], [])


def event(type: str, subject: str, data: dict[str, object], seq: int = 1) -> EventView:
    time = "2026-11-20T09:00:00.000000Z"
    return {"seq": seq, "id": "x", "type": type, "subject": subject, "actor": "ci",
            "occurred_at": time, "recorded_at": time, "data": data, "hash": "0" * 64}  # fmt: skip


def statuses(events: list[tuple[str, str, dict[str, object]]]) -> dict[str, str]:
    """Project ``(type, subject, data)`` in order; ``{"version@env": "status exposure"}``."""
    log, store = Log(), Store()
    for type, subject, data in events:
        log.add(type, subject, data)
    store.apply(log.events, check_pure=True)
    out = {}
    for entry in dict_list(store.docs.get("model:fraud-detector", {}).get("versions")):
        for env, value in as_dict(entry.get("status")).items():
            status = as_dict(value)
            out[f"{entry['version']}@{env}"] = f"{status['status']} {status['exposure']}"
    return out


V2 = "model:fraud-detector@2.0.0"
STG = "deployment:fraud-detector/staging"


def decide(
    decision: str, version: str = V, env: str = "prod"
) -> tuple[str, str, dict[str, object]]:
    data: dict[str, object] = {"environment": env, "decision": decision, "justification": "j"}
    return ("deployment.decided", version, data)


def staged(
    version: str, strategy: str, exposure: int, dep: str = DEP
) -> tuple[str, str, dict[str, object]]:
    return ("rollout.stage.changed", dep, stage(version, strategy, exposure))


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([decide("promote")], {"1.4.0@prod": "candidate 0"}),
        ([decide("promote"), decide("abort")], {"1.4.0@prod": "aborted 0"}),
        ([decide("hold")], {}),
        ([decide("retire")], {"1.4.0@prod": "retired 0"}),
        (  # decisions never move traffic
            [staged(V, "canary", 5), decide("abort"), decide("retire")],
            {"1.4.0@prod": "canary 5"},
        ),
        ([staged(V, "canary", 5), staged(V, "canary", 0)], {"1.4.0@prod": "candidate 0"}),
        ([staged(V, "blue_green", 100)], {"1.4.0@prod": "production 100"}),
        (  # a partial rollout superseded by another version loses its traffic
            [staged(OLD, "full", 100), staged(V, "canary", 25), staged(V2, "canary", 5)],
            {"1.3.2@prod": "production 95", "1.4.0@prod": "replaced 0", "2.0.0@prod": "canary 5"},
        ),
        (  # shadowing another version leaves production alone
            [staged(OLD, "full", 100), staged(V, "shadow", 0)],
            {"1.3.2@prod": "production 100", "1.4.0@prod": "shadow 0"},
        ),
        (  # environments are independent
            [staged(OLD, "full", 100), staged(V, "full", 100, STG)],
            {"1.3.2@prod": "production 100", "1.4.0@staging": "production 100"},
        ),
        (
            [staged(OLD, "full", 100), staged(V, "canary", 50), decide("promote", V2),
             ("rollback.executed", DEP, {"from_version": V, "to_version": OLD, "reason": "r"})],
            {"1.3.2@prod": "production 100", "1.4.0@prod": "rolled_back 0",
             "2.0.0@prod": "candidate 0"},
        ),
        (  # retirement is final
            [staged(V, "full", 100), ("model.retired", "model:fraud-detector", {"reason": "r"}),
             staged(V2, "full", 100), decide("promote", V2)],
            {"1.4.0@prod": "retired 0"},
        ),
    ],
)  # fmt: skip
def test_status_transitions(
    events: list[tuple[str, str, dict[str, object]]], expected: dict[str, str]
) -> None:
    assert statuses(events) == expected


def test_policy_index_follows_scope_changes_and_model_overrides() -> None:
    log, store = Log(), Store()
    log.add("policy.defined", "policy:a", {**POLICY, "scope": {"risk_tiers": ["high", "low"]}})
    log.add("policy.defined", "policy:b", {**POLICY, "scope": {"models": ["model:x"]}})
    log.add("policy.defined", "policy:a", {**POLICY, "policy_version": 2,
                                           "scope": {"risk_tiers": ["high"]}})  # fmt: skip
    store.apply(log.events)
    index = store.docs["policies"]
    assert index["tiers"] == {"high": "policy:a"}
    assert index["models"] == {"model:x": "policy:b"}
    assert as_dict(as_dict(index["current"])["policy:a"])["policy_version"] == 2
    assert rows(store.docs["policy:a"], "definitions", "policy_version", "seq") == [(1, 1), (2, 3)]


def test_stage_expiry_takes_the_earlier_of_the_payload_and_the_policy_ttl() -> None:
    log, store = Log(), Store()
    log.add("policy.defined", "policy:p", POLICY)
    log.add("model.registered", "model:fraud-detector", {"risk_tier": "high"})
    log.add(
        "rollout.stage.changed",
        DEP,
        {**stage(V, "canary", 5), "expires_at": "2026-11-20T10:00:00+00:00"},
    )
    log.add(
        "rollout.stage.changed",
        DEP,
        {**stage(V, "canary", 10), "expires_at": "2026-12-01T00:00:00Z"},
    )
    store.apply(log.events[:3])
    assert store.docs[DEP]["expires_at"] == "2026-11-20T10:00:00.000000Z"
    store.apply(log.events[3:])
    assert store.docs[DEP]["expires_at"] == "2026-11-21T09:00:00.004000Z"  # 1440 minutes on


def test_resolving_an_alert_never_raised_changes_nothing() -> None:
    effects = project(
        event("alert.resolved", DEP, {"alert_id": "x", "metric": "m", "observed": 1}), {}
    )
    assert (effects.docs, effects.intervals) == ({}, [])


def test_project_returns_only_the_documents_it_changed() -> None:
    effects = project(event("approval.granted", V, approve("ml_lead")), {V: None, "other": {}})
    assert list(effects.docs) == [V]


def test_a_test_result_is_a_row_and_a_history_entry_not_a_document_rewrite() -> None:
    effects = project(event("test.result.recorded", V, result("unit")), {})
    assert keys_for(event("test.result.recorded", V, result("unit"))) == []
    assert (effects.docs, effects.touched) == ({}, [V])
    [row] = effects.tests
    assert (row.version, row.slot, row.entry["kind"], row.entry["passed"]) == (
        V, ("unit", "", "unit-suite"), "unit", True
    )  # fmt: skip
