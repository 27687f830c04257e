"""Live events over graphql-transport-ws."""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from ledger.api.graphql.context import Info, state_of
from ledger.api.graphql.events import EventNode
from ledger.api.graphql.permissions import CanRead
from ledger.api.reads import EventFilter

__all__ = ["EventsSubscription"]


@strawberry.type
class EventsSubscription:
    @strawberry.subscription(
        description="New events as they are appended, each once, in seq order, with no gaps "
        "(also those appended by other processes). `afterSeq` resumes after that seq, "
        "replaying what was missed; by default delivery starts at the current head.",
        permission_classes=[CanRead],
    )
    async def events(
        self,
        info: Info,
        types: list[str] | None = None,
        subjects: list[str] | None = None,
        after_seq: int | None = None,
    ) -> AsyncGenerator[EventNode, None]:
        where = EventFilter.of(types, subjects)
        async for event in state_of(info).feed.events(after_seq, where.accept):
            yield EventNode.of(event)
