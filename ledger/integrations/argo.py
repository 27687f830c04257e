"""Argo Rollouts notifications -> ledger drafts (pure translation, no I/O).

Argo Rollouts' notification controller sends whatever body its template
renders; docs/integrations.md ships the templates, which render::

    {"event": "rollout-step-completed", "rollout": "<name>", "namespace": "<ns>",
     "deployment": "<model>/<env>", "version": "<version>", "revision": "<n>",
     "step": "<currentStepIndex>", "steps": [<spec.strategy.canary.steps>],
     "weight": "<canary weight, if traffic routing reports one>",
     "phase": "<status.phase>", "message": "<status.message>", "time": "<optional>"}

``deployment`` falls back to ``<rollout>/<namespace>``, ``version`` to what the
ledger knows (as for Flagger). Mapping:

| event | becomes |
| --- | --- |
| ``rollout-step-completed`` | ``rollout.stage.changed`` canary at the weight in effect |
| ``rollout-completed`` | ``rollout.stage.changed`` full at 100% |
| ``rollout-aborted`` | ``rollback.executed`` to the stable version (or the canary drained to 0%) |
| ``analysis-run-failed`` | ``test.result.recorded``, kind ``canary_analysis``, failed |
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ledger.errors import BadRequest
from ledger.events import EventDraft
from ledger.integrations._common import Translation, stable_id, text, to_time
from ledger.integrations.flagger import Target
from ledger.projections.keys import version_key

__all__ = ["EVENTS", "target_of", "translate", "weight_in_effect"]

EVENTS = ("rollout-step-completed", "rollout-completed", "rollout-aborted", "analysis-run-failed")
"""The notification ``event`` values the ledger records."""

_ENV = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and value.strip():
        try:
            return float(value)
        except ValueError:
            return None
    return None


def weight_in_effect(payload: Mapping[str, object]) -> float | None:
    """The canary weight now: ``weight`` if given, else the last ``setWeight`` of the steps
    before ``step`` (Argo's ``currentStepIndex`` points at the next step to run)."""
    weight = _number(payload.get("weight"))
    if weight is not None:
        return weight
    steps, index = payload.get("steps"), _number(payload.get("step"))
    if not isinstance(steps, list) or index is None:
        return None
    found = None
    for step in steps[: int(index)]:
        if isinstance(step, dict) and _number(step.get("setWeight")) is not None:
            found = _number(step.get("setWeight"))
    return found


def target_of(payload: Mapping[str, object]) -> Target:
    """The deployment and version a notification is about.

    Raises:
        BadRequest: no rollout name or namespace, or a malformed deployment.
    """
    rollout, namespace = (
        text(payload.get("rollout"), "rollout"),
        text(payload.get("namespace"), "namespace"),
    )
    deployment = payload.get("deployment")
    if isinstance(deployment, str) and deployment.strip():
        model, _, environment = deployment.strip().removeprefix("deployment:").rpartition("/")
    else:
        model, environment = rollout, namespace
    if not model or not _ENV.fullmatch(environment):
        raise BadRequest(
            f"deployment: {model}/{environment} is not <model>/<environment> with an environment "
            "slug; set the rollout-ledger/deployment annotation",
            field="deployment",
        )
    version = payload.get("version")
    version = version.strip() if isinstance(version, str) else None
    prefix = f"model:{model}@"
    if version and version.startswith(prefix):
        version = version[len(prefix) :]
    return Target(model, environment, version or None)


def translate(payload: Mapping[str, object], target: Target, stable: str | None) -> Translation:
    """The events one notification becomes (see the module table).

    Args:
        payload: the rendered notification body.
        target: the deployment and version (resolved).
        stable: the version serving the rest of the traffic, from the ledger.

    Raises:
        BadRequest: an event this adapter does not know.
        InvalidEvent: a malformed ``time``.
    """
    event = text(payload.get("event"), "event")
    if event not in EVENTS:
        raise BadRequest(f"event: {event!r} is not one of {', '.join(EVENTS)}", field="event")
    when = to_time(payload["time"], "time") if payload.get("time") else None
    message = str(payload.get("message") or "")[:4000]
    identity = [str(payload.get(k, "")) for k in ("namespace", "rollout", "revision", "step")]
    draft_id = stable_id("argo", event, when or "", *identity)
    reason = message or f"Argo Rollouts: {event}"
    kind, subject = "rollout.stage.changed", target.deployment
    data: dict[str, object] = {"version": target.version_ref, "reason": reason}
    if event == "rollout-step-completed":
        weight = weight_in_effect(payload)
        if weight is None:
            return Translation([], [f"{event}: no weight in effect (a pause step?); not recorded"])
        data.update(
            strategy="full" if weight >= 100 else "canary", exposure_percent=min(weight, 100)
        )
    elif event == "rollout-completed":
        data.update(strategy="full", exposure_percent=100)
    elif event == "rollout-aborted" and stable is not None and stable != target.version:
        kind = "rollback.executed"
        data = {
            "from_version": target.version_ref,
            "to_version": version_key(target.model, stable),
            "reason": reason,
            "trigger": "policy",
        }
    elif event == "rollout-aborted":
        data.update(strategy="canary", exposure_percent=0)
    else:  # analysis-run-failed
        kind, subject = "test.result.recorded", target.version_ref
        rollout = f"{payload.get('namespace')}/{payload.get('rollout')}"
        data = {
            "suite": f"argo-analysis:{rollout}"[:200],
            "kind": "canary_analysis",
            "passed": False,
            "metrics": {},
            "environment": target.environment,
            "run": f"run:argo/{rollout}@{payload.get('revision', '')}"[:200],
        }
    return Translation([EventDraft.create(kind, subject, data, id=draft_id, occurred_at=when)])
