"""The one table from ledger errors to HTTP statuses, and the JSON error body.

Every error response of the server, REST or GraphQL transport, has the body
``{"error": {"code", "message", "field"}}``; ``code`` is the stable
``LedgerError.code`` (an anchor in docs/errors.md). Anything that is not a
``LedgerError`` is unexpected: it is logged with its stack trace and answered
as ``internal_error`` with a message that reveals nothing.
"""

from __future__ import annotations

import logging

from starlette.responses import JSONResponse

from ledger.errors import (
    BadRequest,
    ChainBroken,
    CheckpointInvalid,
    Conflict,
    Forbidden,
    InvalidEvent,
    LedgerError,
    NotFound,
    PayloadTooLarge,
    PolicyDenied,
    ProofInvalid,
    StoreError,
    Unauthorized,
)

__all__ = [
    "HTTP_STATUS",
    "INTERNAL_ERROR",
    "error_body",
    "error_response",
    "internal_error_response",
    "status_for",
]

logger = logging.getLogger("ledger.api")

INTERNAL_ERROR = "internal_error"
"""The code of every unexpected (masked) error."""

HTTP_STATUS: dict[type[LedgerError], int] = {
    BadRequest: 400,
    InvalidEvent: 422,
    PayloadTooLarge: 413,
    Conflict: 409,
    PolicyDenied: 409,
    NotFound: 404,
    ProofInvalid: 422,
    CheckpointInvalid: 422,
    ChainBroken: 500,
    Unauthorized: 401,
    Forbidden: 403,
    StoreError: 503,
    LedgerError: 400,
}
"""Status per error class; a subclass not listed takes its nearest listed base's."""


def status_for(error: LedgerError) -> int:
    """The HTTP status of ``error``: the entry of the most specific class in its MRO."""
    for cls in type(error).__mro__:
        status = HTTP_STATUS.get(cls)
        if status is not None:
            return status
    return 400  # unreachable: LedgerError is in the table


def error_body(code: str, message: str, field: str | None = None) -> dict[str, object]:
    """The JSON error object every error response carries."""
    return {"error": {"code": code, "message": message, "field": field}}


def error_response(error: LedgerError) -> JSONResponse:
    """A LedgerError as its HTTP status and JSON body (plus ``WWW-Authenticate`` on 401)."""
    body = error_body(error.code, error.message, error.field)
    if error.suggestion:
        inner = body["error"]
        assert isinstance(inner, dict)
        inner["suggestion"] = error.suggestion
    if isinstance(error, PolicyDenied):
        inner = body["error"]
        assert isinstance(inner, dict)
        inner["unmet"] = list(error.unmet)
    status = status_for(error)
    headers = {"WWW-Authenticate": 'Bearer realm="rollout-ledger"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def internal_error_response() -> JSONResponse:
    """The masked answer to an unexpected exception (already logged by the caller)."""
    return JSONResponse(
        error_body(INTERNAL_ERROR, "internal error; the server log has the details"),
        status_code=500,
    )
