"""Rollout policy definitions: the values a ``policy.defined`` payload holds.

This module reads policies; :mod:`ledger.policy` enforces them. It sits below
both the registry (which needs rollback thresholds and stage TTLs while
projecting) and the policy check, so neither depends on the other. Every name
here is re-exported by :mod:`ledger.policy`.

A model's policy is its own override (``scope.models``), else its risk tier's
(``scope.risk_tiers``); the policy index document (key ``policies``) records
both mappings and inlines the current definition of every policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ledger.projections._json import (
    as_dict,
    as_list,
    dict_list,
    get_bool,
    get_int,
    get_num,
    get_str,
)
from ledger.projections._time import add_minutes

__all__ = [
    "SEVERITY_RANK",
    "ApprovalRule",
    "EnvironmentRules",
    "Policy",
    "Threshold",
    "Violation",
    "breaches",
    "crossed_threshold",
    "policy_for",
    "stage_expires_at",
]

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
"""Alert severities, least to most severe."""


_COMPARE = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


@dataclass(frozen=True, slots=True)
class Threshold:
    """A rollback threshold: ``observed <comparator> value`` means it is crossed."""

    metric: str
    comparator: str
    value: float
    window_minutes: int | None = None

    def crossed_by(self, observed: float) -> bool:
        """Whether ``observed`` crosses this threshold."""
        compare = _COMPARE.get(self.comparator)
        return compare is not None and compare(observed, self.value)

    def __str__(self) -> str:
        return f"{self.metric} {self.comparator} {self.value:g}"


@dataclass(frozen=True, slots=True)
class ApprovalRule:
    """Approvals required on the exact version for one environment."""

    count: int = 0
    roles: tuple[str, ...] = ()
    distinct_people: bool = True
    exclude_author: bool = True


@dataclass(frozen=True, slots=True)
class EnvironmentRules:
    """The rules of one environment (``environment_rules`` in the schema)."""

    required_tests: tuple[str, ...] = ()
    approvals: ApprovalRule = field(default_factory=ApprovalRule)
    min_minutes_per_stage: int = 0
    blocking_alert_severity: str = "critical"
    max_exposure_step: float = 100.0
    stage_ttl_minutes: int | None = None
    allowed_strategies: tuple[str, ...] | None = None
    rollback_thresholds: tuple[Threshold, ...] = ()

    @classmethod
    def from_json(cls, obj: Mapping[str, object]) -> EnvironmentRules:
        """Read the schema's ``environment_rules`` object, applying its defaults."""
        approvals = as_dict(obj.get("required_approvals"))
        strategies = obj.get("allowed_strategies")
        return cls(
            required_tests=_strings(obj.get("required_tests")),
            approvals=ApprovalRule(
                count=get_int(approvals, "count") or 0,
                roles=_strings(approvals.get("roles")),
                distinct_people=get_bool(approvals, "distinct_people") is not False,
                exclude_author=get_bool(approvals, "exclude_author") is not False,
            ),
            min_minutes_per_stage=get_int(obj, "min_minutes_per_stage") or 0,
            blocking_alert_severity=get_str(obj, "blocking_alert_severity") or "critical",
            max_exposure_step=get_num(obj, "max_exposure_step") or 100.0,
            stage_ttl_minutes=get_int(obj, "stage_ttl_minutes"),
            allowed_strategies=_strings(strategies) if isinstance(strategies, list) else None,
            rollback_thresholds=tuple(
                Threshold(
                    metric=get_str(t, "metric") or "",
                    comparator=get_str(t, "comparator") or "",
                    value=get_num(t, "value") or 0.0,
                    window_minutes=get_int(t, "window_minutes"),
                )
                for t in dict_list(obj.get("rollback_thresholds"))
            ),
        )


@dataclass(frozen=True, slots=True)
class Policy:
    """One definition of a rollout policy: ``policy:<name>`` at ``policy_version``."""

    ref: str
    version: int
    environments: Mapping[str, EnvironmentRules]
    seq: int = 0

    @classmethod
    def from_definition(cls, ref: str, data: Mapping[str, object], seq: int = 0) -> Policy:
        """Read a ``policy.defined`` payload (or the copy the policy index keeps)."""
        return cls(
            ref=ref,
            version=get_int(data, "policy_version") or 0,
            environments={
                env: EnvironmentRules.from_json(as_dict(rules))
                for env, rules in as_dict(data.get("environments")).items()
            },
            seq=seq,
        )

    def rules(self, environment: str) -> EnvironmentRules | None:
        """The rules for ``environment``; None when the policy does not govern it."""
        return self.environments.get(environment)


def _strings(value: object) -> tuple[str, ...]:
    return tuple(item for item in as_list(value) if isinstance(item, str))


def policy_for(
    model_doc: Mapping[str, object] | None, policies: Mapping[str, object] | None
) -> Policy | None:
    """The policy governing a model: its own override, else its risk tier's, else None.

    ``policies`` is the policy index document (key ``policies``).
    """
    if model_doc is None or policies is None:
        return None
    ref = get_str(as_dict(policies.get("models")), get_str(model_doc, "ref") or "")
    tier = get_str(model_doc, "risk_tier")
    if ref is None and tier is not None:
        ref = get_str(as_dict(policies.get("tiers")), tier)
    if ref is None:
        return None
    definition = as_dict(as_dict(policies.get("current")).get(ref))
    if not definition:
        return None
    return _parsed(ref, definition)


_PARSED: dict[int, tuple[str, Mapping[str, object], Policy]] = {}
_PARSED_MAX = 256


def _parsed(ref: str, definition: Mapping[str, object]) -> Policy:
    """``Policy.from_definition``, memoised by the identity of the definition object.

    Documents are never changed in place (see ``_context``), so one parsed
    index document keeps handing out the same definition objects, and every
    stage change, decision and alert it judges would re-parse them otherwise.
    The memo holds the definition itself, so its id cannot be reused while
    it is remembered; a different object, even an equal one, is parsed anew.
    """
    key = id(definition)
    hit = _PARSED.get(key)
    if hit is not None and hit[1] is definition and hit[0] == ref:
        return hit[2]
    policy = Policy.from_definition(ref, definition, get_int(definition, "seq") or 0)
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[key] = (ref, definition, policy)
    return policy


def stage_expires_at(
    deployment: Mapping[str, object], rules: EnvironmentRules | None
) -> str | None:
    """When the deployment's current stage expires: its ``expires_at``, or earlier by the TTL."""
    expires = get_str(deployment, "expires_at")
    started = get_str(deployment, "stage_entered_at")
    exposure = get_num(deployment, "exposure")
    if rules is not None and rules.stage_ttl_minutes and started and (exposure or 0) < 100:
        ttl = add_minutes(started, rules.stage_ttl_minutes)
        if ttl is not None and (expires is None or ttl < expires):
            return ttl
    return expires


def crossed_threshold(
    policy: Policy, environment: str, alert: Mapping[str, object]
) -> Threshold | None:
    """The first rollback threshold of ``environment`` that an ``alert.raised`` payload crosses."""
    rules = policy.rules(environment)
    metric, observed = get_str(alert, "metric"), get_num(alert, "observed")
    if rules is None or metric is None or observed is None:
        return None
    for threshold in rules.rollback_thresholds:
        if threshold.metric == metric and threshold.crossed_by(observed):
            return threshold
    return None


def breaches(policy: Policy, environment: str, alert: Mapping[str, object]) -> bool:
    """Whether an ``alert.raised`` payload crosses a rollback threshold of ``environment``."""
    return crossed_threshold(policy, environment, alert) is not None


@dataclass(frozen=True, slots=True)
class Violation:
    """One unmet requirement: a stable ``code`` and a message naming the requirement."""

    code: str
    message: str
