"""Moments of the ledger ("as of") and the argument checks every read adapter shares.

A moment is a seq or a ledger time, never both. Times compare with the
ledger's ``recorded_at`` (when the ledger knew it), never with a client's
``occurred_at``, so an answer "as of T" cannot change after T. GraphQL's
``AsOf`` input and the CLI's ``--as-of`` both resolve to a :class:`Point`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ledger.errors import BadRequest, InvalidEvent
from ledger.events import format_time, normalize_time
from ledger.refs import EntityRef, parse_ref

__all__ = [
    "MAX_DEPTH",
    "Point",
    "check_depth",
    "check_ref",
    "ledger_time",
    "parse_point",
    "parse_time",
]

MAX_DEPTH = 10
"""Deepest lineage walk a query may ask for."""


@dataclass(frozen=True, slots=True)
class Point:
    """A resolved ``asOf``: a seq or a ledger time (``YYYY-MM-DDTHH:MM:SS.ffffffZ``), not both."""

    seq: int | None = None
    time: str | None = None


def ledger_time(moment: datetime, field: str) -> str:
    """``moment`` in the ledger's sortable UTC form.

    Raises:
        BadRequest: a time without a UTC offset (``field`` names the argument).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadRequest(
            f"{field}: {moment.isoformat()} has no UTC offset; add Z or +hh:mm", field=field
        )
    return format_time(moment)


def _naive(text: str) -> bool:
    """Whether ``text`` is a date-time that only lacks its UTC offset."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return False
    return moment.tzinfo is None and len(text) > len("2026-11-25")


def _no_offset(text: str, field: str) -> BadRequest:
    # A naive time is refused, never read as UTC or local time: the same words
    # would name different instants on different machines.
    return BadRequest(f"{field}: {text!r} has no UTC offset; add Z or +hh:mm", field=field)


def parse_time(text: str, field: str) -> str:
    """An RFC 3339 date-time with an offset, in the ledger's UTC form.

    Raises:
        BadRequest: not such a date-time, or one without a UTC offset (which is
            refused, never taken as UTC); ``field`` names the argument.
    """
    try:
        return normalize_time(text, field=field)
    except InvalidEvent as error:
        if _naive(text):
            raise _no_offset(text, field) from None
        raise BadRequest(error.message, field=field) from None


def parse_point(text: str, field: str = "as-of") -> Point:
    """``seq:N`` or an RFC 3339 time, as a :class:`Point` (the CLI's spelling of ``asOf``).

    Raises:
        BadRequest: neither form, a negative seq, or a time without a UTC offset.
    """
    if text.startswith("seq:"):
        digits = text[4:]
        if not digits.isdigit():
            raise BadRequest(
                f"{field}: {text!r} is not seq:N with N a whole number of 0 or more", field=field
            )
        return Point(seq=int(digits))
    try:
        return Point(time=normalize_time(text, field=field))
    except InvalidEvent:
        if _naive(text):
            raise _no_offset(text, field) from None
        raise BadRequest(
            f"{field}: expected seq:N or an RFC 3339 time such as 2026-11-25T14:02:00Z, "
            f"got {text!r}",
            field=field,
        ) from None


def check_depth(depth: int, field: str = "depth") -> int:
    """Bound a lineage depth to 1..MAX_DEPTH.

    Raises:
        BadRequest: out of range, so an unbounded walk is an error, not a slow server.
    """
    if not 1 <= depth <= MAX_DEPTH:
        raise BadRequest(f"{field}: must be between 1 and {MAX_DEPTH}, got {depth}", field=field)
    return depth


def check_ref(ref: str, field: str) -> EntityRef:
    """``ref`` parsed as an entity reference.

    Raises:
        BadRequest: not ``kind:name[@version]`` (``field`` names the argument).
    """
    try:
        return parse_ref(ref, field=field)
    except InvalidEvent as error:
        raise BadRequest(error.message, field=field) from None
