"""Arguments the registry, lineage and timeline areas share: ``asOf``, depth, refs, times.

``AsOf`` is a ``@oneOf`` input: exactly one of ``time`` or ``seq``, which the
GraphQL validation enforces before any resolver runs. A time is compared with
the ledger's ``recorded_at`` (when the ledger knew it), never with a client's
``occurred_at``, so an answer "as of T" cannot change after T.
"""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from datetime import datetime

import strawberry

# The moment and the checks live in the core so the CLI shares them (no API import there).
from ledger.asof import MAX_DEPTH, Point, check_depth, check_ref, ledger_time
from ledger.errors import BadRequest

__all__ = ["MAX_DEPTH", "AsOf", "Point", "check_depth", "check_ref", "ledger_time", "point_of"]


@strawberry.input(
    one_of=True,
    description="A moment of the ledger: exactly one of `time` (recorded at or before) or `seq`.",
)
class AsOf:
    time: datetime | None = strawberry.UNSET
    seq: int | None = strawberry.UNSET


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
