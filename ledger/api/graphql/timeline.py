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

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry import relay

from ledger.api.graphql.asof import AsOf, Point, check_ref, ledger_time, point_of
from ledger.api.graphql.context import Info
from ledger.api.graphql.events import EventEdge, EventNode
from ledger.api.graphql.history import find_page
from ledger.api.graphql.loaders import lineage_snapshot
from ledger.api.graphql.permissions import CanRead
from ledger.errors import BadRequest
from ledger.events import Event
from ledger.projections.timeline import related_subjects

__all__ = ["MAX_SUBJECTS", "MAX_WIDENED", "TimelineConnection", "TimelineQuery"]

MAX_SUBJECTS = 50
"""Most subjects a timeline may name."""

MAX_WIDENED = 1000
"""Most subjects a timeline may cover once ``related`` widened them."""


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


def _subjects(subjects: list[str]) -> list[str]:
    if not 1 <= len(subjects) <= MAX_SUBJECTS:
        raise BadRequest(
            f"subjects: give 1 to {MAX_SUBJECTS} entity references, got {len(subjects)}",
            field="subjects",
        )
    for index, subject in enumerate(subjects):
        check_ref(subject, f"subjects[{index}]")
    return list(dict.fromkeys(subjects))


def _keeper(
    types: list[str] | None, end: str | None, point: Point | None
) -> Callable[[Event], bool] | None:
    prefixes = tuple(t[:-1] for t in types or () if t.endswith(".*"))
    until_time = point.time if point is not None else None

    def keep(event: Event) -> bool:
        if prefixes and event.type not in (types or ()) and not event.type.startswith(prefixes):
            return False
        if end is not None and event.occurred_at >= end:
            return False  # the window's end is exclusive; the store's is not
        return until_time is None or event.recorded_at <= until_time

    return keep if prefixes or end is not None or until_time is not None else None


async def _widen(
    info: Info, subjects: list[str], end: str | None, point: Point | None
) -> list[str]:
    snap = await lineage_snapshot(info)
    times = [t for t in (end, point.time if point else None) if t is not None]
    wide = related_subjects(
        subjects,
        snap.graph,
        as_of_seq=snap.bound(point.seq if point else None),
        as_of_time=min(times) if times else None,
    )
    if len(wide) > MAX_WIDENED:
        raise BadRequest(
            f"related: the subjects widen to {len(wide)} entities, over {MAX_WIDENED}; "
            "name fewer subjects or a narrower one",
            field="related",
        )
    return sorted(wide)


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
        wanted = _subjects(subjects)
        start = ledger_time(from_, "from") if from_ is not None else None
        end = ledger_time(to, "to") if to is not None else None
        if start is not None and end is not None and start >= end:
            raise BadRequest("to: must be after from", field="to")
        point = point_of(as_of)
        if related:
            wanted = await _widen(info, wanted, end, point)
        exact = None if types is None else [t for t in types if not t.endswith(".*")]
        has_prefix = exact is not None and len(exact) < len(types or ())
        page = await find_page(
            info,
            first,
            after,
            subjects=wanted,
            types=None if has_prefix else exact,
            until_seq=point.seq if point is not None else None,
            time_from=start,
            time_to=end,
            keep=_keeper(types, end, point),
        )
        return TimelineConnection(subjects=wanted, edges=page.edges, page_info=page.page_info)
