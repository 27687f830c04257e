"""GraphQL errors: every one gets ``extensions.code``; unexpected ones are masked and logged.

* A ``LedgerError`` keeps its message and adds ``code`` and ``field`` (and
  ``suggestion`` when there is one): the same codes as the HTTP API.
* An error about the document itself (syntax, validation, limits, a bad
  argument value) is the client's: code ``bad_request``.
* Anything else is a bug or an outage: the client sees only
  ``internal_error``; the server log gets the stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.relay.types import GlobalIDValueError

from ledger.api.errors import INTERNAL_ERROR
from ledger.errors import BadRequest, LedgerError, PolicyDenied

__all__ = ["ErrorCodes", "is_unexpected", "log_unexpected", "translate_errors"]

logger = logging.getLogger("ledger.api.graphql")

_CLIENT_ERRORS = (GlobalIDValueError,)


def is_unexpected(error: GraphQLError) -> bool:
    """Whether ``error`` comes from a bug or an outage rather than from the request."""
    original = error.original_error
    # A GraphQLError as the cause is graphql-core's own verdict on the request
    # (e.g. a variable of the wrong type), never a server fault.
    return original is not None and not isinstance(
        original, (LedgerError, GraphQLError, *_CLIENT_ERRORS)
    )


def log_unexpected(errors: list[GraphQLError]) -> None:
    """Log unexpected errors with their stack trace; expected ones are the client's business."""
    for error in errors:
        if is_unexpected(error):
            logger.error(
                "unexpected error in GraphQL %s", error.path, exc_info=error.original_error
            )


def _translate(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, GraphQLError):
        original = BadRequest(original.message)
    if isinstance(original, _CLIENT_ERRORS):
        original = BadRequest(str(original))
    if original is None or isinstance(original, LedgerError):
        code = original.code if original is not None else BadRequest.code
        extensions: dict[str, object] = {**(error.extensions or {}), "code": code}
        if original is not None:
            extensions["field"] = original.field
            if original.suggestion:
                extensions["suggestion"] = original.suggestion
            if isinstance(original, PolicyDenied):
                extensions["unmet"] = list(original.unmet)
        return GraphQLError(
            original.message if original is not None else error.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=extensions,
        )
    return GraphQLError(
        "internal error; the server log has the details",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": INTERNAL_ERROR},
    )


def translate_errors(
    errors: list[GraphQLError], on_error: Callable[[str], None] | None
) -> list[GraphQLError]:
    """The errors as the client sees them (with ``extensions.code``), each code reported."""
    translated = [_translate(e) for e in errors]
    if on_error is not None:
        for error in translated:
            on_error(str((error.extensions or {}).get("code", INTERNAL_ERROR)))
    return translated


class ErrorCodes(SchemaExtension):
    """Translates every error of a result (also each streamed subscription result)."""

    def __init__(self, on_error: Callable[[str], None] | None = None) -> None:
        self.on_error = on_error
        self._streamed = False

    def _process(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = translate_errors(errors, self.on_error)  # type: ignore[attr-defined]

    def on_operation(self) -> Iterator[None]:
        self._streamed = False
        yield
        if not self._streamed:
            self._process(self.execution_context.result)

    def on_stream_result(self, result: object) -> Iterator[None]:
        self._streamed = True
        self._process(result)
        yield None
