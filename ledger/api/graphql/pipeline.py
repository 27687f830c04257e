"""The request pipeline: limits, caches and error codes, as one extension and as a lean path.

strawberry builds every extension anew for each request and runs each hook
of each one as its own context manager. Five small extensions (the token
limiter, ``LimitRules``, ``ParseCache``, ``ValidationCache``, ``ErrorCodes``)
cost a trivial query about as much as its execution, so the schema uses one,
:class:`RequestPipeline`, which does what they did, in the same order.

Even one extension costs: strawberry's ``Schema.execute`` makes an execution
context, the extension, an extensions runner and four async context managers
per request, whose hooks it finds with ``inspect.getattr_static``. For a
document that parses and validates (the common case, from the caches), all of
that amounts to what :class:`LeanOperations` does directly. Every other
request (no query, a syntax or validation error) takes strawberry's path with
the extension, which reports the errors as it always did.

Documents longer than :data:`MAX_CACHED_QUERY` characters are never cached
(strawberry parses and validates them itself, with the same limits): the
caches are bounded by entries, and the token limit does not count comments,
whitespace or the length of string literals, so without this bound 256 bodies
of several megabytes each would stay in memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from inspect import isawaitable
from typing import Any

from graphql import DocumentNode, GraphQLError, specified_rules
from graphql.execution.middleware import MiddlewareManager
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache
from strawberry.schema import Schema
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.utils.operation import get_first_operation, get_operation_type

from ledger.api.graphql.errors import ErrorCodes, translate_errors

__all__ = ["MAX_CACHED_QUERY", "LeanOperations", "RequestPipeline"]

MAX_CACHED_QUERY = 64 * 1024
"""Longest document text (characters) the parse, validation and lean caches keep."""


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
        if context.query is not None and len(context.query) > MAX_CACHED_QUERY:
            # Not cached (see the module docstring): strawberry parses and
            # validates it with the options and rules set above.
            yield from super().on_operation()
            return
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


_NO_MIDDLEWARE = MiddlewareManager()
"""What strawberry passes when no extension resolves fields (graphql-core treats it as none)."""


class LeanOperations:
    """strawberry's ``Schema.execute`` for valid documents, without its extension machinery.

    The same steps in the same order as strawberry with :class:`RequestPipeline`:
    the document from the shared parse cache (same token limit) and the
    validation cache (same rules), the operation type checked against the
    allowed ones (the same exceptions), graphql-core's execution with the
    schema's executor class, unexpected errors logged by the schema's
    ``_process_errors`` before every error is translated (``ErrorCodes``).

    Args:
        schema: the schema (its executor class and ``_process_errors`` are used).
        max_tokens, rules, cache_size, on_error: as for :class:`RequestPipeline`.
    """

    def __init__(
        self,
        schema: Schema,
        max_tokens: int,
        rules: tuple[type[Any], ...],
        cache_size: int,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self._schema = schema
        self._on_error = on_error
        self._execute = schema._get_execute_function()
        parse = _get_parse_cache(cache_size)
        validate = _get_validate_cache(cache_size)
        # What RequestPipeline makes of strawberry's default rules: the same
        # tuple, so both paths share the validation cache's entries.
        validation_rules = (*specified_rules, *rules)
        graphql_schema = schema._schema

        # Keyed by the query text alone: one str hash per request, where the
        # validation cache hashes the whole document tree on every lookup.
        @lru_cache(maxsize=cache_size)
        def prepare(query: str) -> DocumentNode | None:
            try:
                document = parse(query, max_tokens=max_tokens)
                errors = validate(graphql_schema, document, validation_rules)
            except Exception:  # strawberry's path reports it (a rule may raise)
                return None
            return None if errors else document

        self._prepare = prepare

    def document(self, query: object) -> DocumentNode | None:
        """The parsed and validated document of ``query``; None when it has no lean path."""
        if type(query) is not str or not query or len(query) > MAX_CACHED_QUERY:
            return None
        return self._prepare(query)

    async def execute(
        self,
        document: DocumentNode,
        variable_values: dict[str, Any] | None,
        context_value: Any,
        root_value: Any,
        operation_name: str | None,
        allowed_operation_types: Iterable[OperationType],
        operation_extensions: dict[str, Any] | None,
    ) -> ExecutionResult:
        """Execute a document from :meth:`document` (strawberry's ``Schema.execute`` contract).

        Raises:
            CannotGetOperationTypeError: no operation of that name.
            InvalidOperationTypeError: the operation's type is not allowed.
        """
        try:
            operation_type = get_operation_type(document, operation_name)
        except RuntimeError as missing:
            raise CannotGetOperationTypeError(operation_name) from missing
        if operation_type not in allowed_operation_types:
            raise InvalidOperationTypeError(operation_type)
        if operation_name is None:
            # strawberry names the first operation when the request names none.
            first = get_first_operation(document)
            operation_name = first.name.value if first is not None and first.name else None
        try:
            result = self._execute(
                self._schema._schema,
                document,
                root_value=root_value,
                middleware=_NO_MIDDLEWARE,
                variable_values=variable_values,
                operation_name=operation_name,
                context_value=context_value,
                is_awaitable=optimized_is_awaitable,
                operation_extensions=operation_extensions,
                # Read per request, as strawberry does: tests swap the class.
                **execution_context_class_kwargs(self._schema.execution_context_class),
            )
            if isawaitable(result):
                result = await result
        except Exception as exc:  # as strawberry: the request's error, not a 500
            failure = (
                exc if isinstance(exc, GraphQLError) else GraphQLError(str(exc), original_error=exc)
            )
            self._schema._process_errors([failure])
            errors = translate_errors([failure], self._on_error)
            return PreExecutionError(data=None, errors=errors, extensions={})
        errors = result.errors
        if errors:
            self._schema._process_errors(errors)
            errors = translate_errors(errors, self._on_error)
        return ExecutionResult(data=result.data, errors=errors, extensions={})
