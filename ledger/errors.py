"""The one error tree of Rollout Ledger.

Every failure the ledger reports is a ``LedgerError`` with a stable ``code``
(an anchor in docs/errors.md), a one-line message that names the field or seq
at fault, and optionally a ``suggestion``. Each adapter (CLI, HTTP, GraphQL)
translates these once, in one table. This module imports nothing from the
package so every layer may depend on it.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "CanonicalizationError",
    "ChainBroken",
    "CheckpointInvalid",
    "Conflict",
    "Forbidden",
    "InvalidEvent",
    "LedgerError",
    "NotFound",
    "PayloadTooLarge",
    "PolicyDenied",
    "ProofInvalid",
    "SchemaViolation",
    "StoreError",
    "Unauthorized",
]


class LedgerError(Exception):
    """Root of every error the ledger raises on purpose.

    Attributes:
        code: stable machine-readable name, e.g. ``conflict``.
        field: the input field at fault (a dotted path), when there is one.
        suggestion: what the caller can do about it, when we know.
    """

    code = "ledger_error"

    def __init__(
        self, message: str, *, field: str | None = None, suggestion: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.suggestion = suggestion

    def __str__(self) -> str:
        return self.message


class BadRequest(LedgerError):
    """Input that is malformed before any domain rule applies (bad JSON, bad args)."""

    code = "bad_request"


class InvalidEvent(LedgerError):
    """A draft whose envelope is wrong: unknown type, bad subject, bad time, bad id."""

    code = "invalid_event"


class CanonicalizationError(InvalidEvent):
    """A payload RFC 8785 cannot represent (NaN, huge ints, lone surrogates, ...)."""

    code = "not_canonicalizable"


class SchemaViolation(InvalidEvent):
    """A payload that does not match its event type's JSON Schema."""

    code = "schema_violation"


class PayloadTooLarge(InvalidEvent):
    """A payload (or batch) over the documented size limit."""

    code = "payload_too_large"


class Conflict(LedgerError):
    """The same event id was appended before with different content."""

    code = "conflict"


class NotFound(LedgerError):
    """The asked-for event, seq or tree size does not exist."""

    code = "not_found"


class PolicyDenied(LedgerError):
    """The rollout policy refuses the draft; ``unmet`` lists every reason."""

    code = "policy_denied"

    def __init__(self, message: str, *, unmet: list[str], field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.unmet = unmet


class ChainBroken(LedgerError):
    """Verification found a break; ``seq`` is the first bad one, ``kind`` what broke."""

    code = "chain_broken"

    def __init__(self, message: str, *, seq: int, kind: str) -> None:
        super().__init__(message)
        self.seq = seq
        self.kind = kind


class ProofInvalid(LedgerError):
    """A Merkle inclusion or consistency proof does not verify."""

    code = "proof_invalid"


class CheckpointInvalid(LedgerError):
    """A checkpoint or signed note that is malformed or not signed by the given key."""

    code = "checkpoint_invalid"


class Unauthorized(LedgerError):
    """No valid credential was presented."""

    code = "unauthorized"


class Forbidden(LedgerError):
    """The credential is valid but its role may not do this."""

    code = "forbidden"


class StoreError(LedgerError):
    """The storage backend failed; driver exceptions are translated into this family."""

    code = "store_error"
