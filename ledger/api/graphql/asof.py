"""Arguments the registry, lineage and timeline areas share: ``asOf``, depth, refs, times.

``AsOf`` is a ``@oneOf`` input: exactly one of ``time`` or ``seq``, which the
GraphQL validation enforces before any resolver runs. A time is compared with
the ledger's ``recorded_at`` (when the ledger knew it), never with a client's
``occurred_at``, so an answer "as of T" cannot change after T.
"""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import strawberry

from ledger.errors import BadRequest, InvalidEvent
from ledger.events import format_time
from ledger.refs import EntityRef, parse_ref

__all__ = ["MAX_DEPTH", "AsOf", "Point", "check_depth", "check_ref", "ledger_time", "point_of"]

MAX_DEPTH = 10
"""Deepest lineage walk a query may ask for."""


@strawberry.input(
    one_of=True,
    description="A moment of the ledger: exactly one of `time` (recorded at or before) or `seq`.",
)
class AsOf:
    time: datetime | None = strawberry.UNSET
    seq: int | None = strawberry.UNSET


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


def point_of(as_of: AsOf | None, field: str = "asOf") -> Point | None:
    """The moment ``as_of`` names, or None for "now".

    Raises:
        BadRequest: a negative seq or a time without an offset.
    """
    if as_of is None:
        return None
    seq, time = as_of.seq, as_of.time
    if isinstance(seq, int):
        if seq < 0:
            raise BadRequest(f"{field}.seq: must be 0 or more, got {seq}", field=f"{field}.seq")
        return Point(seq=seq)
    if isinstance(time, datetime):
        return Point(time=ledger_time(time, f"{field}.time"))
    raise BadRequest(f"{field}: give exactly one of time or seq", field=field)


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
