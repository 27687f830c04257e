"""One-line, human summaries of events, for timelines read by people.

A summary names the facts a reviewer scans for (the version, the decision,
the metric against its threshold, who approved in which capacity) and leaves
the rest to the event itself, which every timeline row links to by seq and
hash. Unknown types and odd payloads fall back to the type's own words, so a
summary never fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ledger.projections._json import as_dict, as_list, get_str

__all__ = ["summarize"]

_Data = Mapping[str, object]


def _short(ref: object) -> str:
    """``1.4.0`` from ``model:fraud-detector@1.4.0``; other text unchanged."""
    text = str(ref) if ref is not None else "?"
    return text.rpartition("@")[2] if text.startswith("model:") and "@" in text else text


def _num(value: object) -> str:
    return f"{value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else "?"


def _metrics(data: _Data, limit: int = 3) -> str:
    metrics = as_dict(data.get("metrics")) or {}
    shown = [f"{k}={_num(v)}" for k, v in list(metrics.items())[:limit]]
    return " ".join(shown)


def _test(d: _Data) -> str:
    verdict = "passed" if d.get("passed") is True else "FAILED"
    where = f" in {get_str(d, 'environment')}" if get_str(d, "environment") else ""
    suite = get_str(d, "suite") or "?"
    return f"{get_str(d, 'kind') or 'test'} {suite}{where} {verdict} {_metrics(d)}".rstrip()


def _approval(d: _Data) -> str:
    return f"approved for {get_str(d, 'environment')} as {get_str(d, 'approver_role')}"


def _revoked(d: _Data) -> str:
    return f"revoked approval seq {_num(d.get('approval_seq'))} for {get_str(d, 'environment')}"


def _decision(d: _Data) -> str:
    target = d.get("target_exposure")
    to = f" to {_num(target)}%" if target is not None else ""
    return f"decided {get_str(d, 'decision')} in {get_str(d, 'environment')}{to}"


def _stage(d: _Data) -> str:
    return (
        f"{_short(d.get('version'))} {get_str(d, 'strategy') or 'stage'} "
        f"at {_num(d.get('exposure_percent'))}%"
    )


def _alert(d: _Data) -> str:
    comparator = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}.get(
        get_str(d, "comparator") or "", "vs"
    )
    return (
        f"{get_str(d, 'severity')} {get_str(d, 'metric')} {_num(d.get('observed'))} "
        f"{comparator} {_num(d.get('threshold'))}"
    )


def _resolved(d: _Data) -> str:
    return f"{get_str(d, 'metric')} back to {_num(d.get('observed'))}"


def _rollback(d: _Data) -> str:
    return f"rolled back {_short(d.get('from_version'))} -> {_short(d.get('to_version'))}"


def _verified(d: _Data) -> str:
    checks = [c for c in as_list(d.get("checks")) if isinstance(c, dict)]
    passed = sum(1 for c in checks if c.get("passed") is True)
    ok = "verified" if d.get("passed") is True else "NOT verified"
    return f"rollback to {_short(d.get('to_version'))} {ok}: {passed}/{len(checks)} checks passed"


def _review(d: _Data) -> str:
    findings, actions = as_list(d.get("findings")), as_list(d.get("actions"))
    return f"review: {len(findings)} findings, {len(actions)} actions"


def _retraining(d: _Data) -> str:
    metric = get_str(d, "metric")
    why = f" ({metric} {_num(d.get('observed'))})" if metric else ""
    return f"retraining on {get_str(d, 'signal')}{why}"


def _incident(d: _Data) -> str:
    return f"{get_str(d, 'severity') or ''} {get_str(d, 'summary') or ''}".strip()


def _lineage(d: _Data) -> str:
    return f"{get_str(d, 'relation')} {get_str(d, 'target')}"


def _version(d: _Data) -> str:
    trained = ", ".join(str(r) for r in as_list(d.get("trained_on")))
    return f"registered; trained on {trained}" if trained else "registered"


def _model(d: _Data) -> str:
    return f"registered: owner {get_str(d, 'owner')}, {get_str(d, 'risk_tier')} risk"


def _denied(d: _Data) -> str:
    unmet = [str(u) for u in as_list(d.get("unmet"))]
    return f"policy refused: {unmet[0]}" + (f" (+{len(unmet) - 1} more)" if len(unmet) > 1 else "")


def _text(*keys: str) -> Callable[[_Data], str]:
    def first(d: _Data) -> str:
        return next((t for k in keys if (t := get_str(d, k))), "")

    return first


_SUMMARIES: dict[str, Callable[[_Data], str]] = {
    "test.result.recorded": _test,
    "approval.granted": _approval,
    "approval.revoked": _revoked,
    "deployment.decided": _decision,
    "rollout.stage.changed": _stage,
    "alert.raised": _alert,
    "alert.resolved": _resolved,
    "rollback.executed": _rollback,
    "rollback.verified": _verified,
    "incident.opened": _incident,
    "incident.resolved": _text("summary", "root_cause"),
    "review.recorded": _review,
    "lineage.edge.recorded": _lineage,
    "model.version.registered": _version,
    "model.registered": _model,
    "model.retired": _text("reason"),
    "dataset.version.registered": _text("description", "digest"),
    "policy.defined": _text("description"),
    "policy.denied": _denied,
    "retraining.triggered": _retraining,
}


def summarize(event_type: str, data: object) -> str:
    """A one-line summary of an event of ``event_type`` with payload ``data``."""
    fn = _SUMMARIES.get(event_type)
    if fn is None or not isinstance(data, dict):
        return event_type
    try:
        text = fn(data)
    except (TypeError, ValueError):  # a payload of an older shape: say what it is
        return event_type
    return " ".join(text.split()) or event_type
