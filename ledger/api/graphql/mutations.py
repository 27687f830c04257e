"""Convenience mutations for the common pipeline steps, each one typed event.

Every mutation builds one draft and appends it through
:func:`ledger.api.ingest.append_drafts`, like ``appendEvents``: the same role
check, catalogue validation, rollout policy, metrics and subscription
wake-up. Errors name the input field at fault (``input.<field>``); a refusal
by the rollout policy carries ``extensions.code = "policy_denied"`` and the
unmet requirements in ``extensions.unmet`` (the attempt itself is recorded as
a ``policy.denied`` event).
"""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import re

import strawberry

from ledger.api.graphql.append import AppendedEvent
from ledger.api.graphql.asof import ledger_time
from ledger.api.graphql.context import Info, authorize, state_of
from ledger.api.graphql.inputs import (
    ApproveInput,
    ChangeStageInput,
    DecideDeploymentInput,
    Envelope,
    RecordLineageEdgeInput,
    RecordTestResultInput,
    RegisterModelVersionInput,
    RollBackInput,
    payload,
)
from ledger.api.graphql.permissions import CanAppend
from ledger.api.ingest import append_drafts
from ledger.auth import Scope
from ledger.errors import LedgerError, PolicyDenied
from ledger.events import EventDraft

__all__ = ["ConvenienceMutation", "append_one"]

_ITEM = "events[0]"
_SNAKE = re.compile(r"_([a-z0-9])")


def _camel(name: str) -> str:
    return _SNAKE.sub(lambda m: m.group(1).upper(), name)


def _input_field(path: str, subject_field: str) -> str | None:
    """The input field behind an append error's field (None: the mutation as a whole)."""
    path = path.removeprefix(_ITEM).removeprefix(".")
    head, _, rest = path.partition(".")
    if head == "subject":
        return subject_field
    if head == "data":
        return f"input.{_camel(rest)}" if rest else None
    if head in ("id", "occurred_at"):
        return f"input.{_camel(head)}"
    return None  # the batch or the type: nothing the caller typed


def _in_input_terms(error: LedgerError, subject_field: str) -> LedgerError:
    """Name the input field at fault (``input.artifactDigest``), not ``events[0].data...``."""
    if error.field is None:
        return error
    field = _input_field(error.field, subject_field)
    message = error.message
    if message.startswith(f"{error.field}:"):
        rest = message[len(error.field) + 1 :].lstrip()
        message = f"{field}: {rest}" if field else rest
    error.message, error.field = message, field
    error.args = (message,)
    return error


async def append_one(
    info: Info, event_type: str, subject: str, subject_field: str, item: Envelope
) -> AppendedEvent:
    """Append ``item`` as one ``event_type`` event about ``subject`` (``subject_field`` names it).

    Raises:
        Forbidden: the caller's role may not append ``event_type``.
        PolicyDenied: the rollout policy refuses it (``extensions.unmet`` lists why).
        LedgerError: the catalogue or the service refuses it; nothing is appended.
    """
    principal = authorize(info, Scope.APPEND)
    assert principal is not None
    data = payload(item)
    assert isinstance(data, dict)
    skip = {"id", "occurred_at", subject_field.removeprefix("input.")}
    data = {k: v for k, v in data.items() if k not in skip}
    when = ledger_time(item.occurred_at, "input.occurredAt") if item.occurred_at else None
    try:
        draft = EventDraft.create(event_type, subject, data, id=item.id, occurred_at=when)
        (ack,) = await append_drafts(state_of(info), principal, [draft])
    except PolicyDenied as error:
        # graphql-core adopts an error's ``extensions``; ErrorCodes adds the code.
        error.extensions = {"unmet": list(error.unmet)}  # type: ignore[attr-defined]
        raise _in_input_terms(error, subject_field) from None
    except LedgerError as error:
        raise _in_input_terms(error, subject_field) from None
    return AppendedEvent(seq=ack.seq, hash=ack.hash, event_id=ack.id, created=ack.created)


@strawberry.type
class ConvenienceMutation:
    @strawberry.mutation(
        description="Register a model version (`model.version.registered`).",
        permission_classes=[CanAppend],
    )
    async def register_model_version(
        self, info: Info, input: RegisterModelVersionInput
    ) -> AppendedEvent:
        return await append_one(info, "model.version.registered", input.ref, "input.ref", input)

    @strawberry.mutation(
        description="Record a test result of a version (`test.result.recorded`).",
        permission_classes=[CanAppend],
    )
    async def record_test_result(self, info: Info, input: RecordTestResultInput) -> AppendedEvent:
        return await append_one(info, "test.result.recorded", input.ref, "input.ref", input)

    @strawberry.mutation(
        description="Record a lineage edge `source <relation> target` (`lineage.edge.recorded`).",
        permission_classes=[CanAppend],
    )
    async def record_lineage_edge(self, info: Info, input: RecordLineageEdgeInput) -> AppendedEvent:
        return await append_one(info, "lineage.edge.recorded", input.source, "input.source", input)

    @strawberry.mutation(
        description="Approve a version for an environment (`approval.granted`).",
        permission_classes=[CanAppend],
    )
    async def approve(self, info: Info, input: ApproveInput) -> AppendedEvent:
        return await append_one(info, "approval.granted", input.ref, "input.ref", input)

    @strawberry.mutation(
        description="Decide a deployment (`deployment.decided`); a promote is checked against "
        "the rollout policy.",
        permission_classes=[CanAppend],
    )
    async def decide_deployment(self, info: Info, input: DecideDeploymentInput) -> AppendedEvent:
        return await append_one(info, "deployment.decided", input.ref, "input.ref", input)

    @strawberry.mutation(
        description="Change a rollout stage (`rollout.stage.changed`); raising exposure is "
        "checked against the rollout policy.",
        permission_classes=[CanAppend],
    )
    async def change_stage(self, info: Info, input: ChangeStageInput) -> AppendedEvent:
        return await append_one(
            info, "rollout.stage.changed", input.deployment, "input.deployment", input
        )

    @strawberry.mutation(
        description="Roll a deployment back (`rollback.executed`).",
        permission_classes=[CanAppend],
    )
    async def roll_back(self, info: Info, input: RollBackInput) -> AppendedEvent:
        return await append_one(
            info, "rollback.executed", input.deployment, "input.deployment", input
        )
