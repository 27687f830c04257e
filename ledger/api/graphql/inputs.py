"""Typed inputs of the convenience mutations, and the payloads they become.

Each input mirrors one catalogue entry (``schema/events/<type>.json``):
GraphQL checks the shapes and enums, then the catalogue validates the payload
exactly as for ``appendEvents``. The enums copy the catalogue's (a test fails
when they drift). ``to_data`` leaves unset fields out, so optional payload
fields are absent rather than null.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from ledger.api.graphql.asof import ledger_time

__all__ = [
    "ApproveInput",
    "ChangeStageInput",
    "Comparator",
    "DecideDeploymentInput",
    "DeploymentDecision",
    "Envelope",
    "EvidenceInput",
    "ExitCriterionInput",
    "LineageRelation",
    "RecordLineageEdgeInput",
    "RecordTestResultInput",
    "RegisterModelVersionInput",
    "RollBackInput",
    "RollbackTrigger",
    "RolloutStrategy",
    "TestKind",
    "payload",
]


@strawberry.enum(description="`test.result.recorded` kind.")
class TestKind(Enum):
    __test__ = False  # not a pytest class

    UNIT = "unit"
    INTEGRATION = "integration"
    END_TO_END = "end_to_end"
    EVALUATION = "evaluation"
    FAIRNESS = "fairness"
    LATENCY = "latency"
    LOAD = "load"
    SHADOW = "shadow"
    CANARY_ANALYSIS = "canary_analysis"


@strawberry.enum(description="How `source` relates to `target` (`source <relation> target`).")
class LineageRelation(Enum):
    TRAINED_ON = "trained_on"
    EVALUATED_ON = "evaluated_on"
    DERIVED_FROM = "derived_from"
    FEATURE_OF = "feature_of"
    DEPLOYED_AS = "deployed_as"
    REPLACES = "replaces"
    PRODUCED_BY = "produced_by"
    CONSUMED_BY = "consumed_by"


@strawberry.enum(description="`deployment.decided` decision.")
class DeploymentDecision(Enum):
    PROMOTE = "promote"
    HOLD = "hold"
    ABORT = "abort"
    RETIRE = "retire"


@strawberry.enum(description="Rollout strategy.")
class RolloutStrategy(Enum):
    SHADOW = "shadow"
    CANARY = "canary"
    BLUE_GREEN = "blue_green"
    FEATURE_FLAG = "feature_flag"
    FULL = "full"


@strawberry.enum(description="What started a rollback.")
class RollbackTrigger(Enum):
    ALERT = "alert"
    POLICY = "policy"
    MANUAL = "manual"


@strawberry.enum(description="How an observed value compares with a criterion's value.")
class Comparator(Enum):
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"


def payload(value: object) -> object:
    """``value`` as JSON for a payload: enums by value, times in the ledger's form, no nulls."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return ledger_time(value, "input")
    if isinstance(value, list):
        return [payload(v) for v in value]
    if hasattr(value, "__strawberry_definition__"):
        fields = vars(value).items()
        return {k: payload(v) for k, v in fields if v is not None and v is not strawberry.UNSET}
    return value


@strawberry.input(description="The envelope fields every convenience mutation takes.")
class Envelope:
    id: str | None = strawberry.field(
        default=None, description="A UUID you choose, so that a retry is idempotent."
    )
    occurred_at: datetime | None = strawberry.field(
        default=None, description="When it happened (default: when it is recorded)."
    )


@strawberry.input(description="An event relied on, by seq and/or hash.")
class EvidenceInput:
    seq: int | None = None
    hash: str | None = None
    note: str | None = None


@strawberry.input(description="A condition that must hold before the next stage.")
class ExitCriterionInput:
    metric: str
    comparator: Comparator
    value: float
    window_minutes: int | None = None


@strawberry.input(description="`model.version.registered` of `ref` (`model:<name>@<version>`).")
class RegisterModelVersionInput(Envelope):
    ref: str
    artifact_digest: str = strawberry.field(description="`sha256:<64 hex>`.")
    training_run: str
    code_ref: str
    author: str
    artifact_uri: str | None = None
    framework: str | None = None
    parameters: JSON | None = None
    metrics: JSON | None = None
    trained_on: list[str] | None = None


@strawberry.input(description="`test.result.recorded` on `ref` (`model:<name>@<version>`).")
class RecordTestResultInput(Envelope):
    ref: str
    suite: str
    kind: TestKind
    passed: bool
    metrics: JSON
    thresholds: JSON | None = None
    evidence_uri: str | None = None
    environment: str | None = None
    evaluated_on: str | None = None
    run: str | None = None
    finished_at: datetime | None = None


@strawberry.input(description="`lineage.edge.recorded`: `source <relation> target`.")
class RecordLineageEdgeInput(Envelope):
    source: str
    target: str
    relation: LineageRelation
    run: str | None = None
    producer: str | None = None
    facets: JSON | None = None


@strawberry.input(description="`approval.granted` of `ref` in `environment`.")
class ApproveInput(Envelope):
    ref: str
    environment: str
    approver_role: str = strawberry.field(description="e.g. ml_lead, model_risk, compliance.")
    justification: str
    evidence: list[EvidenceInput]
    expires_at: datetime | None = None


@strawberry.input(description="`deployment.decided` about `ref` in `environment`.")
class DecideDeploymentInput(Envelope):
    ref: str
    environment: str
    decision: DeploymentDecision
    justification: str
    target_exposure: float | None = None
    strategy: RolloutStrategy | None = None
    evidence: list[EvidenceInput] | None = None


@strawberry.input(description="`rollout.stage.changed` of `deployment` (`deployment:<m>/<env>`).")
class ChangeStageInput(Envelope):
    deployment: str
    version: str = strawberry.field(description="`model:<name>@<version>` exposed at the stage.")
    strategy: RolloutStrategy
    exposure_percent: float
    mirror_percent: float | None = None
    cohort: str | None = None
    flag_key: str | None = None
    exit_criteria: list[ExitCriterionInput] | None = None
    expires_at: datetime | None = None
    reason: str | None = None


@strawberry.input(description="`rollback.executed` on `deployment`.")
class RollBackInput(Envelope):
    deployment: str
    from_version: str
    to_version: str
    reason: str
    trigger: RollbackTrigger | None = None
    alert_id: str | None = None
    incident: str | None = None
