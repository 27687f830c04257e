"""Registry handlers for rollout facts: decisions, stages, rollbacks, alerts, retirement.

These change per-environment status (kept in the model document, the one
place ``model.retired`` can reach) and the deployment document, and emit the
status intervals. See :mod:`ledger.projections.registry` for the transitions.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.projections._catalog import write_model, write_version
from ledger.projections._context import Context
from ledger.projections._docs import env_status, exposure_of
from ledger.projections._json import as_dict, dict_list, get_bool, get_int, get_num, get_str
from ledger.projections._time import add_minutes, normalize
from ledger.projections.base import LIVE_STATUSES, Doc
from ledger.projections.keys import (
    POLICY_INDEX_KEY,
    deployment_parts,
    model_key,
    version_key,
    version_parts,
)
from ledger.projections.rules import SEVERITY_RANK, crossed_threshold, policy_for
from ledger.refs import parse_ref

__all__ = ["HANDLERS", "new_deployment"]

_REPROMOTABLE = frozenset({None, "rolled_back", "replaced", "aborted", "retired"})


def new_deployment(ref: str) -> Doc:
    """A deployment document before its first stage."""
    model, environment = deployment_parts(ref)
    return {
        "ref": ref,
        "model": model,
        "environment": environment,
        "version": None,
        "stable_version": None,
        "strategy": None,
        "exposure": 0.0,
        "cohort": None,
        "flag_key": None,
        "exit_criteria": [],
        "stage_seq": None,
        "stage_entered_at": None,
        "expires_at": None,
        "open_alerts": {},
        "cleared_at": {},
        "rollback_required": False,
        "rollback_cause": None,
        "rollbacks": [],
    }


def _deployment(ctx: Context) -> Doc:
    # No history: alerts may fire thousands of times; the log has them by subject.
    ref = ctx.event["subject"]
    return ctx.write(ref, lambda: new_deployment(ref), history=False)


def _status(model: Doc, version: str, env: str) -> str | None:
    return get_str(env_status(model, version, env) or {}, "status")


def _retire_others(ctx: Context, model: Doc, env: str, keep: set[str], status: str) -> None:
    """Move every other version with traffic in ``env`` to ``status`` (``replaced``)."""
    for entry in dict_list(model.get("versions")):
        other = get_str(entry, "version")
        now = as_dict(as_dict(entry.get("status")).get(env))
        if other is not None and other not in keep and get_str(now, "status") in LIVE_STATUSES:
            ctx.set_status(model, other, env, status, 0.0, None)


def _decided(ctx: Context) -> None:
    parts, env = version_parts(ctx.event["subject"]), get_str(ctx.data, "environment")
    if parts is None or env is None:
        return
    decision = get_str(ctx.data, "decision")
    version = write_version(ctx, *parts)
    fields = ("environment", "decision", "target_exposure", "strategy", "evidence")
    entry = ctx.entry(actor=ctx.event["actor"], **{f: ctx.data.get(f) for f in fields})
    version["decisions"] = [*dict_list(version.get("decisions")), entry]
    model = write_model(ctx, parts[0])
    current = _status(model, parts[1], env)
    if get_bool(model, "retired") or decision == "hold":
        return
    # Decisions are intent: they never move traffic, so a version with traffic
    # keeps its status until a stage change or rollback says otherwise.
    if decision == "promote" and current in _REPROMOTABLE:
        ctx.set_status(model, parts[1], env, "candidate", 0.0, get_str(ctx.data, "strategy"))
    elif decision == "abort" and current == "candidate":
        ctx.set_status(model, parts[1], env, "aborted", 0.0, None)
    elif decision == "retire" and current not in LIVE_STATUSES:
        ctx.set_status(model, parts[1], env, "retired", 0.0, None)


def _stage_status(strategy: str | None, exposure: float) -> str:
    if strategy == "shadow":
        return "shadow"
    if exposure >= 100:
        return "production"
    return "canary" if exposure > 0 else "candidate"


def _stage_changed(ctx: Context) -> None:
    parts = version_parts(get_str(ctx.data, "version") or "")
    if parts is None:
        return
    name, v = parts
    strategy, exposure = get_str(ctx.data, "strategy"), get_num(ctx.data, "exposure_percent") or 0.0
    dep = _deployment(ctx)
    env = get_str(dep, "environment") or deployment_parts(ctx.event["subject"])[1]
    model = write_model(ctx, name)
    previous, stable = get_str(dep, "version"), get_str(dep, "stable_version")
    if previous is not None and previous != v:
        if exposure_of(model, previous, env) >= 100:
            stable = previous
        elif previous != stable:
            _abandon(ctx, model, previous, env)
    if not get_bool(model, "retired"):
        if exposure >= 100:
            _retire_others(ctx, model, env, {v}, "replaced")
        elif stable is not None and stable != v:
            kept = get_str(env_status(model, stable, env) or {}, "strategy")
            ctx.set_status(model, stable, env, "production", 100.0 - exposure, kept)
        ctx.set_status(model, v, env, _stage_status(strategy, exposure), exposure, strategy)
    stable = v if exposure >= 100 else (None if stable == v else stable)
    expires = normalize(ctx.data.get("expires_at"))
    policy = policy_for(model, ctx.get(POLICY_INDEX_KEY))
    rules = None if policy is None else policy.rules(env)
    if rules is not None and rules.stage_ttl_minutes and exposure < 100:
        ttl = add_minutes(ctx.time, rules.stage_ttl_minutes)
        if ttl is not None and (expires is None or ttl < expires):
            expires = ttl
    dep.update(
        version=v,
        stable_version=stable,
        strategy=strategy,
        exposure=exposure,
        cohort=ctx.data.get("cohort"),
        flag_key=ctx.data.get("flag_key"),
        exit_criteria=ctx.data.get("exit_criteria") or [],
        stage_seq=ctx.seq,
        stage_entered_at=ctx.time,
        expires_at=expires,
    )
    version = write_version(ctx, name, v)
    stage = ctx.entry(environment=env, strategy=strategy, exposure=exposure, expires_at=expires)
    version["stages"] = [*dict_list(version.get("stages")), stage]


def _abandon(ctx: Context, model: Doc, version: str, env: str) -> None:
    """A partial rollout superseded by another version's stage loses its traffic."""
    if not get_bool(model, "retired") and _status(model, version, env) in LIVE_STATUSES:
        ctx.set_status(model, version, env, "replaced", 0.0, None)


def _rollback(ctx: Context) -> None:
    source = version_parts(get_str(ctx.data, "from_version") or "")
    target = version_parts(get_str(ctx.data, "to_version") or "")
    if source is None or target is None:
        return
    dep = _deployment(ctx)
    env = get_str(dep, "environment") or deployment_parts(ctx.event["subject"])[1]
    verifying = ctx.event["type"] == "rollback.verified"
    for parts in (source, target):
        ctx.touch(version_key(*parts))  # records the event in both versions' histories
    if verifying:
        rollback_seq = get_int(ctx.data, "rollback_seq")
        passed, found = get_bool(ctx.data, "passed"), False
        rollbacks = []
        for r in reversed(dict_list(dep.get("rollbacks"))):
            match = (
                r.get("seq") == rollback_seq
                if rollback_seq is not None
                else (
                    r.get("from_version") == ctx.data.get("from_version")
                    and r.get("to_version") == ctx.data.get("to_version")
                )
            )
            if match and not found:
                found, r = True, {**r, "verified": passed, "verification_seq": ctx.seq}
            rollbacks.append(r)
        dep["rollbacks"] = rollbacks[::-1]
        return
    fields = ("from_version", "to_version", "reason", "trigger", "alert_id", "incident")
    entry = ctx.entry(actor=ctx.event["actor"], **{f: ctx.data.get(f) for f in fields})
    dep["rollbacks"] = [*dict_list(dep.get("rollbacks")), {**entry, "verified": None}]
    for parts, role in ((source, "from"), (target, "to")):
        version = write_version(ctx, *parts)
        moved = ctx.entry(environment=env, role=role, **{f: ctx.data.get(f) for f in fields[:2]})
        version["rollbacks"] = [*dict_list(version.get("rollbacks")), moved]
    model = write_model(ctx, source[0])
    if not get_bool(model, "retired"):
        if source != target:  # a "rollback" to the same version only restores it
            ctx.set_status(model, source[1], env, "rolled_back", 0.0, None)
        _retire_others(ctx, model, env, {source[1], target[1]}, "replaced")
        if target[0] == source[0]:
            ctx.set_status(model, target[1], env, "production", 100.0, None)
    dep.update(
        version=target[1],
        stable_version=target[1],
        strategy=None,
        exposure=100.0,
        cohort=None,
        flag_key=None,
        exit_criteria=[],
        stage_seq=ctx.seq,
        stage_entered_at=ctx.time,
        expires_at=None,
        rollback_required=False,
        rollback_cause=None,
    )


def _alert(ctx: Context) -> None:
    parts = version_parts(get_str(ctx.data, "version") or "")
    if parts is not None:
        ctx.touch(version_key(*parts))  # only its history records the alert
    alert_id = get_str(ctx.data, "alert_id") or ""
    alerts = as_dict((ctx.get(ctx.event["subject"]) or {}).get("open_alerts"))
    closed = as_dict(alerts.get(alert_id))
    if ctx.event["type"] == "alert.resolved" and not closed:
        return  # never seen open: nothing to clear
    dep = _deployment(ctx)
    env = get_str(dep, "environment") or deployment_parts(ctx.event["subject"])[1]
    if ctx.event["type"] == "alert.resolved":
        dep["open_alerts"] = {k: v for k, v in alerts.items() if k != alert_id}
        rank = SEVERITY_RANK.get(get_str(closed, "severity") or "", 0)
        cleared = {level: ctx.time for level, r in SEVERITY_RANK.items() if r <= rank}
        dep["cleared_at"] = {**as_dict(dep.get("cleared_at")), **cleared}
        return
    fields = ("metric", "severity", "observed", "threshold", "comparator", "version")
    dep["open_alerts"] = {**alerts, alert_id: ctx.entry(**{f: ctx.data.get(f) for f in fields})}
    model_name = parts[0] if parts is not None else get_str(dep, "model") or ""
    policy = policy_for(ctx.get(model_key(model_name)), ctx.get(POLICY_INDEX_KEY))
    crossed = None if policy is None else crossed_threshold(policy, env, ctx.data)
    if crossed is not None and not get_bool(dep, "rollback_required"):
        cause = {"seq": ctx.seq, "alert_id": alert_id, "metric": crossed.metric}
        cause.update(observed=ctx.data.get("observed"), comparator=crossed.comparator)
        cause.update(value=crossed.value)
        dep.update(rollback_required=True, rollback_cause=cause)


def _retired(ctx: Context) -> None:
    model = write_model(ctx, parse_ref(ctx.event["subject"]).name)
    if get_bool(model, "retired"):
        return
    for entry in dict_list(model.get("versions")):
        version = get_str(entry, "version") or ""
        for env in sorted(as_dict(entry.get("status"))):
            if _status(model, version, env) != "retired":
                ctx.set_status(model, version, env, "retired", 0.0, None)
    fields = ("reason", "replaced_by", "effective_at")
    model.update(retired=True, retirement=ctx.entry(**{f: ctx.data.get(f) for f in fields}))


HANDLERS: dict[str, Callable[[Context], None]] = {
    "deployment.decided": _decided,
    "rollout.stage.changed": _stage_changed,
    "rollback.executed": _rollback,
    "rollback.verified": _rollback,
    "alert.raised": _alert,
    "alert.resolved": _alert,
    "model.retired": _retired,
}
"""Handlers by event type."""
