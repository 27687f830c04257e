"""The Relay ``node(id:)`` root field, for every type that implements ``Node``.

Written out rather than with ``relay.node()``, whose field extension binds to
one schema; the app builds a schema per settings.
"""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from collections.abc import Awaitable

import strawberry
from strawberry import relay

from ledger.api.graphql.context import Info
from ledger.api.graphql.permissions import CanRead

__all__ = ["NodeQuery"]


@strawberry.type
class NodeQuery:
    @strawberry.field(
        description="Any object by its global ID, or null.", permission_classes=[CanRead]
    )
    async def node(self, info: Info, id: relay.GlobalID) -> relay.Node | None:
        node_type = id.resolve_type(info)
        found = node_type.resolve_node(id.node_id, info=info, required=False)
        if isinstance(found, Awaitable):
            found = await found
        return found
