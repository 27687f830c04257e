"""``lineageExport``: the lineage around an entity as GraphML, DOT, Mermaid or PROV-JSON.

The same text ``rollout-ledger lineage-export`` writes (:mod:`ledger.exporting`),
as one string, so a client can save it or hand it to Graphviz, Gephi, a
Mermaid renderer or a PROV tool without a second conversion.
"""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from enum import Enum
from functools import partial

import strawberry
from starlette.concurrency import run_in_threadpool

from ledger.api.graphql.asof import AsOf, point_of
from ledger.api.graphql.context import Info, state_of
from ledger.api.graphql.lineage import Direction
from ledger.api.graphql.permissions import CanRead
from ledger.exporting import export_lineage

__all__ = ["ExportsQuery", "LineageFormat"]


@strawberry.enum(description="A text format for the lineage graph, or a model's provenance.")
class LineageFormat(Enum):
    GRAPHML = "graphml"
    DOT = "dot"
    MERMAID = "mermaid"
    PROV_JSON = "prov-json"


@strawberry.type
class ExportsQuery:
    @strawberry.field(
        description="The lineage of `ref` as GraphML, Graphviz DOT or a Mermaid flowchart "
        "(`direction`, `depth` 1..10, `asOf` as in `lineage`); `PROV_JSON` is the W3C PROV "
        "provenance of `ref` = `model:NAME` (direction and depth do not apply).",
        permission_classes=[CanRead],
    )
    async def lineage_export(
        self,
        info: Info,
        ref: str,
        format: LineageFormat,
        direction: Direction = Direction.BOTH,
        depth: int = 3,
        as_of: AsOf | None = None,
    ) -> str:
        export = partial(
            export_lineage,
            state_of(info).ledger,
            ref,
            format.value,
            direction.value,
            depth,
            point_of(as_of),
        )
        return await run_in_threadpool(export)
