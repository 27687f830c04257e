"""One schema extension per request: token limit, limit rules, parse/validation caches, codes.

strawberry builds every extension anew for each request and runs each hook
of each one as its own context manager. Five small extensions (the token
limiter, ``LimitRules``, ``ParseCache``, ``ValidationCache``, ``ErrorCodes``)
cost a trivial query about as much as its execution, so the schema uses this
single one, which does what they did, in the same order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from ledger.api.graphql.errors import ErrorCodes

__all__ = ["RequestPipeline"]


class RequestPipeline(ErrorCodes):
    """Limits, caches and error codes of one request (see the module docstring).

    Args:
        max_tokens: the parser's token limit (a parse option the parse cache keys on).
        rules: the limit rules added to every validation (``limits.limit_rules``).
        cache_size: entries of the shared parse and validation LRU caches.
        on_error: called with the code of every error a result carries.
    """

    def __init__(
        self,
        max_tokens: int,
        rules: tuple[type[Any], ...],
        cache_size: int,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(on_error)
        self.max_tokens = max_tokens
        self.rules = rules
        self.cached_parse_document = _get_parse_cache(cache_size)
        self.cached_validate_document = _get_validate_cache(cache_size)

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        context.validation_rules = context.validation_rules + self.rules
        # Parse and validate from the caches here rather than in on_parse and
        # on_validate hooks (two context managers fewer per request). strawberry
        # skips its own parse when the document is set and its own validation
        # when the errors are; a document that fails to parse is left to
        # strawberry, where the error gets its code (as ``ParseCache`` does).
        if context.graphql_document is None and context.query:
            with contextlib.suppress(GraphQLError):
                context.graphql_document = self.cached_parse_document(
                    context.query, **context.parse_options
                )
        if context.graphql_document is not None and context.pre_execution_errors is None:
            context.pre_execution_errors = self.cached_validate_document(
                context.schema._schema, context.graphql_document, context.validation_rules
            )
        yield from super().on_operation()
