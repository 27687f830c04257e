"""Sealing drafts into hash-chained events, and checking a chain of them.

``hash`` = SHA-256 of the RFC 8785 bytes of the event without ``hash``;
``prev_hash`` = the hash of event ``seq - 1``, 64 zeros for seq 1.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from ledger.canonical import canonical_bytes, is_canonical, parse_json
from ledger.errors import CanonicalizationError
from ledger.events import Event, EventDraft, make_event

__all__ = [
    "BODY_FIELDS",
    "GENESIS_HASH",
    "BreakKind",
    "ChainReport",
    "ChainVerifier",
    "export_line",
    "seal",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
BODY_FIELDS = (
    "actor",
    "data",
    "id",
    "occurred_at",
    "prev_hash",
    "recorded_at",
    "seq",
    "subject",
    "type",
)
_SORTED_KEYS = frozenset(BODY_FIELDS)


class BreakKind:
    """The kinds of break :class:`ChainVerifier` names (stable strings)."""

    ALTERED_CONTENT = "altered_content"
    BROKEN_LINK = "broken_link"
    MISSING_SEQ = "missing_seq"
    REORDERED = "reordered"
    NON_CANONICAL = "non_canonical"
    TRUNCATED = "truncated"
    MERKLE_MISMATCH = "merkle_mismatch"
    BAD_CHECKPOINT = "bad_checkpoint"


def _js(text: str) -> bytes:
    return orjson.dumps(text)


def _tail(
    id: str, occurred_at: str, prev_hash: str, recorded_at: str, seq: int, subject: str, type: str
) -> bytes:
    """The canonical bytes after ``data``: keys sort as id < occurred_at < ... < type."""
    return b"".join(
        (
            b',"id":',
            _js(id),
            b',"occurred_at":',
            _js(occurred_at),
            b',"prev_hash":',
            _js(prev_hash),
            b',"recorded_at":',
            _js(recorded_at),
            b',"seq":',
            str(seq).encode(),
            b',"subject":',
            _js(subject),
            b',"type":',
            _js(type),
            b"}",
        )
    )


def seal(
    draft: EventDraft, *, seq: int, prev_hash: str, actor: str, recorded_at: str, id: str
) -> Event:
    """Turn a draft into the event at ``seq`` that links to ``prev_hash``.

    The body is assembled from already-canonical pieces in RFC 8785 key order
    rather than re-encoding the payload; tests/core/test_chain.py checks it is
    byte-identical to canonicalizing the whole object. ``id`` is the draft's id
    or one the caller generated (the core draws no randomness).
    """
    occurred_at = draft.occurred_at or recorded_at
    # One orjson call over the envelope in RFC 8785 key order (the keys are
    # ASCII, so code-point order is JCS's UTF-16 order), the payload spliced
    # in as its canonical bytes: the same bytes _js would give field by field.
    body = orjson.dumps(
        {
            "actor": actor,
            "data": orjson.Fragment(draft.data_bytes),
            "id": id,
            "occurred_at": occurred_at,
            "prev_hash": prev_hash,
            "recorded_at": recorded_at,
            "seq": seq,
            "subject": draft.subject,
            "type": draft.type,
        }
    )
    return make_event(
        seq,
        id,
        draft.type,
        draft.subject,
        actor,
        occurred_at,
        recorded_at,
        prev_hash,
        hashlib.sha256(body).hexdigest(),
        body,
    )


def export_line(event: Event) -> bytes:
    """The event with its ``hash``, as one canonical JSON line (no newline).

    ``hash`` sorts between ``data`` and ``id``, so it is spliced in before the
    tail; if the body does not end with the tail its columns predict, the row
    is inconsistent (verify will say so) and the line is re-encoded instead.
    """
    tail = _tail(
        event.id,
        event.occurred_at,
        event.prev_hash,
        event.recorded_at,
        event.seq,
        event.subject,
        event.type,
    )
    if event.body.endswith(tail):
        head = event.body[: -len(tail)]
        return b"".join((head, b',"hash":"', event.hash.encode(), b'"', tail))
    whole = parse_json(event.body, numbers_as_doubles=True)
    assert isinstance(whole, dict)
    whole["hash"] = event.hash
    return canonical_bytes(whole)


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What verification found: ``ok``, how many events it checked, and the first break."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    kind: str | None = None
    reason: str | None = None
    head_hash: str = GENESIS_HASH


class ChainVerifier:
    """Streaming chain check in constant memory: feed events in stored order.

    Each event is checked for: the next seq with no gap; its hash re-computed
    from the stored body; the body being canonical RFC 8785 with exactly the
    envelope's fields; the body agreeing with the indexed columns; and the
    link to the previous hash. The first break stops the check.
    """

    def __init__(self, start_seq: int = 1, prev_hash: str = GENESIS_HASH) -> None:
        self.expected_seq = start_seq
        self.prev_hash = prev_hash
        self.checked = 0
        self.broken: ChainReport | None = None

    def feed(self, event: Event) -> bool:
        """Check one event; returns False (and records the break) when it is bad."""
        if self.broken is not None:
            return False
        fault = self._fault(event)
        if fault is not None:
            seq, kind, reason = fault
            self.broken = ChainReport(False, self.checked, seq, kind, reason, self.prev_hash)
            return False
        self.checked += 1
        self.expected_seq = event.seq + 1
        self.prev_hash = event.hash
        return True

    def report(self) -> ChainReport:
        """The verdict so far."""
        if self.broken is not None:
            return self.broken
        return ChainReport(True, self.checked, head_hash=self.prev_hash)

    def _fault(self, event: Event) -> tuple[int, str, str] | None:
        expected = self.expected_seq
        if event.seq > expected:
            return (
                expected,
                BreakKind.MISSING_SEQ,
                f"seq {expected} is missing (next is {event.seq})",
            )
        if event.seq < expected:
            return event.seq, BreakKind.REORDERED, f"seq {event.seq} appears after {expected - 1}"
        body = event.body
        if type(body) is not bytes:  # e.g. the bytes rewritten as an SQLite TEXT value
            return (
                expected,
                BreakKind.ALTERED_CONTENT,
                f"the stored body is {type(body).__name__}, not bytes",
            )
        if hashlib.sha256(body).hexdigest() != event.hash:
            return expected, BreakKind.ALTERED_CONTENT, "stored bytes do not match the stored hash"
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            return expected, BreakKind.NON_CANONICAL, "stored bytes are not JSON"
        if type(parsed) is not dict or parsed.keys() != _SORTED_KEYS:
            return expected, BreakKind.NON_CANONICAL, "stored bytes do not hold the event fields"
        try:
            canonical = canonical_bytes(parsed) == body
        except CanonicalizationError:
            canonical = False
        # The slow, exact reading settles the rare doubles >= 2**53 (see is_canonical).
        if not canonical and not is_canonical(body):
            return expected, BreakKind.NON_CANONICAL, "stored bytes are not RFC 8785 canonical"
        if type(parsed["seq"]) is not int:  # true == 1 and 2.0 == 2 in Python
            return (
                expected,
                BreakKind.ALTERED_CONTENT,
                "the hashed body's seq is not an integer",
            )
        if parsed["seq"] != event.seq:
            return (
                expected,
                BreakKind.REORDERED,
                f"the event stored at seq {event.seq} is event {parsed['seq']}",
            )
        if parsed["prev_hash"] != self.prev_hash:
            return (
                expected,
                BreakKind.BROKEN_LINK,
                f"prev_hash does not match the hash of seq {expected - 1}",
            )
        for name in ("id", "type", "subject", "actor", "occurred_at", "recorded_at", "prev_hash"):
            if parsed[name] != getattr(event, name):
                return (
                    expected,
                    BreakKind.ALTERED_CONTENT,
                    f"column {name} disagrees with the hashed body",
                )
        return None


def verify_chain(events: Iterable[Event]) -> ChainReport:
    """Check a whole chain from seq 1 (see :class:`ChainVerifier`)."""
    verifier = ChainVerifier()
    for event in events:
        if not verifier.feed(event):
            break
    return verifier.report()
