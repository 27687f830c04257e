"""Lineage: what an entity depends on and what depends on it, as of any seq or time.

Answers come from the process's lineage graph (:mod:`ledger.lineage_cache`),
refreshed once per request; ``asOf`` keeps only the edges recorded by then.
Upstream and downstream follow :mod:`ledger.projections.edges` (``trained_on``
points upstream, ``feature_of`` downstream, …); edges are reported as recorded.
"""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from ledger.api.graphql.asof import AsOf, check_ref, point_of
from ledger.api.graphql.context import Info
from ledger.api.graphql.loaders import lineage_snapshot
from ledger.api.graphql.permissions import CanRead
from ledger.projections.base import Edge
from ledger.projections.keys import parse_or_none
from ledger.service_review import neighbourhood

if TYPE_CHECKING:
    from ledger.api.graphql.deployments import Deployment

__all__ = [
    "Direction",
    "Lineage",
    "LineageEdge",
    "LineageNode",
    "LineagePath",
    "LineageQuery",
    "lineage_of",
]


@strawberry.enum(description="Which way to walk: what it depends on, what depends on it, or both.")
class Direction(Enum):
    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    BOTH = "both"


@strawberry.type(description="An entity of the lineage graph.")
class LineageNode:
    ref: str = strawberry.field(description="Entity reference `kind:name[@version]`.")
    kind: str = strawberry.field(description="The reference's kind: model, dataset, deployment …")

    @classmethod
    def of(cls, ref: str) -> LineageNode:
        parsed = parse_or_none(ref)
        return cls(ref=ref, kind=parsed.kind if parsed is not None else "")


@strawberry.type(description="`source <relation> target`, as first recorded (by event `seq`).")
class LineageEdge:
    source: str
    target: str
    relation: str
    seq: int
    time: str = strawberry.field(description="`recorded_at` of the event that recorded it.")

    @classmethod
    def of(cls, edge: Edge) -> LineageEdge:
        return cls(
            source=edge.source,
            target=edge.target,
            relation=edge.relation,
            seq=edge.seq,
            time=edge.time,
        )


@strawberry.type(description="The neighbourhood of an entity: nodes (the entity first) and edges.")
class Lineage:
    ref: str
    direction: Direction
    depth: int
    nodes: list[LineageNode]
    edges: list[LineageEdge]


@strawberry.type(description="A shortest chain of edges between two entities, in either direction.")
class LineagePath:
    nodes: list[LineageNode] = strawberry.field(description="From `from` to `to`, in order.")
    edges: list[LineageEdge] = strawberry.field(description="Each edge as it was recorded.")

    @strawberry.field(description="Number of edges (0 when `from` and `to` are the same).")
    def length(self) -> int:
        return len(self.edges)


async def lineage_of(
    info: Info, ref: str, direction: Direction, depth: int, as_of: AsOf | None, field: str = "ref"
) -> Lineage:
    """The neighbourhood of ``ref`` (validated; ``field`` names the argument)."""
    check_ref(ref, field)  # names the argument; neighbourhood's own check says "ref"
    point = point_of(as_of)
    nodes, edges = neighbourhood(await lineage_snapshot(info), ref, direction.value, depth, point)
    return Lineage(
        ref=ref,
        direction=direction,
        depth=depth,
        nodes=[LineageNode.of(n) for n in nodes],
        edges=[LineageEdge.of(e) for e in edges],
    )


def _path_nodes(start: str, edges: list[Edge]) -> list[LineageNode]:
    refs = [start]
    for edge in edges:
        refs.append(edge.target if edge.source == refs[-1] else edge.source)
    return [LineageNode.of(r) for r in refs]


@strawberry.type
class LineageQuery:
    @strawberry.field(
        description="The entities linked to `ref` within `depth` hops (1..10), as of a moment.",
        permission_classes=[CanRead],
    )
    async def lineage(
        self,
        info: Info,
        ref: str,
        direction: Direction = Direction.BOTH,
        depth: int = 3,
        as_of: AsOf | None = None,
    ) -> Lineage:
        return await lineage_of(info, ref, direction, depth, as_of)

    @strawberry.field(
        description="How two entities connect: a shortest path, ignoring direction; "
        "null when they are not connected (as of the moment).",
        permission_classes=[CanRead],
    )
    async def path(
        self,
        info: Info,
        from_: Annotated[str, strawberry.argument(name="from")],
        to: str,
        as_of: AsOf | None = None,
    ) -> LineagePath | None:
        check_ref(from_, "from")
        check_ref(to, "to")
        point = point_of(as_of)
        snap = await lineage_snapshot(info)
        edges = snap.graph.path(
            from_,
            to,
            as_of_seq=snap.bound(point.seq if point else None),
            as_of_time=point.time if point else None,
        )
        if edges is None:
            return None
        return LineagePath(
            nodes=_path_nodes(from_, edges), edges=[LineageEdge.of(e) for e in edges]
        )

    @strawberry.field(
        description="Every deployment downstream of `ref` at any depth (as of a moment), with "
        "its current state; lineage never forgets, so this includes deployments that served "
        "an affected version once (`serving(asOf)` says which serve it).",
        permission_classes=[CanRead],
    )
    async def impact(
        self, info: Info, ref: str, as_of: AsOf | None = None
    ) -> list[Annotated[Deployment, strawberry.lazy("ledger.api.graphql.deployments")]]:
        from ledger.api.graphql.deployments import deployments_by_ref

        check_ref(ref, "ref")
        point = point_of(as_of)
        snap = await lineage_snapshot(info)
        refs = snap.graph.impact(
            ref,
            as_of_seq=snap.bound(point.seq if point else None),
            as_of_time=point.time if point else None,
        )
        return await deployments_by_ref(info, refs)
