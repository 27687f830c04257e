"""Timelines: the events about some subjects in a window, for incident reviewers.

``related: true`` widens the subjects through lineage as it stood at the end
of the window (:func:`ledger.projections.timeline.related_subjects`): an
incident pulls in the deployments and versions it affected, their tests,
approvals, training data, the alerts and the rollback. Every event comes with
its seq and hash, so each line of the timeline can be proven
(``inclusionProof``).
"""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry import relay

from ledger.api.graphql.asof import AsOf, Point, ledger_time, point_of
from ledger.api.graphql.context import Info
from ledger.api.graphql.events import EventEdge, EventNode
from ledger.api.graphql.history import find_page
from ledger.api.graphql.loaders import lineage_snapshot
from ledger.api.graphql.permissions import CanRead
from ledger.errors import BadRequest
from ledger.service_review import (
    MAX_SUBJECTS,
    MAX_WIDENED,
    event_keeper,
    store_types,
    timeline_subjects,
    widen_subjects,
)

__all__ = ["MAX_SUBJECTS", "MAX_WIDENED", "TimelineConnection", "TimelineQuery"]


@strawberry.type(description="A page of a timeline, in seq order (Relay cursor connection).")
class TimelineConnection:
    subjects: list[str] = strawberry.field(
        description="The subjects covered, after `related` widened them, sorted."
    )
    edges: list[EventEdge]
    page_info: relay.PageInfo

    @strawberry.field(description="The events of `edges`, without cursors.")
    def nodes(self) -> list[EventNode]:
        return [edge.node for edge in self.edges]


async def _widen(
    info: Info, subjects: list[str], end: str | None, point: Point | None
) -> list[str]:
    return widen_subjects(await lineage_snapshot(info), subjects, end, point)


@strawberry.type
class TimelineQuery:
    @strawberry.field(
        description="The events about `subjects` (exact references) that occurred in "
        "[`from`, `to`), of `types` (`alert.*` for a prefix), in seq order; `related` widens "
        "to the entities linked to them through lineage; `asOf` shows the ledger as it was.",
        permission_classes=[CanRead],
    )
    async def timeline(
        self,
        info: Info,
        subjects: list[str],
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        types: list[str] | None = None,
        related: bool = False,
        as_of: AsOf | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> TimelineConnection:
        wanted = timeline_subjects(subjects)
        start = ledger_time(from_, "from") if from_ is not None else None
        end = ledger_time(to, "to") if to is not None else None
        if start is not None and end is not None and start >= end:
            raise BadRequest("to: must be after from", field="to")
        point = point_of(as_of)
        if related:
            wanted = await _widen(info, wanted, end, point)
        page = await find_page(
            info,
            first,
            after,
            subjects=wanted,
            types=store_types(types),
            until_seq=point.seq if point is not None else None,
            time_from=start,
            time_to=end,
            keep=event_keeper(types, end, point),
        )
        return TimelineConnection(subjects=wanted, edges=page.edges, page_info=page.page_info)
