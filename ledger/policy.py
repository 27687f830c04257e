"""Rollout policy: the rules per environment, and the pure check of a draft against them.

A policy is the payload of a ``policy.defined`` event (schema/events/policy.defined.json).
Only two kinds of draft are *gated*: a ``deployment.decided`` with decision
``promote``, and a ``rollout.stage.changed`` that raises the live exposure of
its version in the deployment's environment. :func:`evaluate` lists every
unmet requirement as a :class:`Violation`; an empty list lets the draft in.

| code | requirement |
| --- | --- |
| ``model_retired`` | the model has not been retired |
| ``version_unregistered`` | the exact version was registered |
| ``strategy_not_allowed`` | the strategy is in ``allowed_strategies`` |
| ``test_missing`` | per required kind: a result exists on the exact version, and the latest
  result of every suite of that kind passed (results that name another environment
  do not count) |
| ``approval_count`` | enough active approvals for the environment: not revoked, not
  expired, not by the version's author, each person once |
| ``approval_roles`` | every required role approved, each by a different person when
  ``distinct_people`` |
| ``rollback_required`` | stage raises only: no rollback threshold crossed since the last
  rollback |
| ``alert_open`` | stage raises only: no open alert at ``blocking_alert_severity`` or worse |
| ``stage_too_short`` | stage raises from a stage of the same version: it ran
  ``min_minutes_per_stage`` since it began and since the last blocking alert cleared |
| ``stage_expired`` | stage raises from a stage of the same version: that stage has not
  expired. An expired stage must be renewed (a new stage change at the same exposure,
  which is not gated) and run its minimum time again: expiry means its evidence is stale |
| ``exposure_step`` | stage raises only: the rise is at most ``max_exposure_step`` points |

An environment a policy does not list is not governed, and a model no policy
covers is not gated. Times are the ledger's ``recorded_at`` strings, never the
client's ``occurred_at``, so the minimum stage time cannot be forged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ledger.projections._docs import exposure_of
from ledger.projections._json import get_bool, get_int, get_num, get_str
from ledger.projections._time import normalize
from ledger.projections.base import Doc, DraftView
from ledger.projections.keys import (
    POLICY_INDEX_KEY,
    deployment_key,
    deployment_parts,
    model_key,
    tests_key,
    version_key,
    version_parts,
)
from ledger.projections.requirements import unmet_approvals, unmet_stage_rules, unmet_tests
from ledger.projections.rules import (
    SEVERITY_RANK,
    ApprovalRule,
    EnvironmentRules,
    Policy,
    Threshold,
    Violation,
    breaches,
    crossed_threshold,
    policy_for,
    stage_expires_at,
)

__all__ = [
    "SEVERITY_RANK",
    "ApprovalRule",
    "EnvironmentRules",
    "Policy",
    "PolicyState",
    "Threshold",
    "Violation",
    "breaches",
    "check",
    "crossed_threshold",
    "denied_event_data",
    "evaluate",
    "is_gated",
    "policy_for",
    "policy_keys_for",
    "stage_expires_at",
    "state_for",
]


@dataclass(frozen=True, slots=True)
class PolicyState:
    """The registry documents a check reads (see ledger.projections.keys).

    ``tests`` is the version's latest results (``tests:<version>``, kept as rows
    apart from the version document); None when it has none.
    """

    version: Doc | None = None
    model: Doc | None = None
    deployment: Doc | None = None
    tests: Doc | None = None


@dataclass(frozen=True, slots=True)
class _Target:
    kind: str  # "promote" or "raise"
    model: str
    version: str
    environment: str
    strategy: str | None
    current: float
    exposure: float


def _target(draft: DraftView, state: PolicyState) -> _Target | None:
    data = draft["data"]
    if draft["type"] == "deployment.decided":
        parts = version_parts(draft["subject"])
        environment = get_str(data, "environment")
        if parts is None or environment is None or get_str(data, "decision") != "promote":
            return None
        exposure = get_num(data, "target_exposure") or 0.0
        current = exposure_of(state.model, parts[1], environment)
        return _Target("promote", *parts, environment, get_str(data, "strategy"), current, exposure)
    if draft["type"] == "rollout.stage.changed":
        parts = version_parts(get_str(data, "version") or "")
        raised = get_num(data, "exposure_percent")
        if parts is None or raised is None:
            return None
        environment = deployment_parts(draft["subject"])[1]
        current = exposure_of(state.model, parts[1], environment)
        if raised <= current:
            return None
        return _Target("raise", *parts, environment, get_str(data, "strategy"), current, raised)
    return None


def is_gated(draft: DraftView, state: PolicyState) -> bool:
    """Whether the policy must approve ``draft``: a promote, or a stage change raising exposure."""
    return _target(draft, state) is not None


def policy_keys_for(draft: DraftView) -> list[str]:
    """The documents :func:`check` reads for ``draft``; empty when it can never be gated."""
    data = draft["data"]
    if draft["type"] == "deployment.decided":
        parts, environment = version_parts(draft["subject"]), get_str(data, "environment")
        if parts is None or environment is None:
            return []
        deployment = deployment_key(parts[0], environment)
    elif draft["type"] == "rollout.stage.changed":
        parts, deployment = version_parts(get_str(data, "version") or ""), draft["subject"]
        if parts is None:
            return []
    else:
        return []
    version = version_key(*parts)
    return [version, model_key(parts[0]), deployment, POLICY_INDEX_KEY, tests_key(version)]


def state_for(draft: DraftView, docs: Mapping[str, Doc | None]) -> PolicyState:
    """Bundle the documents fetched for :func:`policy_keys_for` into a :class:`PolicyState`."""
    keys = policy_keys_for(draft)
    if not keys:
        return PolicyState()
    return PolicyState(
        version=docs.get(keys[0]),
        model=docs.get(keys[1]),
        deployment=docs.get(keys[2]),
        tests=docs.get(keys[4]),
    )


def check(
    draft: DraftView, docs: Mapping[str, Doc | None], now: str
) -> tuple[Policy | None, list[Violation]]:
    """Resolve the policy for ``draft`` from the fetched documents and evaluate it.

    Returns the governing policy (None if there is none, or the draft is not
    gated) and the violations; the draft may be appended when the list is empty.

    Fails closed for models outside the inventory: once any rollout policy is
    defined, a gated step for a model that was never registered (so no risk
    tier, so no policy could apply) is refused rather than waved through.
    """
    state = state_for(draft, docs)
    if not is_gated(draft, state):
        return None, []
    index = docs.get(POLICY_INDEX_KEY)
    policy = policy_for(state.model, index)
    tier = None if state.model is None else get_str(state.model, "risk_tier")
    if policy is None and tier is None and _any_policy(index):
        parts = version_parts(draft["subject"])
        model = model_key(parts[0]) if parts else draft["subject"]
        return None, [
            Violation(
                "model_unregistered",
                f"{model} is not in the model inventory (no model.registered with a risk "
                "tier), so no rollout policy can apply; register it first",
            )
        ]
    return policy, [] if policy is None else evaluate(policy, state, draft, now)


def _any_policy(index: Doc | None) -> bool:
    if index is None:
        return False
    return any(bool(index.get(part)) for part in ("tiers", "models", "current"))


def evaluate(policy: Policy, state: PolicyState, draft: DraftView, now: str) -> list[Violation]:
    """Every requirement of ``policy`` that ``draft`` fails, given ``state`` at time ``now``.

    Pure: the same arguments always give the same list, in a fixed order.
    Drafts that are not gated (see :func:`is_gated`) and environments the
    policy does not govern yield no violations.
    """
    target = _target(draft, state)
    rules = None if target is None else policy.rules(target.environment)
    if target is None or rules is None:
        return []
    now = normalize(now) or now
    env, ref = target.environment, version_key(target.model, target.version)
    out: list[Violation] = []
    if state.model is not None and get_bool(state.model, "retired"):
        out.append(Violation("model_retired", f"{model_key(target.model)} is retired"))
    if state.version is None or get_int(state.version, "registered_seq") is None:
        out.append(Violation("version_unregistered", f"{ref} is not registered"))
    allowed = rules.allowed_strategies
    if target.strategy is not None and allowed is not None and target.strategy not in allowed:
        why = f"{env} allows strategies [{', '.join(allowed)}]; {target.strategy} is not one"
        out.append(Violation("strategy_not_allowed", why))
    out.extend(unmet_tests(rules, state.tests, ref, env))
    out.extend(unmet_approvals(rules.approvals, state.version, ref, env, now))
    if target.kind == "raise":
        out.extend(
            unmet_stage_rules(
                rules,
                state.deployment or {},
                model=target.model,
                version=target.version,
                env=env,
                current=target.current,
                exposure=target.exposure,
                now=now,
            )
        )
    return out


def denied_event_data(
    draft: DraftView,
    violations: list[Violation],
    *,
    policy: Policy | None = None,
    draft_id: str | None = None,
) -> dict[str, object]:
    """The ``policy.denied`` payload for a refused draft (schema/events/policy.denied.json).

    Raises:
        ValueError: ``violations`` is empty; a denial must name what was unmet.
    """
    if not violations:
        raise ValueError("a policy.denied event needs at least one violation")
    data: dict[str, object] = {
        "draft_type": draft["type"],
        "actor": draft["actor"],
        "unmet": [v.message[:1000] for v in violations],
        "draft_data": draft["data"],
    }
    environment = get_str(draft["data"], "environment")
    if draft["type"] == "rollout.stage.changed":
        environment = deployment_parts(draft["subject"])[1]
    if environment is not None:
        data["environment"] = environment
    if draft_id is not None:
        data["draft_id"] = draft_id
    if policy is not None:
        data["policy"] = policy.ref
        if policy.version >= 1:
            data["policy_version"] = policy.version
    return data
