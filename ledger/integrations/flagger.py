"""Flagger webhooks -> ledger drafts, and the policy gate's decision (pure, no I/O).

Which deployment and version a canary is: ``metadata.deployment``
(``<model>/<environment>``) or ``metadata.model`` + ``metadata.environment``,
else the canary's ``<name>/<namespace>``; ``metadata.version`` (``1.4.0`` or
``model:m@1.4.0``), else what the ledger knows (:func:`resolve_version`). Query
parameters of the webhook URL may stand in for metadata. docs/integrations.md
has the tables.

The gates (``confirm-rollout``, ``confirm-traffic-increase``,
``confirm-promotion``) judge the step the canary would take next
(:func:`proposed_step`) with the same ``ledger.policy.check`` an append runs,
without appending it (:mod:`ledger.integrations.gate`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.errors import BadRequest
from ledger.events import EventDraft, format_time
from ledger.integrations._common import (
    Translation,
    stable_id,
    text,
)
from ledger.projections._json import dict_list, get_num, get_str
from ledger.projections.base import DraftView
from ledger.projections.keys import deployment_key, version_key

__all__ = [
    "GATES",
    "Target",
    "context_of",
    "metadata_of",
    "proposed_step",
    "resolve_version",
    "target_of",
    "translate_event",
]

GATES = ("confirm-rollout", "confirm-traffic-increase", "confirm-promotion")
"""The Flagger webhook types the ledger answers as policy gates."""

_ADVANCE = re.compile(r"Advance \S+ canary weight (\d+(?:\.\d+)?)", re.ASCII)
_STARTED = re.compile(r"Starting canary analysis for ")
_PROMOTED = re.compile(r"Promotion completed! ")
_ROLLBACK = re.compile(r"Rolling back \S+ (.+)")
_ENV = re.compile(r"[a-z][a-z0-9_-]{0,31}")


@dataclass(frozen=True, slots=True)
class Target:
    """The deployment a canary drives, and the version it exposes (None: not said)."""

    model: str
    environment: str
    version: str | None

    @property
    def deployment(self) -> str:
        return deployment_key(self.model, self.environment)

    @property
    def version_ref(self) -> str:
        assert self.version is not None
        return version_key(self.model, self.version)


def metadata_of(payload: Mapping[str, object]) -> dict[str, str]:
    """The webhook's string metadata (Flagger sends ``map[string]string``)."""
    value = payload.get("metadata")
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def target_of(payload: Mapping[str, object], query: Mapping[str, str]) -> Target:
    """The deployment and version a webhook is about (see the module docstring).

    Raises:
        BadRequest: no canary name, or an environment that is not a slug.
    """
    meta = {**query, **metadata_of(payload)}
    name = text(payload.get("name"), "name")
    namespace = text(payload.get("namespace"), "namespace")
    if "deployment" in meta:
        model, _, environment = meta["deployment"].removeprefix("deployment:").rpartition("/")
    else:
        model = meta.get("model", name)
        environment = meta.get("environment", namespace)
    if not model or not _ENV.fullmatch(environment):
        raise BadRequest(
            f"metadata.deployment: {model}/{environment} is not <model>/<environment> with an "
            "environment slug; set metadata.deployment on the webhook",
            field="metadata.deployment",
        )
    version = meta.get("version")
    if version:
        prefix = f"model:{model}@"
        version = version[len(prefix) :] if version.startswith(prefix) else version
    return Target(model, environment, version or None)


def resolve_version(
    target: Target, deployment: Mapping[str, object] | None, model: Mapping[str, object] | None
) -> Target:
    """``target`` with its version filled from the ledger when the webhook did not say it.

    The version in flight on the deployment (its latest stage, when that is not
    the stable one) wins; else the environment's most recent ``candidate``
    (decided for promotion, no traffic yet).

    Raises:
        BadRequest: the ledger knows no such version; the webhook must say it.
    """
    if target.version is not None:
        return target
    deployment = deployment or {}
    current, stable = get_str(deployment, "version"), get_str(deployment, "stable_version")
    if current is not None and current != stable:
        return Target(target.model, target.environment, current)
    best: tuple[float, str] | None = None
    for entry in dict_list((model or {}).get("versions")):
        status = entry.get("status")
        here = status.get(target.environment) if isinstance(status, dict) else None
        version = get_str(entry, "version")
        if isinstance(here, dict) and here.get("status") == "candidate" and version:
            seq = get_num(here, "seq") or 0.0
            best = max(best, (seq, version)) if best else (seq, version)
    if best is None:
        raise BadRequest(
            f"metadata.version: {target.deployment} has no version in flight or decided for "
            "promotion; set metadata.version on the webhook",
            field="metadata.version",
        )
    return Target(target.model, target.environment, best[1])


def _time(meta: Mapping[str, str]) -> str | None:
    millis = meta.get("timestamp", "")
    if not millis.isdigit():
        return None
    return format_time(datetime.fromtimestamp(int(millis) / 1000, tz=UTC))


def _weight(payload: Mapping[str, object], meta: Mapping[str, str], message: str) -> float:
    found = _ADVANCE.search(message)
    if found:
        return float(found.group(1))
    weight = payload.get("canaryWeight", meta.get("canaryWeight"))
    try:
        return float(weight) if isinstance(weight, int | float | str) else 0.0
    except ValueError:
        return 0.0


def translate_event(
    payload: Mapping[str, object], target: Target, stable: str | None
) -> Translation:
    """The rollout events one Flagger ``event`` webhook becomes (mapping in the docs).

    Args:
        payload: the webhook body.
        target: the deployment and version (resolved).
        stable: the version serving the rest of the traffic, from the ledger.
    """
    meta = metadata_of(payload)
    message = meta.get("eventMessage", "")
    canary = f"{payload.get('namespace')}/{payload.get('name')}"
    when = _time(meta)
    event_id = stable_id("flagger", canary, meta.get("timestamp", ""), message)
    data: dict[str, object] = {"version": target.version_ref}
    if _ADVANCE.search(message) or _STARTED.search(message):
        weight = _weight(payload, meta, message) if _ADVANCE.search(message) else 0.0
        data.update(strategy="canary", exposure_percent=weight, reason=message[:4000])
        kind = "rollout.stage.changed"
    elif _PROMOTED.search(message):
        data.update(strategy="full", exposure_percent=100, reason=message[:4000])
        kind = "rollout.stage.changed"
    elif (rolled := _ROLLBACK.search(message)) is not None:
        if stable is not None and stable != target.version:
            manual = "manual" in rolled.group(1)
            data = {
                "from_version": target.version_ref,
                "to_version": version_key(target.model, stable),
                "reason": message[:4000],
                "trigger": "manual" if manual else "policy",
            }
            kind = "rollback.executed"
        else:
            data.update(strategy="canary", exposure_percent=0, reason=message[:4000])
            kind = "rollout.stage.changed"
    else:
        return Translation([], [f"not a stage change; not recorded: {message[:200]!r}"])
    draft = EventDraft.create(kind, target.deployment, data, id=event_id, occurred_at=when)
    return Translation([draft])


def _next_weight(payload: Mapping[str, object], meta: Mapping[str, str]) -> float:
    current = _weight(payload, meta, "")
    steps = [s.strip() for s in meta.get("stepWeights", "").split(",") if s.strip()]
    try:
        if steps:
            later = [float(s) for s in steps if float(s) > current]
            return min(later) if later else 100.0
        if "stepWeight" in meta:
            cap = float(meta.get("maxWeight", "100"))
            return min(current + float(meta["stepWeight"]), cap)
    except ValueError:
        pass
    raise BadRequest(
        "metadata.stepWeight: confirm-traffic-increase needs the canary's stepWeight (or "
        "stepWeights, and maxWeight) in the webhook metadata to know the next weight",
        field="metadata.stepWeight",
    )


def proposed_step(
    kind: str, target: Target, payload: Mapping[str, object], actor: str
) -> DraftView:
    """The draft the canary's next step would be, for the policy to judge.

    ``confirm-rollout``: a promote decision for the version (may it start at all);
    ``confirm-traffic-increase``: a canary stage at the next weight;
    ``confirm-promotion``: a full stage at 100%.

    Raises:
        BadRequest: an unknown gate, or a traffic increase without step metadata.
    """
    meta = metadata_of(payload)
    if kind == "confirm-rollout":
        first = meta.get("stepWeight", "").strip() or "1"
        exposure = float(first) if first.replace(".", "", 1).isdigit() else 1.0
        return {
            "type": "deployment.decided",
            "subject": target.version_ref,
            "actor": actor,
            "data": {
                "environment": target.environment,
                "decision": "promote",
                "target_exposure": exposure,
                "strategy": "canary",
                "justification": "Flagger confirm-rollout gate",
            },
        }
    if kind == "confirm-traffic-increase":
        step: dict[str, object] = {
            "strategy": "canary",
            "exposure_percent": _next_weight(payload, meta),
        }
    elif kind == "confirm-promotion":
        step = {"strategy": "full", "exposure_percent": 100}
    else:
        raise BadRequest(f"gate: {kind!r} is not one of {', '.join(GATES)}", field="gate")
    return {
        "type": "rollout.stage.changed",
        "subject": target.deployment,
        "actor": actor,
        "data": {"version": target.version_ref, **step},
    }


def context_of(payload: Mapping[str, object]) -> dict[str, str]:
    """What a gate record keeps of the canary: ``canary``, ``phase``, ``checksum``."""
    meta = metadata_of(payload)
    out = {"canary": f"{payload.get('namespace')}/{payload.get('name')}"}
    for key in ("phase", "checksum"):
        value = payload.get(key, meta.get(key))
        if isinstance(value, str) and value:
            out[key] = value
    return out
