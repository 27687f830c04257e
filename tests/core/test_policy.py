"""The rollout policy as a table: (policy, state, draft) -> the codes of the unmet requirements."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ledger.policy import (
    ApprovalRule,
    EnvironmentRules,
    Policy,
    PolicyState,
    Threshold,
    Violation,
    breaches,
    check,
    denied_event_data,
    evaluate,
    is_gated,
    policy_for,
    policy_keys_for,
    stage_expires_at,
)
from ledger.projections._approvals import uncovered_roles
from ledger.projections.base import Doc, DraftView

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-11-20T12:00:00.000000Z"
V = "model:fraud@1.4.0"
DEP = "deployment:fraud/prod"

PROD = EnvironmentRules(
    required_tests=("unit", "fairness"),
    approvals=ApprovalRule(count=2, roles=("ml_lead", "model_risk")),
    min_minutes_per_stage=60,
    max_exposure_step=25,
    stage_ttl_minutes=1440,
    allowed_strategies=("shadow", "canary", "full"),
    rollback_thresholds=(Threshold("error_rate", "gt", 0.02),),
)
POLICY = Policy("policy:high-risk", 3, {"prod": PROD})


def with_rules(**changes: object) -> Policy:
    return Policy("policy:high-risk", 3, {"prod": replace(PROD, **changes)})  # type: ignore[arg-type]


def result(kind: str, passed: bool = True, *, suite: str = "", env: str | None = None) -> Doc:
    return {"seq": 10, "kind": kind, "suite": suite or kind, "passed": passed, "environment": env}


def approval(actor: str, role: str, env: str = "prod", **extra: object) -> Doc:
    entry: Doc = {"seq": 20, "actor": actor, "role": role, "environment": env, "revoked": False}
    entry.update(extra)
    return entry


TESTS = [result("unit"), result("fairness")]
APPROVALS = [approval("alice", "ml_lead"), approval("bob", "model_risk")]


def state(
    *,
    tests: list[Doc] | None = None,
    approvals: list[Doc] | None = None,
    registered: bool = True,
    exposure: float | None = 5,
    retired: bool = False,
    **deployment: object,
) -> PolicyState:
    version: Doc = {
        "ref": V,
        "registered_seq": 3 if registered else None,
        "author": "carol",
        "approvals": APPROVALS if approvals is None else approvals,
    }
    status = {} if exposure is None else {"prod": {"status": "canary", "exposure": exposure}}
    model: Doc = {
        "ref": "model:fraud",
        "risk_tier": "high",
        "retired": retired,
        "versions": [{"version": "1.4.0", "status": status}],
    }
    dep: Doc = {
        "ref": DEP,
        "version": "1.4.0",
        "strategy": "canary",
        "exposure": exposure or 0,
        "stage_entered_at": "2026-11-20T10:00:00.000000Z",  # two hours before NOW
        "expires_at": None,
        "open_alerts": {},
        "cleared_at": {},
        "rollback_required": False,
    }
    dep.update(deployment)
    results: Doc = {"ref": V, "tests": TESTS if tests is None else tests}
    return PolicyState(version=version, model=model, deployment=dep, tests=results)


def promote(env: str = "prod", decision: str = "promote", **data: object) -> DraftView:
    payload: dict[str, object] = {"environment": env, "decision": decision, "justification": "j"}
    payload.update({"target_exposure": 5, "strategy": "canary", **data})
    return {"type": "deployment.decided", "subject": V, "actor": "bob", "data": payload}


def stage(exposure: float, strategy: str = "canary", version: str = V) -> DraftView:
    data: dict[str, object] = {"version": version, "strategy": strategy}
    data["exposure_percent"] = exposure
    return {"type": "rollout.stage.changed", "subject": DEP, "actor": "ops", "data": data}


ALERT = {"seq": 40, "metric": "error_rate", "severity": "critical"}
WARNING = {"seq": 41, "metric": "latency_p99_ms", "severity": "warning"}

CASES: list[tuple[str, Policy, PolicyState, DraftView, list[str]]] = [
    # deployment.decided promote: tests, approvals, strategy, registration, retirement
    ("promote with everything in place", POLICY, state(), promote(), []),
    (
        "promote without fairness",
        POLICY,
        state(tests=[result("unit")]),
        promote(),
        ["test_missing"],
    ),
    ("no tests at all", POLICY, state(tests=[]), promote(), ["test_missing", "test_missing"]),
    (
        "latest fairness run failed",
        POLICY,
        state(tests=[result("unit"), result("fairness"), result("fairness", False)]),
        promote(),
        ["test_missing"],
    ),
    (
        "fairness passed after failing",
        POLICY,
        state(tests=[result("unit"), result("fairness", False), result("fairness")]),
        promote(),
        [],
    ),
    (
        "one of two fairness suites failed last",
        POLICY,
        state(
            tests=[
                result("unit"),
                result("fairness", suite="eu"),
                result("fairness", False, suite="us"),
            ]
        ),
        promote(),
        ["test_missing"],
    ),
    (
        "a test run in another environment does not count",
        POLICY,
        state(tests=[result("unit"), result("fairness", env="staging")]),
        promote(),
        ["test_missing"],
    ),
    (
        "a test run in this environment counts",
        POLICY,
        state(tests=[result("unit"), result("fairness", env="prod")]),
        promote(),
        [],
    ),
    (
        "one approval",
        POLICY,
        state(approvals=[approval("alice", "ml_lead")]),
        promote(),
        ["approval_count", "approval_roles"],
    ),
    (
        "the author's approval is ignored",
        POLICY,
        state(approvals=[approval("alice", "ml_lead"), approval("carol", "model_risk")]),
        promote(),
        ["approval_count", "approval_roles"],
    ),
    (
        "the author counts when the policy allows it",
        with_rules(approvals=ApprovalRule(2, ("ml_lead", "model_risk"), exclude_author=False)),
        state(approvals=[approval("alice", "ml_lead"), approval("carol", "model_risk")]),
        promote(),
        [],
    ),
    (
        "a revoked approval is ignored",
        POLICY,
        state(
            approvals=[approval("alice", "ml_lead"), approval("bob", "model_risk", revoked=True)]
        ),
        promote(),
        ["approval_count", "approval_roles"],
    ),
    (
        "an expired approval is ignored",
        POLICY,
        state(
            approvals=[
                approval("alice", "ml_lead"),
                approval("bob", "model_risk", expires_at="2026-11-20T11:00:00.000000Z"),
            ]
        ),
        promote(),
        ["approval_count", "approval_roles"],
    ),
    (
        "an approval that has not expired yet counts",
        POLICY,
        state(
            approvals=[
                approval("alice", "ml_lead"),
                approval("bob", "model_risk", expires_at="2026-11-21T00:00:00.000000Z"),
            ]
        ),
        promote(),
        [],
    ),
    (
        "an approval for staging does not count for prod",
        POLICY,
        state(approvals=[approval("alice", "ml_lead"), approval("bob", "model_risk", "staging")]),
        promote(),
        ["approval_count", "approval_roles"],
    ),
    (
        "one person in two roles is one approval",
        POLICY,
        state(approvals=[approval("alice", "ml_lead"), approval("alice", "model_risk")]),
        promote(),
        ["approval_count", "approval_roles"],
    ),
    (
        "one person in two roles is enough without distinct_people",
        with_rules(approvals=ApprovalRule(2, ("ml_lead", "model_risk"), distinct_people=False)),
        state(approvals=[approval("alice", "ml_lead"), approval("alice", "model_risk")]),
        promote(),
        [],
    ),
    (
        "enough approvals but a role is missing",
        POLICY,
        state(approvals=[approval("alice", "ml_lead"), approval("dan", "ml_lead")]),
        promote(),
        ["approval_roles"],
    ),
    (
        "no approvals needed",
        with_rules(approvals=ApprovalRule(0)),
        state(approvals=[]),
        promote(),
        [],
    ),
    (
        "an unregistered version",
        POLICY,
        state(registered=False),
        promote(),
        ["version_unregistered"],
    ),
    ("a retired model", POLICY, state(retired=True), promote(), ["model_retired"]),
    (
        "a strategy the environment does not allow",
        POLICY,
        state(),
        promote(strategy="feature_flag"),
        ["strategy_not_allowed"],
    ),
    ("an environment the policy does not govern", POLICY, state(tests=[]), promote("dev"), []),
    ("hold is not gated", POLICY, state(tests=[]), promote(decision="hold"), []),
    ("abort is not gated", POLICY, state(tests=[]), promote(decision="abort"), []),
    # rollout.stage.changed raising exposure: all of the above, plus the stage rules
    ("raise 5 -> 25 after two clean hours", POLICY, state(), stage(25), []),
    ("raise 5 -> 50 is too big a step", POLICY, state(), stage(50), ["exposure_step"]),
    (
        "raise from a stage 30 minutes old",
        POLICY,
        state(stage_entered_at="2026-11-20T11:30:00.000000Z"),
        stage(25),
        ["stage_too_short"],
    ),
    (
        "raise with an open critical alert",
        POLICY,
        state(open_alerts={"a1": ALERT}),
        stage(25),
        ["alert_open"],
    ),
    (
        "an open warning does not block by default",
        POLICY,
        state(open_alerts={"w1": WARNING}),
        stage(25),
        [],
    ),
    (
        "an open warning blocks when warnings are blocking",
        with_rules(blocking_alert_severity="warning"),
        state(open_alerts={"w1": WARNING}),
        stage(25),
        ["alert_open"],
    ),
    (
        "a critical alert cleared ten minutes ago restarts the clock",
        POLICY,
        state(cleared_at={"critical": "2026-11-20T11:50:00.000000Z"}),
        stage(25),
        ["stage_too_short"],
    ),
    (
        "a cleared warning does not restart a critical-level clock",
        POLICY,
        state(cleared_at={"warning": "2026-11-20T11:50:00.000000Z"}),
        stage(25),
        [],
    ),
    (
        "a crossed rollback threshold",
        POLICY,
        state(rollback_required=True, rollback_cause={"metric": "error_rate", "seq": 40}),
        stage(25),
        ["rollback_required"],
    ),
    (
        "raise from an expired stage",
        POLICY,
        state(expires_at="2026-11-20T11:59:00.000000Z"),
        stage(25),
        ["stage_expired"],
    ),
    (
        "raise from a stage past the policy's TTL",
        POLICY,
        state(stage_entered_at="2026-11-19T10:00:00.000000Z"),
        stage(25),
        ["stage_expired"],
    ),
    (
        "raise without approvals",
        POLICY,
        state(approvals=[]),
        stage(25),
        ["approval_count", "approval_roles"],
    ),
    (
        "a strategy the environment does not allow",
        POLICY,
        state(),
        stage(25, "blue_green"),
        ["strategy_not_allowed"],
    ),
    (
        "everything wrong at once",
        POLICY,
        state(
            tests=[],
            approvals=[],
            retired=True,
            registered=False,
            open_alerts={"a1": ALERT},
            rollback_required=True,
            stage_entered_at="2026-11-20T11:59:00.000000Z",
            expires_at="2026-11-20T11:00:00.000000Z",
        ),
        stage(100, "feature_flag"),
        [
            "model_retired",
            "version_unregistered",
            "strategy_not_allowed",
            "test_missing",
            "test_missing",
            "approval_count",
            "approval_roles",
            "rollback_required",
            "alert_open",
            "exposure_step",
            "stage_expired",
            "stage_too_short",
        ],
    ),
    # not gated: exposure does not rise
    ("lowering exposure", POLICY, state(tests=[], open_alerts={"a1": ALERT}), stage(0), []),
    (
        "renewing a stage at the same exposure",
        POLICY,
        state(tests=[], expires_at=NOW),
        stage(5),
        [],
    ),
    ("a shadow stage", POLICY, state(tests=[], exposure=None), stage(0, "shadow"), []),
    # a version entering the environment has no stage of its own to wait in
    (
        "a new version's first canary right after another version's stage",
        POLICY,
        state(exposure=None, version="1.3.2", stage_entered_at="2026-11-20T11:59:00.000000Z"),
        stage(5),
        [],
    ),
    (
        "a new version may not skip the step limit",
        POLICY,
        state(exposure=None, version="1.3.2"),
        stage(100, "full"),
        ["exposure_step"],
    ),
]


@pytest.mark.parametrize(
    ("policy", "state", "draft", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_evaluate_lists_every_unmet_requirement(
    policy: Policy, state: PolicyState, draft: DraftView, expected: list[str]
) -> None:
    assert [v.code for v in evaluate(policy, state, draft, NOW)] == expected


def test_messages_name_the_requirement_and_what_was_found() -> None:
    found = evaluate(
        POLICY,
        state(
            tests=[result("unit"), result("fairness", False, suite="fairness-eu")],
            approvals=[approval("alice", "ml_lead"), approval("carol", "model_risk")],
        ),
        promote(),
        NOW,
    )
    assert found == [
        Violation(
            "test_missing",
            "prod requires a passing fairness test on model:fraud@1.4.0; "
            "latest result failed: fairness-eu (seq 10)",
        ),
        Violation(
            "approval_count",
            "prod needs 2 approvals of model:fraud@1.4.0 from roles [ml_lead, model_risk] "
            "by distinct people other than the author; has 1 (alice as ml_lead); "
            "ignored: 1 by the author",
        ),
        Violation(
            "approval_roles",
            "prod needs approvals of model:fraud@1.4.0 from roles [ml_lead, model_risk], "
            "each by a different person; missing: model_risk",
        ),
    ]


def test_stage_messages_quote_the_numbers() -> None:
    found = evaluate(POLICY, state(stage_entered_at="2026-11-20T11:30:00.000000Z"), stage(40), NOW)
    assert [v.message for v in found] == [
        "prod allows exposure to rise by at most 25 points per stage; 5% -> 40% is 35",
        "prod needs 60 minutes at the current stage (canary 5%) with no open critical alert; "
        "has 30.0",
    ]


@pytest.mark.parametrize(
    ("draft", "gated"),
    [
        (promote(), True),
        (promote(decision="hold"), False),
        (stage(25), True),
        (stage(5), False),
        (stage(0, "shadow"), False),
        ({"type": "test.result.recorded", "subject": V, "actor": "ci", "data": {}}, False),
    ],
)
def test_only_promotions_and_raises_are_gated(draft: DraftView, gated: bool) -> None:
    assert is_gated(draft, state()) is gated


def test_policy_keys_name_the_version_model_deployment_and_index() -> None:
    keys = [V, "model:fraud", DEP, "policies", f"tests:{V}"]
    assert policy_keys_for(promote()) == keys
    assert policy_keys_for(stage(25)) == keys
    assert policy_keys_for({"type": "alert.raised", "subject": DEP, "actor": "m", "data": {}}) == []


INDEX: Doc = {
    "tiers": {"high": "policy:high-risk", "low": "policy:relaxed"},
    "models": {"model:credit": "policy:credit-special"},
    "current": {
        "policy:high-risk": {"policy_version": 3, "seq": 7, "environments": {"prod": {}}},
        "policy:credit-special": {"policy_version": 1, "seq": 9, "environments": {}},
    },
}


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ({"ref": "model:fraud", "risk_tier": "high"}, ("policy:high-risk", 3, 7)),
        ({"ref": "model:credit", "risk_tier": "high"}, ("policy:credit-special", 1, 9)),
        ({"ref": "model:recs", "risk_tier": "medium"}, None),
        ({"ref": "model:recs", "risk_tier": "low"}, None),  # named, but never defined
        (None, None),
    ],
)
def test_policy_for_prefers_the_model_override_then_the_risk_tier(
    model: Doc | None, expected: tuple[str, int, int] | None
) -> None:
    policy = policy_for(model, INDEX)
    assert (policy and (policy.ref, policy.version, policy.seq)) == expected


def test_check_resolves_the_policy_from_the_fetched_docs() -> None:
    s = state(tests=[result("unit")])
    docs = {V: s.version, "model:fraud": s.model, DEP: s.deployment, "policies": INDEX}
    docs[f"tests:{V}"] = s.tests
    definition = {"policy_version": 3, "seq": 7, "environments": {"prod": {
        "required_tests": ["unit", "fairness"], "required_approvals": {"count": 0},
        "min_minutes_per_stage": 0, "max_exposure_step": 100}}}  # fmt: skip
    docs["policies"] = {**INDEX, "current": {"policy:high-risk": definition}}
    policy, violations = check(promote(), docs, NOW)
    assert policy is not None
    assert policy.ref == "policy:high-risk"
    assert [v.code for v in violations] == ["test_missing"]
    assert check(promote(decision="hold"), docs, NOW) == (None, [])
    assert check(promote(), {**docs, "policies": None}, NOW) == (None, [])


def test_environment_rules_read_the_schema_defaults() -> None:
    threshold = {"metric": "auc", "comparator": "lt", "value": 0.9}
    rules = EnvironmentRules.from_json(
        {"required_tests": ["unit"], "required_approvals": {"count": 1}, "min_minutes_per_stage": 5,
         "max_exposure_step": 10, "rollback_thresholds": [threshold]}
    )  # fmt: skip
    assert rules == EnvironmentRules(
        required_tests=("unit",),
        approvals=ApprovalRule(1, (), distinct_people=True, exclude_author=True),
        min_minutes_per_stage=5,
        blocking_alert_severity="critical",
        max_exposure_step=10,
        rollback_thresholds=(Threshold("auc", "lt", 0.9),),
    )


@pytest.mark.parametrize(
    ("alert", "environment", "expected"),
    [
        ({"metric": "error_rate", "observed": 0.034}, "prod", True),
        ({"metric": "error_rate", "observed": 0.02}, "prod", False),  # gt: equal is not past
        ({"metric": "error_rate", "observed": 0.5}, "staging", False),  # no rules there
        ({"metric": "latency_p99_ms", "observed": 900}, "prod", False),  # no threshold
        ({"metric": "error_rate"}, "prod", False),
    ],
)
def test_breaches_compares_observed_with_the_policy_threshold(
    alert: dict[str, object], environment: str, expected: bool
) -> None:
    assert breaches(POLICY, environment, alert) is expected


@pytest.mark.parametrize(
    ("comparator", "observed", "crossed"),
    [("gt", 3, True), ("gt", 2, False), ("gte", 2, True), ("lt", 1, True), ("lte", 2, True),
     ("lte", 3, False), ("between", 2, False)],
)  # fmt: skip
def test_threshold_comparators(comparator: str, observed: float, crossed: bool) -> None:
    assert Threshold("m", comparator, 2).crossed_by(observed) is crossed


def test_stage_expiry_is_the_earlier_of_its_own_and_the_ttl() -> None:
    dep: Doc = {"stage_entered_at": "2026-11-20T10:00:00.000000Z", "exposure": 5}
    assert stage_expires_at(dep, PROD) == "2026-11-21T10:00:00.000000Z"
    assert stage_expires_at({**dep, "expires_at": "2026-11-20T11:00:00.000000Z"}, PROD) == (
        "2026-11-20T11:00:00.000000Z"
    )
    assert stage_expires_at({**dep, "exposure": 100}, PROD) is None
    assert stage_expires_at(dep, None) is None


@pytest.mark.parametrize(
    ("approvals", "distinct", "missing"),
    [
        ([("alice", "a"), ("alice", "b")], True, ["b"]),
        ([("alice", "a"), ("alice", "b")], False, []),
        ([("alice", "a"), ("alice", "b"), ("bob", "a")], True, []),  # alice moves over to b
        ([("bob", "c")], True, ["a", "b"]),
    ],
)
def test_roles_are_matched_to_different_people(
    approvals: list[tuple[str, str]], distinct: bool, missing: list[str]
) -> None:
    assert uncovered_roles(approvals, ["a", "b"], distinct_people=distinct) == missing


def test_denied_event_data_matches_the_policy_denied_schema() -> None:
    draft = promote()
    violations = evaluate(POLICY, state(tests=[]), draft, NOW)
    data = denied_event_data(
        draft, violations, policy=POLICY, draft_id="6f1c1b9e-0c1d-4c1a-9a55-0d6a9f1f2a11"
    )
    assert data == {
        "draft_type": "deployment.decided",
        "actor": "bob",
        "unmet": [v.message for v in violations],
        "draft_data": draft["data"],
        "environment": "prod",
        "draft_id": "6f1c1b9e-0c1d-4c1a-9a55-0d6a9f1f2a11",
        "policy": "policy:high-risk",
        "policy_version": 3,
    }
    schema = json.loads((ROOT / "schema" / "events" / "policy.denied.json").read_text())
    Draft202012Validator(schema).validate(data)
    assert denied_event_data(stage(50), violations)["environment"] == "prod"
    with pytest.raises(ValueError, match="at least one violation"):
        denied_event_data(draft, [])


def test_a_gated_step_for_a_model_outside_the_inventory_is_refused_once_policies_exist() -> None:
    s = state(tests=[result("unit")])
    definition = {"policy_version": 1, "seq": 7, "environments": {"prod": {
        "required_tests": ["unit"], "required_approvals": {"count": 0},
        "min_minutes_per_stage": 0, "max_exposure_step": 100}}}  # fmt: skip
    index = {**INDEX, "current": {"policy:high-risk": definition}}
    docs = {V: s.version, "model:fraud": None, DEP: s.deployment, "policies": index}
    docs[f"tests:{V}"] = s.tests
    policy, violations = check(promote(), docs, NOW)
    assert policy is None
    assert [v.code for v in violations] == ["model_unregistered"]
    assert "model:fraud" in violations[0].message
    # No policy anywhere: nothing is gated yet, so nothing is refused.
    assert check(promote(), {**docs, "policies": None}, NOW) == (None, [])
