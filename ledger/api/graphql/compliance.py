"""Compliance: which regulatory controls a model's record holds evidence for, and the gaps.

The controls and their evaluation are the core's (:mod:`ledger.compliance`);
:func:`ledger.service_compliance.compliance_report` gathers the record. A
report verifies the whole chain first (its controls rest on it), so, like
``verifyChain``, it needs an auditor or admin token, and one verification at
a time runs per process.
"""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import threading
from datetime import UTC, datetime
from enum import Enum

import strawberry
from starlette.concurrency import run_in_threadpool

from ledger.api.graphql.asof import AsOf, point_of
from ledger.api.graphql.context import Info, state_of
from ledger.api.graphql.permissions import CanVerify
from ledger.api.state import ApiState
from ledger.asof import Point
from ledger.compliance import ComplianceReport as CoreReport
from ledger.compliance import Finding, Integrity
from ledger.service_compliance import compliance_reports, integrity_of
from ledger.service_review import model_name

__all__ = [
    "ComplianceControl",
    "ComplianceEvidence",
    "ComplianceFinding",
    "ComplianceQuery",
    "ComplianceReport",
    "ComplianceStatus",
]


@strawberry.enum(description="How well the record covers a control.")
class ComplianceStatus(Enum):
    MET = "met"
    PARTIAL = "partial"
    GAP = "gap"


@strawberry.type(description="A regulatory control, as the ledger can evidence it.")
class ComplianceControl:
    id: str = strawberry.field(description="Stable id, e.g. `eu-ai-act-art12`.")
    framework: str = strawberry.field(description="EU AI Act, SR 11-7 or ISO/IEC 42001.")
    clause: str
    title: str
    requirement: str = strawberry.field(description="Which recorded events satisfy it.")


@strawberry.type(description="An event relied on (prove it with `inclusionProof(seq)`).")
class ComplianceEvidence:
    seq: int
    hash: str
    type: str
    subject: str
    note: str


@strawberry.type(description="How one control stands for the model.")
class ComplianceFinding:
    control: ComplianceControl
    status: ComplianceStatus
    explanation: str
    gaps: list[str] = strawberry.field(description="What is missing, one line each.")
    evidence: list[ComplianceEvidence]

    @classmethod
    def of(cls, f: Finding) -> ComplianceFinding:
        c = f.control
        return cls(
            control=ComplianceControl(
                id=c.id,
                framework=c.framework,
                clause=c.clause,
                title=c.title,
                requirement=c.evidence,
            ),
            status=ComplianceStatus(f.status.value),
            explanation=f.explanation,
            gaps=list(f.gaps),
            evidence=[
                ComplianceEvidence(
                    seq=e.seq, hash=e.hash, type=e.type, subject=e.subject, note=e.note
                )
                for e in f.evidence
            ],
        )


@strawberry.type(description="Every control for one model, evaluated at `at`.")
class ComplianceReport:
    model: str
    at: str = strawberry.field(description="The moment evaluated (the asOf, or now).")
    registered: bool
    retired: bool
    chain_verified: bool = strawberry.field(description="The whole chain re-verified intact.")
    chain_checked: int = strawberry.field(description="Events re-hashed by that verification.")
    signed_tree_size: int | None = strawberry.field(description="The latest signed checkpoint.")
    findings: list[ComplianceFinding]

    @classmethod
    def of(cls, r: CoreReport) -> ComplianceReport:
        return cls(
            model=r.model,
            at=r.at,
            registered=r.registered,
            retired=r.retired,
            chain_verified=r.integrity.ok,
            chain_checked=r.integrity.checked,
            signed_tree_size=r.integrity.signed_size,
            findings=[ComplianceFinding.of(f) for f in r.findings],
        )


class _Verified:
    """One request's verification, shared by every compliance field of the request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.integrity: Integrity | None = None

    def get(self, state: ApiState) -> Integrity:
        with self.lock:
            if self.integrity is None:
                with state.verify_lock:
                    self.integrity = integrity_of(state.ledger)
            return self.integrity


def _reports(
    state: ApiState, verified: _Verified, models: list[str] | None, point: Point | None
) -> list[CoreReport]:
    """Verify once per request, then evaluate each model (None: every registered model)."""
    checked = verified.get(state)
    return compliance_reports(
        state.ledger, models, now=datetime.now(UTC), as_of=point, integrity=checked
    )


def _verified(info: Info) -> _Verified:
    return info.context.loader("compliance.verified", _Verified)


@strawberry.type
class ComplianceQuery:
    @strawberry.field(
        description="Which controls (EU AI Act Art. 12, 19/26; SR 11-7; ISO/IEC 42001 A.6.2.8, "
        "A.7.5) `model`'s record holds evidence for, with the events and the gaps. Verifies the "
        "chain (auditor or admin; O(n)).",
        permission_classes=[CanVerify],
    )
    async def compliance(
        self, info: Info, model: str, as_of: AsOf | None = None
    ) -> ComplianceReport:
        name = model_name(model)
        point = point_of(as_of)
        (report,) = await run_in_threadpool(
            _reports, state_of(info), _verified(info), [name], point
        )
        return ComplianceReport.of(report)

    @strawberry.field(
        description="`compliance` for every model in the registry, retired ones included.",
        permission_classes=[CanVerify],
    )
    async def compliance_all(self, info: Info, as_of: AsOf | None = None) -> list[ComplianceReport]:
        point = point_of(as_of)
        reports = await run_in_threadpool(_reports, state_of(info), _verified(info), None, point)
        return [ComplianceReport.of(r) for r in reports]
