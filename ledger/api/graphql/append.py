"""Appending through GraphQL: ``appendEvents`` with typed inputs.

The convenience mutations (register a version, record a test, approve, …)
arrive with the catalogue-backed projections; they will build drafts and go
through the same :func:`ledger.api.ingest.append_drafts`.
"""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from ledger.api.graphql.context import Info, authorize, state_of
from ledger.api.graphql.permissions import CanAppend
from ledger.api.ingest import append_drafts, at_index
from ledger.auth import Scope
from ledger.errors import LedgerError
from ledger.events import EventDraft

__all__ = ["AppendMutation", "AppendedEvent", "EventInput"]


@strawberry.input(description="One event to append; the actor is the token's name.")
class EventInput:
    type: str
    subject: str
    data: JSON
    id: str | None = strawberry.field(
        default=None, description="A UUID you choose, so that a retry is idempotent."
    )
    occurred_at: str | None = strawberry.field(
        default=None, description="RFC 3339 time it happened (default: when it is recorded)."
    )


@strawberry.type(description="Where an appended event sits.")
class AppendedEvent:
    seq: int
    hash: str
    event_id: str
    created: bool = strawberry.field(
        description="False when the id was already appended with this content (a retry)."
    )


def _drafts(events: list[EventInput]) -> list[EventDraft]:
    drafts: list[EventDraft] = []
    for index, item in enumerate(events):
        try:
            drafts.append(
                EventDraft.create(
                    item.type, item.subject, item.data, id=item.id, occurred_at=item.occurred_at
                )
            )
        except LedgerError as error:
            raise at_index(index, error) from None
    return drafts


@strawberry.type
class AppendMutation:
    @strawberry.mutation(
        description="Append a batch, all or nothing, in order; returns where each event sits.",
        permission_classes=[CanAppend],
    )
    async def append_events(self, info: Info, events: list[EventInput]) -> list[AppendedEvent]:
        principal = authorize(info, Scope.APPEND)
        assert principal is not None
        acks = await append_drafts(state_of(info), principal, _drafts(events))
        return [
            AppendedEvent(seq=a.seq, hash=a.hash, event_id=a.id, created=a.created) for a in acks
        ]
