"""The schema: one Query, Mutation and Subscription per area, merged at the root.

To add an area (models, lineage, timeline): write its module with its own
``XQuery`` (and ``XMutation``), and add the classes to the tuples below. Types
that reference another area's types use ``Annotated["T", strawberry.lazy(...)]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.tools import merge_types
from strawberry.types.execution import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from ledger.api.graphql.append import AppendMutation
from ledger.api.graphql.compliance import ComplianceQuery
from ledger.api.graphql.deployments import DeploymentsQuery
from ledger.api.graphql.errors import log_unexpected, translate_errors
from ledger.api.graphql.events import EventsQuery
from ledger.api.graphql.executor import LeanExecutor
from ledger.api.graphql.exports import ExportsQuery
from ledger.api.graphql.limits import limit_rules
from ledger.api.graphql.lineage import LineageQuery
from ledger.api.graphql.models import ModelsQuery
from ledger.api.graphql.mutations import ConvenienceMutation
from ledger.api.graphql.node import NodeQuery
from ledger.api.graphql.pipeline import LeanOperations, RequestPipeline
from ledger.api.graphql.proofs import ProofsQuery
from ledger.api.graphql.subscriptions import EventsSubscription
from ledger.api.graphql.timeline import TimelineQuery
from ledger.api.graphql.webhooks import WebhooksQuery
from ledger.api.settings import MAX_PAGE_SIZE, Settings

__all__ = ["MUTATIONS", "QUERIES", "SUBSCRIPTIONS", "LedgerSchema", "build_schema"]

QUERIES: tuple[type, ...] = (
    NodeQuery,
    EventsQuery,
    ProofsQuery,
    ModelsQuery,
    DeploymentsQuery,
    LineageQuery,
    ExportsQuery,
    TimelineQuery,
    WebhooksQuery,
    ComplianceQuery,
)
MUTATIONS: tuple[type, ...] = (AppendMutation, ConvenienceMutation)
SUBSCRIPTIONS: tuple[type, ...] = (EventsSubscription,)

_CACHE_SIZE = 256

Query = merge_types("Query", QUERIES)
Mutation = merge_types("Mutation", MUTATIONS)
Subscription = merge_types("Subscription", SUBSCRIPTIONS)


class LedgerSchema(strawberry.Schema):
    """A strawberry schema that logs only unexpected errors (see ``graphql.errors``).

    With ``lean`` set (``build_schema`` does), valid documents are executed by
    ``pipeline.LeanOperations``, the rest by strawberry's own ``execute``.
    """

    lean: LeanOperations | None = None
    on_error: Callable[[str], None] | None = None

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_unexpected(errors)

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        # One result: a subscription cannot give one (graphql-core would call
        # its resolver as a plain field, a logged internal error). strawberry's
        # view allows them over HTTP for streaming transports, which this
        # server does not offer (they would call ``stream``, not ``execute``);
        # here they are refused like a mutation over GET.
        allowed = frozenset(
            DEFAULT_ALLOWED_OPERATION_TYPES
            if allowed_operation_types is None
            else allowed_operation_types
        ) - {OperationType.SUBSCRIPTION}
        lean = self.lean
        document = lean.document(query) if lean is not None else None
        if document is not None:
            assert lean is not None
            return await lean.execute(
                document,
                variable_values,
                context_value,
                root_value,
                operation_name,
                allowed,
                operation_extensions,
            )
        result = await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed,
            operation_extensions,
        )
        # strawberry answers an exception raised around the extension's hooks
        # (e.g. by a validation rule) with the bare exception message and no
        # code; mask and count it like any other unexpected error.
        errors = result.errors
        if errors and any("code" not in (e.extensions or {}) for e in errors):
            on_error = self.on_error
            result.errors = [
                e if "code" in (e.extensions or {}) else translate_errors([e], on_error)[0]
                for e in errors
            ]
        return result


def build_schema(
    settings: Settings | None = None, on_error: Callable[[str], None] | None = None
) -> LedgerSchema:
    """The GraphQL schema with its limits and caches.

    Args:
        settings: the limits to apply (defaults when None; the SDL is the same).
        on_error: called with the code of every error a result carries (metrics).
    """
    settings = settings or Settings()
    rules = limit_rules(settings.max_query_depth, settings.max_aliases, settings.max_fields)
    # One extension instead of five (token limit, limit rules, parse and
    # validation caches, error codes): strawberry builds extensions per request.
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: RequestPipeline(settings.max_query_tokens, rules, _CACHE_SIZE, on_error)
    ]
    config: Any = StrawberryConfig(relay_max_results=MAX_PAGE_SIZE)
    schema = LedgerSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=config,
        # Plain selections (a page's edges and nodes) skip per-field execution.
        execution_context_class=LeanExecutor,
    )
    schema.on_error = on_error
    # The lean path stands for exactly one extension; schema directives or
    # incremental delivery would add behaviour it does not have.
    if not schema.directives and not config.enable_experimental_incremental_execution:
        schema.lean = LeanOperations(
            schema, settings.max_query_tokens, rules, _CACHE_SIZE, on_error
        )
    return schema
