"""A policy gate: judge a proposed step without appending it, and record the answer.

Pure: the caller fetches the documents ``ledger.policy.policy_keys_for(step)``
names and passes them in, with the ledger's time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ledger import policy
from ledger.events import EventDraft
from ledger.integrations._common import content_draft, digest
from ledger.projections.base import DraftView

__all__ = ["Decision", "decide", "gate_record"]


@dataclass(frozen=True, slots=True)
class Decision:
    """A gate's answer: allowed, or the unmet requirements; and the policy that spoke."""

    allowed: bool
    unmet: list[str]
    policy: str | None = None
    policy_version: int | None = None


def decide(step: DraftView, docs: Mapping[str, dict[str, object] | None], now: str) -> Decision:
    """Whether the rollout policy lets ``step`` in, given the documents it reads."""
    governing, violations = policy.check(step, docs, now)
    unmet = [v.message[:1000] for v in violations]
    if governing is None:
        return Decision(not unmet, unmet)
    return Decision(not unmet, unmet, governing.ref, governing.version or None)


def gate_record(
    kind: str,
    subject: str,
    version_ref: str,
    step: DraftView,
    decision: Decision,
    docs: Mapping[str, object],
    *,
    controller: str,
    context: Mapping[str, str],
) -> EventDraft:
    """The ``rollout.gate.checked`` draft recording a gate's answer.

    Args:
        kind: the gate, e.g. ``confirm-promotion``.
        subject: the deployment reference.
        version_ref: the version the step would expose.
        step: the proposed draft the policy judged.
        decision: the answer.
        docs: the documents the policy read (digested into ``state_digest``).
        controller: ``flagger`` or ``argo-rollouts``.
        context: ``canary`` (``<namespace>/<name>``), ``phase``, ``checksum``, when known.

    Its id derives from the answer and the documents the policy read, so a
    controller re-asking every interval while nothing changes is recorded once.
    """
    step_data = step["data"]
    exposure = step_data.get("exposure_percent", step_data.get("target_exposure"))
    proposed: dict[str, object] = {"type": step["type"]}
    if isinstance(step_data.get("strategy"), str):
        proposed["strategy"] = step_data["strategy"]
    if isinstance(exposure, int | float):
        proposed["exposure_percent"] = exposure
    data: dict[str, object] = {
        "gate": kind,
        "controller": controller,
        "version": version_ref,
        "allowed": decision.allowed,
        "unmet": decision.unmet[:100],
        "proposed": proposed,
        "state_digest": digest(dict(docs)),
    }
    if decision.policy is not None:
        data["policy"] = decision.policy
    if decision.policy_version is not None:
        data["policy_version"] = decision.policy_version
    limits = {"canary": 500, "phase": 100, "checksum": 200}
    for key, limit in limits.items():
        value = context.get(key)
        if value:
            data[key] = value[:limit]
    return content_draft("rollout.gate.checked", subject, data, salt=step["actor"])
