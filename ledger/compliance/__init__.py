"""Compliance view: which regulatory controls a model's record holds evidence for.

Pure core (no I/O): :mod:`~ledger.compliance.controls` defines the controls
(EU AI Act Art. 12, 19/26; SR 11-7 inventory, validation, monitoring, change
control; ISO/IEC 42001 A.6.2.8, A.7.5), :mod:`~ledger.compliance.facts` sorts
a model's events, and :mod:`~ledger.compliance.evaluate` grades each control
as met, partial or gap, with the events relied on and what is missing (the
values of :mod:`~ledger.compliance.report`).
"""

from __future__ import annotations

from ledger.compliance.controls import CONTROLS, RETENTION_DAYS, Control, Status, control
from ledger.compliance.evaluate import evaluate
from ledger.compliance.facts import is_production
from ledger.compliance.report import ComplianceReport, Credential, Evidence, Finding, Integrity

__all__ = [
    "CONTROLS",
    "RETENTION_DAYS",
    "ComplianceReport",
    "Control",
    "Credential",
    "Evidence",
    "Finding",
    "Integrity",
    "Status",
    "control",
    "evaluate",
    "is_production",
]
