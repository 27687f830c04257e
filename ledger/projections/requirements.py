"""What each policy requirement means against the registry documents.

One function per group of requirements, each returning the unmet ones as
:class:`~ledger.projections.rules.Violation` values whose message names the
requirement and what was found. :func:`ledger.policy.evaluate` decides which
groups apply to a draft and in what order; the codes are listed there.
"""

from __future__ import annotations

from collections.abc import Mapping

from ledger.projections._approvals import active_approvals, uncovered_roles
from ledger.projections._json import as_dict, dict_list, get_bool, get_num, get_str
from ledger.projections._time import minutes_between
from ledger.projections.keys import deployment_key
from ledger.projections.rules import (
    SEVERITY_RANK,
    ApprovalRule,
    EnvironmentRules,
    Violation,
    stage_expires_at,
)

__all__ = ["unmet_approvals", "unmet_stage_rules", "unmet_tests"]


def _v(code: str, *parts: str) -> Violation:
    return Violation(code, " ".join(parts))


def unmet_tests(
    rules: EnvironmentRules, tests: Mapping[str, object] | None, ref: str, env: str
) -> list[Violation]:
    """``test_missing``, once per required kind that lacks a passing result on ``ref``.

    ``tests`` is the ``tests:<ref>`` document (its ``tests[]``: the latest
    result per kind, suite and environment, in seq order), or None.

    A kind passes when it has results and the latest result of every suite of
    that kind passed; results recorded for another environment do not count.
    """
    results = dict_list(None if tests is None else tests.get("tests"))
    out: list[Violation] = []
    for kind in rules.required_tests:
        latest: dict[str, dict[str, object]] = {}
        for t in results:  # kept in seq order, so the last one per suite wins
            if get_str(t, "kind") == kind and get_str(t, "environment") in (None, env):
                latest[get_str(t, "suite") or ""] = t
        failed = [
            f"{s} (seq {t.get('seq')})" for s, t in latest.items() if not get_bool(t, "passed")
        ]
        if not latest or failed:
            found = f"latest result failed: {', '.join(failed)}" if failed else "none recorded"
            out.append(_v("test_missing", f"{env} requires a passing {kind} test on {ref};", found))
    return out


def unmet_approvals(
    rule: ApprovalRule, version: Mapping[str, object] | None, ref: str, env: str, now: str
) -> list[Violation]:
    """``approval_count`` and ``approval_roles`` for approvals of ``ref`` in ``env`` at ``now``."""
    active = active_approvals(version, env, now, exclude_author=rule.exclude_author)
    has = len(active.people) if rule.distinct_people else len(active.approvals)
    roles = f"[{', '.join(rule.roles)}]"
    out: list[Violation] = []
    if has < rule.count:
        need = [f"{env} needs {rule.count} approvals of {ref}"]
        need += [f"from roles {roles}"] if rule.roles else []
        need += ["by distinct people"] if rule.distinct_people else []
        need += ["other than the author"] if rule.exclude_author else []
        found = ", ".join(f"{actor} as {role}" for actor, role in active.approvals)
        ignored = ", ".join(f"{n} {why}" for why, n in sorted(active.ignored.items()))
        tail = f"; has {has}" + (f" ({found})" if found else "")
        tail += f"; ignored: {ignored}" if ignored else ""
        out.append(Violation("approval_count", " ".join(need) + tail))
    missing = uncovered_roles(active.approvals, rule.roles, distinct_people=rule.distinct_people)
    if missing:
        each = ", each by a different person;" if rule.distinct_people else ";"
        need_roles = f"{env} needs approvals of {ref} from roles {roles}{each}"
        out.append(_v("approval_roles", need_roles, f"missing: {', '.join(missing)}"))
    return out


def unmet_stage_rules(
    rules: EnvironmentRules,
    deployment: Mapping[str, object],
    *,
    model: str,
    version: str,
    env: str,
    current: float,
    exposure: float,
    now: str,
) -> list[Violation]:
    """The requirements on raising ``version`` from ``current``% to ``exposure``% in ``env``.

    ``rollback_required``, ``alert_open`` and ``exposure_step`` always apply;
    ``stage_expired`` and ``stage_too_short`` only when the deployment's
    current stage is of the same version (a version entering the environment
    has no stage to have waited in).
    """
    ref = deployment_key(model, env)
    out: list[Violation] = []
    if get_bool(deployment, "rollback_required"):
        c = as_dict(deployment.get("rollback_cause"))
        crossed = f"{c.get('comparator')} {c.get('value')}"
        why = f": {c.get('metric')} {c.get('observed')} crossed {crossed}" if c else ""
        why += f" (seq {c.get('seq')})" if c else ""
        out.append(_v("rollback_required", f"{ref} must be rolled back before exposure rises{why}"))
    level = SEVERITY_RANK.get(rules.blocking_alert_severity, 2)
    for alert_id, value in sorted(as_dict(deployment.get("open_alerts")).items()):
        alert = as_dict(value)
        severity = get_str(alert, "severity") or "critical"
        if SEVERITY_RANK.get(severity, 2) >= level:
            what = f"{ref} has an open {severity} alert on {alert.get('metric')}"
            where = f"(alert {alert_id}, seq {alert.get('seq')});"
            out.append(_v("alert_open", what, where, "exposure may not rise while it is open"))
    rise = exposure - current
    if rise > rules.max_exposure_step:
        limit = f"{env} allows exposure to rise by at most {rules.max_exposure_step:g} points"
        step = f"per stage; {current:g}% -> {exposure:g}% is {rise:g}"
        out.append(_v("exposure_step", limit, step))
    started = get_str(deployment, "stage_entered_at")
    if get_str(deployment, "version") != version or started is None:
        return out
    stage = (
        f"{get_str(deployment, 'strategy') or 'stage'} {get_num(deployment, 'exposure') or 0:g}%"
    )
    expires = stage_expires_at(deployment, rules)
    if expires is not None and now >= expires:
        expired = f"the current stage ({stage}) of {ref} expired at {expires};"
        out.append(_v("stage_expired", expired, "renew it at the same exposure before raising"))
    minimum, severity = rules.min_minutes_per_stage, rules.blocking_alert_severity
    cleared = get_str(as_dict(deployment.get("cleared_at")), severity)
    ran = minutes_between(max(started, cleared) if cleared else started, now) or 0.0
    if ran < minimum:
        need = f"{env} needs {minimum} minutes at the current stage ({stage})"
        has = f"with no open {severity} alert; has {max(ran, 0):.1f}"
        out.append(_v("stage_too_short", need, has))
    return out
