"""Appending over the network: parse a batch, check the caller's role per type, append.

REST and GraphQL share this, so both refuse the same things with the same
codes and both record the token's name, never a field of the request, as the
actor. A batch is all or nothing: a bad item refuses the whole request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import partial

from starlette.concurrency import run_in_threadpool

from ledger.api.auth import Principal
from ledger.api.state import ApiState
from ledger.auth import check_append
from ledger.canonical import parse_json
from ledger.errors import BadRequest, LedgerError
from ledger.events import EventDraft, draft_from_json
from ledger.service import Appended

__all__ = ["INLINE_BODY_BYTES", "NDJSON", "append_body", "append_drafts", "at_index", "parse_batch"]

NDJSON = "application/x-ndjson"

INLINE_BODY_BYTES = 8 * 1024
"""Bodies up to this size are parsed and validated on the event loop (tens of
microseconds: less than a thread-pool round trip); larger ones in the pool."""


def at_index(index: int, error: LedgerError) -> LedgerError:
    """Place ``error`` at ``events[index]``: its field and message say which item failed."""
    prefix = f"events[{index}]"
    if error.field is not None and error.field.startswith(prefix):
        return error
    named = error.field is not None and error.message.startswith(f"{error.field}:")
    error.message = f"{prefix}.{error.message}" if named else f"{prefix}: {error.message}"
    error.field = prefix + (f".{error.field}" if error.field else "")
    error.args = (error.message,)
    return error


def _drafts(items: Sequence[object]) -> list[EventDraft]:
    drafts: list[EventDraft] = []
    for index, item in enumerate(items):
        try:
            drafts.append(draft_from_json(item))
        except LedgerError as error:
            raise at_index(index, error) from None
    return drafts


def parse_batch(body: bytes, content_type: str) -> list[EventDraft]:
    """Drafts from a request body: a JSON array, or NDJSON (one object per line).

    Raises:
        BadRequest: not JSON, not an array, or an empty batch.
        InvalidEvent: an item is not a valid draft (``field`` is ``events[i].<field>``).
    """
    media = content_type.split(";", 1)[0].strip().lower()
    items: list[object] = []
    if media == NDJSON:
        for number, line in enumerate(body.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(parse_json(line))
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # nesting too deep
                raise BadRequest(
                    f"events[{len(items)}]: line {number} is not valid JSON ({exc})",
                    field=f"events[{len(items)}]",
                ) from None
    else:
        try:
            parsed = parse_json(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # nesting too deep
            raise BadRequest(f"body: not valid JSON ({exc})", field="body") from None
        if not isinstance(parsed, list):
            raise BadRequest(
                f"body: expected a JSON array of events (or NDJSON with Content-Type: {NDJSON})",
                field="body",
            )
        items = parsed
    if not items:
        raise BadRequest("events: the batch is empty", field="events")
    return _drafts(items)


def _in_batch_terms(error: LedgerError) -> LedgerError:
    """Name a one-event batch's item ``events[0]`` as for any batch (the service says ``event``)."""
    for old in ("event.", "event:"):
        if error.message.startswith(old):
            error.message = "events[0]" + error.message[len("event") :]
            error.args = (error.message,)
    if error.field == "event" or (error.field or "").startswith("event."):
        error.field = "events[0]" + (error.field or "")[len("event") :]
    return error


def _checked(state: ApiState, principal: Principal, drafts: list[EventDraft]) -> list[EventDraft]:
    """Check the role for every type, then the catalogue (blocking: CPU only, no store)."""
    check_append(principal.role, [d.type for d in drafts], state.catalogue)
    try:
        state.ledger.validate(drafts, principal.role)
    except LedgerError as error:
        raise _in_batch_terms(error) from None
    return drafts


def _parsed_and_checked(
    state: ApiState, principal: Principal, body: bytes, content_type: str
) -> list[EventDraft]:
    return _checked(state, principal, parse_batch(body, content_type))


async def _commit(
    state: ApiState, principal: Principal, drafts: list[EventDraft]
) -> list[Appended]:
    # Group commit (ledger.api.committer): acknowledged after the shared durable commit.
    # Counted and announced when the commit lands (``on_commit``), even if this
    # request is cancelled meanwhile (a client that hangs up): its events commit
    # all the same, and subscribers must not wait for the next append to see
    # them. Cancelling the waiter does not withdraw the request, so no shield.
    waiter = state.committer.submit_async(
        drafts, principal.name, on_commit=partial(_committed, state, drafts)
    )
    try:
        return await waiter
    except LedgerError as error:
        raise _in_batch_terms(error) from None


def _committed(state: ApiState, drafts: list[EventDraft], acks: list[Appended]) -> None:
    metrics = state.metrics
    if len(drafts) == 1:  # the common case: no Counter
        if acks[0].created:
            metrics.appended(drafts[0].type, 1)
            state.feed.notify()
        return
    # An id repeated in the batch is one event, acknowledged alike at each place: count it once.
    created: Counter[str] = Counter()
    seqs: set[int] = set()
    for d, a in zip(drafts, acks, strict=True):
        if a.created and a.seq not in seqs:
            seqs.add(a.seq)
            created[d.type] += 1
    if created:
        for event_type, count in created.items():
            metrics.appended(event_type, count)
        state.feed.notify()


async def append_body(
    state: ApiState, principal: Principal, body: bytes, content_type: str
) -> list[Appended]:
    """Parse a request body (``parse_batch``), check and append it all or nothing.

    A small body is handled on the event loop; a large one (a batch of
    thousands) is parsed and validated in the thread pool, so that the loop
    keeps serving while the committer appends the previous batch.

    Raises:
        BadRequest, InvalidEvent: the body or an item is not valid (nothing is appended).
        Forbidden: the role may not append one of the types (nothing is appended).
        LedgerError: whatever the service refuses (nothing is appended).
    """
    if len(body) <= INLINE_BODY_BYTES:
        drafts = _parsed_and_checked(state, principal, body, content_type)
    else:
        drafts = await run_in_threadpool(_parsed_and_checked, state, principal, body, content_type)
    return await _commit(state, principal, drafts)


async def append_drafts(
    state: ApiState, principal: Principal, drafts: list[EventDraft]
) -> list[Appended]:
    """Check the role for every type, append the batch all or nothing, and tell subscribers.

    Raises:
        Forbidden: the role may not append one of the types (nothing is appended).
        LedgerError: whatever the service refuses (nothing is appended).
    """
    if len(drafts) > 1:
        await run_in_threadpool(_checked, state, principal, drafts)
    else:
        _checked(state, principal, drafts)
    return await _commit(state, principal, drafts)
