"""Event pages for the registry and timeline areas: the ``events`` connection, narrowed.

``history`` (a model's or a version's) and ``timeline`` page through the log
with the same cursors as ``events``: a cursor stands for a seq, and a page
holds the matching events after it, in seq order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from starlette.concurrency import run_in_threadpool
from strawberry import relay

from ledger.api.graphql.context import Info
from ledger.api.graphql.events import EventConnection, EventEdge, EventNode, check_first
from ledger.api.graphql.loaders import reader
from ledger.api.reads import decode_cursor, encode_cursor
from ledger.events import Event

__all__ = ["SCAN_ROUNDS", "connection", "find_page", "start_of"]

SCAN_ROUNDS = 20
"""Most store reads one page makes when a filter the store cannot apply drops events."""


def start_of(first: int, after: str | None) -> int:
    """Check ``first`` and decode ``after`` into the seq the page starts after."""
    check_first(first)
    return decode_cursor(after) if after is not None else 0


def connection(events: Sequence[Event], start: int, has_next: bool, end: int) -> EventConnection:
    """A page of events: ``end`` is the last seq looked at (the next page starts after it)."""
    edges = [EventEdge(cursor=encode_cursor(e.seq), node=EventNode.of(e)) for e in events]
    page_info = relay.PageInfo(
        has_next_page=has_next,
        has_previous_page=start > 0,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=encode_cursor(end) if end > start else None,
    )
    return EventConnection(edges=edges, page_info=page_info)


async def find_page(
    info: Info,
    first: int,
    after: str | None,
    *,
    subjects: Sequence[str] | None = None,
    types: Sequence[str] | None = None,
    until_seq: int | None = None,
    time_from: str | None = None,
    time_to: str | None = None,
    keep: Callable[[Event], bool] | None = None,
) -> EventConnection:
    """Up to ``first`` events after the cursor that the store's filters and ``keep`` accept.

    The store applies ``subjects``, ``types``, ``until_seq`` and the inclusive
    ``occurred_at`` window; ``keep`` drops more in Python, in which case up to
    :data:`SCAN_ROUNDS` reads fill the page and a short page may come back with
    ``hasNextPage`` true.
    """
    start = start_of(first, after)
    search = partial(
        reader(info).find_events,
        subjects=subjects,
        types=types,
        until_seq=until_seq,
        time_from=time_from,
        time_to=time_to,
    )
    found: list[Event] = []
    last = start
    for _ in range(SCAN_ROUNDS):
        limit = first + 1 - len(found) if keep is None else max(2 * first, 100)
        batch = await run_in_threadpool(search, after_seq=last, limit=limit)
        for event in batch:
            if keep is None or keep(event):
                if len(found) == first:
                    return connection(found, start, True, found[-1].seq)
                found.append(event)
            last = event.seq
        if len(batch) < limit:
            return connection(found, start, False, last)
    return connection(found, start, True, last)
