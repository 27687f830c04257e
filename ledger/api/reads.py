"""Read helpers REST and GraphQL share: event filters, pages by seq, the current checkpoint.

All functions here block (they read the store); callers run them in a threadpool.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ledger.checkpoint import parse_checkpoint_body
from ledger.errors import BadRequest, NotFound
from ledger.events import Event
from ledger.service import Ledger
from ledger.store.protocol import EventStore

__all__ = [
    "SCAN_LIMIT",
    "CurrentCheckpoint",
    "EventFilter",
    "EventRow",
    "Page",
    "current_checkpoint",
    "decode_cursor",
    "encode_cursor",
    "page_events",
    "signed_checkpoint",
]

SCAN_LIMIT = 10_000
"""Most events one filtered page looks at; a sparse filter returns a short page and a cursor."""

_CURSOR_PREFIX = "seq:"


def encode_cursor(seq: int) -> str:
    """The opaque cursor of a position in the log (after event ``seq``)."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{seq}".encode()).decode()


def decode_cursor(cursor: str, field: str = "after") -> int:
    """The seq a cursor stands for.

    Raises:
        BadRequest: not a cursor this server made.
    """
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
        if text.startswith(_CURSOR_PREFIX) and (digits := text[len(_CURSOR_PREFIX) :]).isdigit():
            return int(digits)
    except (ValueError, UnicodeError):
        pass
    raise BadRequest(f"{field}: {cursor!r} is not a cursor from this ledger", field=field)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events a query or subscription wants.

    ``types`` match exactly, or by prefix when written ``rollout.*``.
    ``subjects`` match exactly; a reference without ``@version`` also matches
    every version of that entity (``model:fraud-detector`` matches
    ``model:fraud-detector@1.4.0``). An empty or missing list matches all.
    """

    types: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()

    @classmethod
    def of(cls, types: Sequence[str] | None, subjects: Sequence[str] | None) -> EventFilter:
        return cls(tuple(types or ()), tuple(subjects or ()))

    @property
    def is_empty(self) -> bool:
        return not self.types and not self.subjects

    def accept(self, event: Event) -> bool:
        return self.accepts(event.type, event.subject)

    def accepts(self, event_type: str, subject: str) -> bool:
        """Whether an event of this type and subject matches."""
        if self.types and not any(_type_matches(p, event_type) for p in self.types):
            return False
        return not self.subjects or any(_subject_matches(p, subject) for p in self.subjects)


def _type_matches(pattern: str, event_type: str) -> bool:
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def _subject_matches(pattern: str, subject: str) -> bool:
    if pattern == subject:
        return True
    return "@" not in pattern and subject.startswith(pattern + "@")


EventRow = tuple[int, str, str, str, str, str, str, str, str, bytes]
"""An event as a tuple of its fields in ``Event`` order (seq, id, type, subject, actor,
occurred_at, recorded_at, prev_hash, hash, body)."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of events after a seq.

    Attributes:
        rows: the matching events as ``EventRow`` tuples, in seq order (a
            page builds no ``Event`` objects: a store's ``read_rows`` when it
            has one, otherwise its events' fields).
        has_next: more events may match after ``end_seq``.
        end_seq: the last seq this page looked at (the next page starts after it).
    """

    rows: list[EventRow]
    has_next: bool
    end_seq: int


def _rows(store: EventStore, start: int, end: int) -> Iterator[EventRow]:
    read_rows = getattr(store, "read_rows", None)
    if read_rows is not None:
        yield from read_rows(start, end)
        return
    for e in store.read(start, end):
        yield (
            e.seq, e.id, e.type, e.subject, e.actor,
            e.occurred_at, e.recorded_at, e.prev_hash, e.hash, e.body,
        )  # fmt: skip


def page_events(
    store: EventStore, after: int, first: int, where: EventFilter, scan_limit: int = SCAN_LIMIT
) -> Page:
    """Up to ``first`` events after seq ``after`` that ``where`` accepts.

    An unfiltered page is one range read. A filtered one scans forward and
    stops after ``scan_limit`` events, so a rare filter costs a bounded read
    per page rather than a scan of the whole log; the page may then be short
    (even empty) with ``has_next`` true.
    """
    head = store.head().seq
    if where.is_empty:
        end = min(head, after + first)
        rows = list(_rows(store, after + 1, end)) if end > after else []
        return Page(rows, end < head, end if rows else after)
    matched: list[EventRow] = []
    last = after
    for row in _rows(store, after + 1, min(head, after + scan_limit)):
        last = row[0]
        if where.accepts(row[2], row[3]):
            matched.append(row)
            if len(matched) == first:
                break
    return Page(matched, last < head, last)


@dataclass(frozen=True, slots=True)
class CurrentCheckpoint:
    """The tree head of the ledger now, and its signed note when the server can sign."""

    origin: str
    tree_size: int
    root_hash: bytes
    note: str | None


def current_checkpoint(ledger: Ledger, *, sign: bool = True) -> CurrentCheckpoint:
    """The latest stored checkpoint if it covers the head, else a freshly signed one.

    Without a signing key (or with ``sign=False``) the tree head comes back
    unsigned, ``note`` None.
    """
    latest = ledger.store.latest_checkpoint()
    head = ledger.store.head()
    if latest is not None and latest.size == head.seq:
        return CurrentCheckpoint(ledger.origin, latest.size, latest.root_hash, latest.note)
    if ledger.signer is None or not sign:
        return CurrentCheckpoint(ledger.origin, head.seq, ledger.root(head.seq), None)
    note = ledger.checkpoint()
    signed = parse_checkpoint_body(note.partition("\n\n")[0] + "\n")
    return CurrentCheckpoint(signed.origin, signed.size, signed.root_hash, note)


def signed_checkpoint(ledger: Ledger) -> str:
    """The signed note of the current tree (stored, or signed now).

    Raises:
        NotFound: there is no checkpoint of the head and no signing key to make one.
    """
    note = current_checkpoint(ledger).note
    if note is None:
        raise NotFound(
            "this server has no signing key, so it cannot sign the current tree",
            suggestion="start the server with --key-dir (or LEDGER_KEY_DIR) pointing at the key",
        )
    return note
