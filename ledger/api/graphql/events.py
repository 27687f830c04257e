"""The log itself: the ``Event`` node, the ``events`` connection and ``event(seq)``."""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import orjson
import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry import relay
from strawberry.scalars import JSON

from ledger.api.graphql.context import Info, state_of
from ledger.api.graphql.permissions import CanRead
from ledger.api.reads import EventFilter, EventRow, decode_cursor, encode_cursor, page_events
from ledger.api.settings import MAX_PAGE_SIZE
from ledger.errors import BadRequest
from ledger.events import Event
from ledger.store.protocol import EventStore

__all__ = ["EventConnection", "EventEdge", "EventNode", "EventsQuery", "check_first"]


@strawberry.type(name="Event", description="One sealed, hash-chained event of the ledger.")
class EventNode(relay.Node):
    node_seq: relay.NodeID[int]
    seq: int = strawberry.field(description="Position in the log: 1, 2, 3 … with no gaps.")
    event_id: str = strawberry.field(description="The event's UUID (the envelope's `id`).")
    type: str = strawberry.field(description="Catalogue type, e.g. model.version.registered.")
    subject: str = strawberry.field(description="Entity reference `kind:name[@version]`.")
    actor: str = strawberry.field(description="The token name (or local user) that appended it.")
    occurred_at: str = strawberry.field(description="When it happened (RFC 3339 UTC, client).")
    recorded_at: str = strawberry.field(description="When the ledger accepted it (server).")
    prev_hash: str = strawberry.field(description="Hash of event seq - 1; 64 zeros for seq 1.")
    hash: str = strawberry.field(description="SHA-256 (hex) of the canonical bytes.")
    body: strawberry.Private[bytes]

    @strawberry.field(description="The payload, as validated and stored.")
    def data(self) -> JSON:
        parsed = orjson.loads(self.body)
        assert isinstance(parsed, dict)
        return cast(JSON, parsed["data"])

    @strawberry.field(description="The RFC 8785 bytes that `hash` covers (UTF-8 text).")
    def canonical(self) -> str:
        return self.body.decode()

    @classmethod
    def of(cls, event: Event) -> EventNode:
        return cls(
            node_seq=event.seq,
            seq=event.seq,
            event_id=event.id,
            type=event.type,
            subject=event.subject,
            actor=event.actor,
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
            prev_hash=event.prev_hash,
            hash=event.hash,
            body=event.body,
        )

    @classmethod
    def of_row(cls, row: EventRow) -> EventNode:
        """The node of a page row (``ledger.api.reads.EventRow``): no ``Event`` in between."""
        seq, event_id, type_, subject, actor, occurred_at, recorded_at, prev_hash, hash_, body = row
        return cls(
            node_seq=seq,
            seq=seq,
            event_id=event_id,
            type=type_,
            subject=subject,
            actor=actor,
            occurred_at=occurred_at,
            recorded_at=recorded_at,
            prev_hash=prev_hash,
            hash=hash_,
            body=body,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[EventNode | None]:
        seqs = [int(n) if str(n).isdigit() else -1 for n in node_ids]
        events = await run_in_threadpool(_get_many, state_of(info).reads, seqs)
        return [None if e is None else cls.of(e) for e in events]


def _get_many(store: EventStore, seqs: list[int]) -> list[Event | None]:
    return [store.get(seq) if seq > 0 else None for seq in seqs]


@strawberry.type(description="An event and the cursor just after it.")
class EventEdge:
    cursor: str
    node: EventNode


@strawberry.type(description="A page of the log, in seq order (Relay cursor connection).")
class EventConnection:
    edges: list[EventEdge]
    page_info: relay.PageInfo

    @strawberry.field(description="The events of `edges`, without cursors.")
    def nodes(self) -> list[EventNode]:
        return [edge.node for edge in self.edges]


def check_first(first: int) -> int:
    """Bound a page size to 1..MAX_PAGE_SIZE.

    Raises:
        BadRequest: out of range (``field="first"``), so a huge page is an
            error rather than a slow server.
    """
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise BadRequest(
            f"first: must be between 1 and {MAX_PAGE_SIZE}, got {first}", field="first"
        )
    return first


@strawberry.type
class EventsQuery:
    @strawberry.field(
        description="The log in seq order, filtered by type (`rollout.*` for a prefix) "
        "and subject (an unversioned reference also matches its versions).",
        permission_classes=[CanRead],
    )
    async def events(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        types: list[str] | None = None,
        subjects: list[str] | None = None,
    ) -> EventConnection:
        check_first(first)
        start = decode_cursor(after) if after is not None else 0
        where = EventFilter.of(types, subjects)
        state = state_of(info)
        if state.inline_reads and where.is_empty:
            # At most MAX_PAGE_SIZE rows by primary key on the loop thread's own read
            # connection (~0.3 ms, never waits for the writer): less than a pool hop.
            page = page_events(state.reads, start, first, where)
        else:  # a filtered page may scan up to SCAN_LIMIT events
            page = await run_in_threadpool(page_events, state.reads, start, first, where)
        of_row = EventNode.of_row
        edges = [EventEdge(cursor=encode_cursor(r[0]), node=of_row(r)) for r in page.rows]
        info_ = relay.PageInfo(
            has_next_page=page.has_next,
            has_previous_page=start > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=encode_cursor(page.end_seq) if page.end_seq > start else after,
        )
        return EventConnection(edges=edges, page_info=info_)

    @strawberry.field(description="The event at `seq`, or null.", permission_classes=[CanRead])
    async def event(self, info: Info, seq: int) -> EventNode | None:
        found = await run_in_threadpool(state_of(info).reads.get, seq)
        return None if found is None else EventNode.of(found)
