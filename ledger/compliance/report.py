"""What the evaluator returns: findings per control, the evidence they cite, the report.

Values only; :mod:`ledger.compliance.evaluate` makes them. ``to_json`` is the
shape ``rollout-ledger compliance --json`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.compliance.controls import Control, Status
from ledger.events import Event

__all__ = ["ComplianceReport", "Credential", "Evidence", "Finding", "Integrity"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """An event relied on, by seq and hash (so it can be proven), and why."""

    seq: int
    hash: str
    type: str
    subject: str
    note: str

    @classmethod
    def of(cls, event: Event, note: str) -> Evidence:
        return cls(event.seq, event.hash, event.type, event.subject, note)


@dataclass(frozen=True, slots=True)
class Finding:
    """How one control stands: the status, the evidence, and in words what is missing."""

    control: Control
    status: Status
    evidence: tuple[Evidence, ...]
    explanation: str
    gaps: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Integrity:
    """What verification found: chain intact over ``checked`` events; the signed tree size."""

    ok: bool
    checked: int
    reason: str | None = None
    signed_size: int | None = None


@dataclass(frozen=True, slots=True)
class Credential:
    """An API token as the registry holds it: whose name becomes the ``actor`` of its events.

    The change-control check reads it to tell an ``approver`` token from any
    other: the role is not in the event, only the token's name is.
    """

    name: str
    role: str
    created_at: str
    revoked_at: str | None = None

    def live_at(self, moment: str) -> bool:
        """Whether the token existed and was not yet revoked at ledger time ``moment``."""
        return self.created_at <= moment and (self.revoked_at is None or moment < self.revoked_at)


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    """Every control for one model, evaluated at ``at`` (a ledger time)."""

    model: str
    at: str
    registered: bool
    retired: bool
    integrity: Integrity
    findings: tuple[Finding, ...]

    def to_json(self) -> dict[str, object]:
        """The report as plain JSON values (what ``compliance --json`` prints)."""
        return {
            "model": self.model,
            "at": self.at,
            "registered": self.registered,
            "retired": self.retired,
            "chain": {
                "ok": self.integrity.ok,
                "checked": self.integrity.checked,
                "reason": self.integrity.reason,
                "signed_size": self.integrity.signed_size,
            },
            "controls": [
                {
                    "id": f.control.id,
                    "framework": f.control.framework,
                    "clause": f.control.clause,
                    "title": f.control.title,
                    "requirement": f.control.evidence,
                    "status": f.status.value,
                    "explanation": f.explanation,
                    "gaps": list(f.gaps),
                    "evidence": [
                        {
                            "seq": e.seq,
                            "hash": e.hash,
                            "type": e.type,
                            "subject": e.subject,
                            "note": e.note,
                        }
                        for e in f.evidence
                    ],
                }
                for f in self.findings
            ],
        }
