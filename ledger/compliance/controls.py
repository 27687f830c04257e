"""The controls: what regulators and standards ask of an ML system's record, in our words.

Each control names its framework and clause, and says which ledger evidence
satisfies it. The wording is ours and deliberately narrow: a control is only
what the ledger itself can show. Whether the organisation meets the whole
article (risk management, human oversight, documentation outside the ledger)
is for people to judge; the report says what the record proves and where it
is silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["CONTROLS", "RETENTION_DAYS", "Control", "Status", "control"]

RETENTION_DAYS = 183
"""Six months, rounded up (EU AI Act Art. 19(1) and 26(6): "at least six months")."""


class Status(Enum):
    """How well the record covers a control; the order is the order of merit."""

    GAP = "gap"
    PARTIAL = "partial"
    MET = "met"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Status.GAP: 0, Status.PARTIAL: 1, Status.MET: 2}


@dataclass(frozen=True, slots=True)
class Control:
    """One requirement the report checks.

    Attributes:
        id: stable identifier, e.g. ``eu-ai-act-art12``.
        framework: e.g. ``EU AI Act``, ``SR 11-7``, ``ISO/IEC 42001``.
        clause: the article, section or Annex A control.
        title: what it asks, in a few words.
        evidence: which recorded events satisfy it.
    """

    id: str
    framework: str
    clause: str
    title: str
    evidence: str


CONTROLS: tuple[Control, ...] = (
    Control(
        "eu-ai-act-art12",
        "EU AI Act",
        "Art. 12",
        "Automatic recording of events over the system's lifetime",
        "model.registered and a model.version.registered for every version the log mentions, "
        "so the log covers the model from registration on; the hash chain verifies",
    ),
    Control(
        "eu-ai-act-art19-26",
        "EU AI Act",
        "Art. 19(1), Art. 26(6)",
        "Logs kept for at least six months",
        "the model's events held from its registration on, the earliest at least six months "
        "before the evaluation time, in an append-only log whose chain verifies",
    ),
    Control(
        "sr11-7-inventory",
        "SR 11-7",
        "Sec. VI (model inventory)",
        "Model inventory, retired models included",
        "model.registered with an owner and a risk tier; retirement (model.retired) is "
        "recorded, not deleted, and the model stays in the inventory",
    ),
    Control(
        "sr11-7-validation",
        "SR 11-7",
        "Sec. V (model validation)",
        "Validated before use",
        "for every release to a production environment, passing evaluation or fairness "
        "test.result.recorded for that version before it (the latest result of each suite)",
    ),
    Control(
        "sr11-7-monitoring",
        "SR 11-7",
        "Sec. V (ongoing monitoring)",
        "Monitored while in use",
        "for every version that served production traffic, alerts naming it (or raised on its "
        "deployment once it served), shadow or canary-analysis results in that environment, or "
        "stages with exit criteria",
    ),
    Control(
        "sr11-7-change-control",
        "SR 11-7",
        "Sec. VI (change control)",
        "Changes approved by a named authority",
        "every release to a production environment follows a deployment.decided promote, "
        "preceded by an approval.granted for that version and environment whose actor (the "
        "token's name, never the payload's) holds an approver token, neither revoked nor expired "
        "by the decision",
    ),
    Control(
        "iso42001-a6.2.8",
        "ISO/IEC 42001",
        "Annex A.6.2.8",
        "AI system event logs",
        "the model's events are in the hash chain, the chain verifies, and a signed checkpoint "
        "covers the latest of them",
    ),
    Control(
        "iso42001-a7.5",
        "ISO/IEC 42001",
        "Annex A.7.5",
        "Data provenance",
        "every version that served production traffic is trained_on dataset versions that are "
        "registered (dataset.version.registered) with a digest",
    ),
)


def control(control_id: str) -> Control:
    """The control with ``control_id``.

    Raises:
        KeyError: no such control.
    """
    for known in CONTROLS:
        if known.id == control_id:
            return known
    raise KeyError(control_id)
