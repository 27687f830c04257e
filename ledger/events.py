"""Drafts (what a client asks to append) and events (what the ledger sealed).

A draft is validated here for its envelope only: type name, subject reference,
time, id and the payload's canonical form and size. The payload's shape is the
catalogue's business (ledger.catalogue), applied by the service.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime

import orjson

from ledger.canonical import canonical_bytes, parse_json
from ledger.errors import CanonicalizationError, InvalidEvent, PayloadTooLarge
from ledger.refs import parse_ref

__all__ = [
    "DRAFT_FIELDS",
    "MAX_DATA_BYTES",
    "Event",
    "EventDraft",
    "draft_from_json",
    "format_time",
    "make_event",
    "normalize_time",
    "slot_setters",
]

MAX_DATA_BYTES = 64 * 1024
"""Largest canonical ``data`` payload accepted; documented in docs/errors.md."""

DRAFT_FIELDS = frozenset({"id", "type", "subject", "occurred_at", "data"})

_TYPE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# re.ASCII: RFC 3339 digits are ASCII; a str pattern's \d also matches other
# scripts' digits (U+0661, U+FF13), which the UTC path would store as is in the fraction.
_ZULU = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?[Zz]", re.ASCII)
_from_iso = datetime.fromisoformat
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def format_time(moment: datetime) -> str:
    """Render an aware datetime as the ledger's RFC 3339 UTC form (microseconds, ``Z``)."""
    d = moment.astimezone(UTC)
    # Spelled out rather than strftime: %Y does not zero-pad years before 1000 on glibc.
    return (
        f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}"
        f".{d.microsecond:06d}Z"
    )


def normalize_time(text: object, *, field: str = "occurred_at") -> str:
    """Parse an RFC 3339 timestamp with an offset and return it in the ledger's UTC form.

    Fractions finer than a microsecond are truncated, not rounded, so the stored
    instant never lies after the one the client gave.

    Raises:
        InvalidEvent: not an RFC 3339 date-time with a ``Z`` or numeric offset.
    """
    if type(text) is str and _ZULU.fullmatch(text):
        # Fast path for the common UTC form: no offset arithmetic, only a
        # validity check of the date and time (Feb 30 and 25:00 still fail).
        # _ZULU fixes the layout: date text[:10], separator, time text[11:19],
        # then "." and the fraction up to the final Z, or the Z at once.
        try:
            _from_iso(text[:19] if text[10] == "T" else f"{text[:10]}T{text[11:19]}")
        except ValueError as exc:
            raise InvalidEvent(
                f"{field}: {text!r} is not a valid date-time ({exc})", field=field
            ) from None
        if len(text) == 27 and text[26] == "Z" and text[10] == "T":
            return text  # already the ledger's form (six fraction digits, T, Z)
        return f"{text[:10]}T{text[11:19]}.{text[20:-1][:6].ljust(6, '0')}Z"
    if not isinstance(text, str) or not (m := _RFC3339.fullmatch(text)):
        raise InvalidEvent(
            f"{field}: expected an RFC 3339 date-time such as 2026-11-25T14:02:00Z, got {text!r}",
            field=field,
        )
    fraction = (m.group(7) or ".0")[1:7].ljust(6, "0")
    offset = m.group(8).upper()
    try:
        moment = datetime.fromisoformat(
            f"{m.group(1)}-{m.group(2)}-{m.group(3)}T{m.group(4)}:{m.group(5)}:{m.group(6)}"
            f".{fraction}{'+00:00' if offset == 'Z' else offset}"
        )
        # An offset can carry a valid local time out of datetime's range in UTC
        # (0001-01-01T00:00:00+14:00 is in year 0).
        return format_time(moment)
    except (ValueError, OverflowError) as exc:
        raise InvalidEvent(
            f"{field}: {text!r} is not a valid date-time ({exc})", field=field
        ) from None


def slot_setters(cls: type) -> tuple[Callable[[object, object], None], ...]:
    """Each field's slot setter of a frozen, slotted dataclass, in field order.

    A frozen dataclass's ``__init__`` sets every field through
    ``object.__setattr__(self, name, value)``; calling the slots' own setters
    (the descriptors' bound ``__set__``) on ``object.__new__(cls)`` builds the
    same object at about half the cost. The append path builds one draft, one
    event and one acknowledgement per event this way (``make_event`` and
    friends); tests/core/test_fast_paths.py checks they equal the dataclass
    constructor's. Only for classes without ``__post_init__`` or defaults to fill.
    """
    assert "__post_init__" not in cls.__dict__, "the setters skip __post_init__"
    return tuple(cls.__dict__[f.name].__set__ for f in fields(cls))


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An unsealed event: validated envelope plus canonical payload bytes.

    Build one with :meth:`create` (or :func:`draft_from_json`), which checks
    every field; the constructor itself trusts its arguments.
    """

    type: str
    subject: str
    data_bytes: bytes
    id: str | None = None
    occurred_at: str | None = None

    @classmethod
    def create(
        cls,
        type: str,
        subject: str,
        data: object,
        *,
        id: str | None = None,
        occurred_at: str | None = None,
    ) -> EventDraft:
        """Validate the envelope and canonicalize ``data``.

        Raises:
            InvalidEvent: a bad type name, subject, id or timestamp (``field`` says which).
            CanonicalizationError: ``data`` cannot be expressed in RFC 8785.
            PayloadTooLarge: the canonical payload is over ``MAX_DATA_BYTES``.
        """
        if not isinstance(type, str) or not _TYPE.fullmatch(type) or len(type) > 128:
            raise InvalidEvent(
                f"type: {type!r} is not a dotted event type such as model.version.registered",
                field="type",
            )
        parse_ref(subject, field="subject")
        if not isinstance(data, dict) and not isinstance(data, Mapping):  # dict first: cheaper
            raise InvalidEvent("data: expected a JSON object", field="data")
        try:
            data_bytes = canonical_bytes(data)
        except CanonicalizationError as exc:
            # Name the path from the event's point of view: $.metrics.auc -> data.metrics.auc
            path = "data" + (exc.field or "$")[1:]
            reason = exc.message.split(": ", 1)[-1]
            raise CanonicalizationError(f"{path}: {reason}", field=path) from None
        if len(data_bytes) > MAX_DATA_BYTES:
            raise PayloadTooLarge(
                f"data: {len(data_bytes)} bytes is over the {MAX_DATA_BYTES}-byte limit",
                field="data",
            )
        if id is not None and not (isinstance(id, str) and _CANONICAL_UUID.fullmatch(id)):
            # Only non-canonical spellings (upper case, braces, urn:) need parsing;
            # the canonical form is already what str(uuid.UUID(id)) would give.
            try:
                id = str(uuid.UUID(id)) if isinstance(id, str) else None
            except ValueError:
                id = None
            if id is None:
                raise InvalidEvent("id: expected a UUID string", field="id")
        if occurred_at is not None:
            occurred_at = normalize_time(occurred_at)
        if cls is EventDraft:
            return _make_draft(type, subject, data_bytes, id, occurred_at)
        return cls(type, subject, data_bytes, id, occurred_at)

    @property
    def data(self) -> object:
        """The payload, parsed back from its canonical bytes (a new object each call)."""
        return orjson.loads(self.data_bytes)


def draft_from_json(obj: object) -> EventDraft:
    """Build a draft from a client's JSON object (a JSONL line or an HTTP item).

    Only ``id``, ``type``, ``subject``, ``occurred_at`` and ``data`` may be given:
    ``seq``, ``hash``, ``actor`` and ``recorded_at`` are the ledger's to set, and a
    client that sends them is told so rather than silently ignored.

    Raises:
        InvalidEvent: a missing, unknown or malformed field (``field`` names it).
    """
    # type() first: a parsed JSON object is a dict, and the ABC check costs more.
    if type(obj) is not dict and not isinstance(obj, Mapping):
        raise InvalidEvent("expected a JSON object with type, subject and data")
    if not DRAFT_FIELDS.issuperset(obj):
        unknown = sorted(set(obj) - DRAFT_FIELDS)
        name = unknown[0]
        why = (
            "is set by the ledger, not the client"
            if name in {"seq", "hash", "prev_hash", "actor", "recorded_at"}
            else "is not an event field"
        )
        raise InvalidEvent(f"{name}: {why}", field=name)
    for required in ("type", "subject", "data"):
        if required not in obj:
            raise InvalidEvent(f"{required}: missing", field=required)
    return EventDraft.create(
        obj["type"],
        obj["subject"],
        obj["data"],
        id=obj.get("id"),
        occurred_at=obj.get("occurred_at"),
    )


@dataclass(frozen=True, slots=True)
class Event:
    """A sealed event: the canonical ``body`` plus the columns the store indexes.

    ``body`` is the RFC 8785 encoding of the event without ``hash``;
    ``hash`` is the lowercase hex SHA-256 of ``body``.
    """

    seq: int
    id: str
    type: str
    subject: str
    actor: str
    occurred_at: str
    recorded_at: str
    prev_hash: str
    hash: str
    body: bytes

    @property
    def data(self) -> object:
        """The payload, parsed from the hashed body."""
        parsed = parse_json(self.body, numbers_as_doubles=True)
        assert isinstance(parsed, dict)
        return parsed["data"]

    def to_json(self) -> dict[str, object]:
        """The event as DESIGN.md's JSON object, ``hash`` included."""
        parsed = parse_json(self.body, numbers_as_doubles=True)
        assert isinstance(parsed, dict)
        parsed["hash"] = self.hash
        return parsed


_new = object.__new__
_d_type, _d_subject, _d_data_bytes, _d_id, _d_occurred_at = slot_setters(EventDraft)


def _make_draft(
    type: str, subject: str, data_bytes: bytes, id: str | None, occurred_at: str | None
) -> EventDraft:
    """``EventDraft(...)`` at half the cost (see slot_setters)."""
    draft: EventDraft = _new(EventDraft)
    _d_type(draft, type)
    _d_subject(draft, subject)
    _d_data_bytes(draft, data_bytes)
    _d_id(draft, id)
    _d_occurred_at(draft, occurred_at)
    return draft


(
    _e_seq,
    _e_id,
    _e_type,
    _e_subject,
    _e_actor,
    _e_occurred_at,
    _e_recorded_at,
    _e_prev_hash,
    _e_hash,
    _e_body,
) = slot_setters(Event)


def make_event(
    seq: int,
    id: str,
    type: str,
    subject: str,
    actor: str,
    occurred_at: str,
    recorded_at: str,
    prev_hash: str,
    hash: str,
    body: bytes,
) -> Event:
    """``Event(...)`` at half the cost (see slot_setters): the append path seals one per event."""
    event: Event = _new(Event)
    _e_seq(event, seq)
    _e_id(event, id)
    _e_type(event, type)
    _e_subject(event, subject)
    _e_actor(event, actor)
    _e_occurred_at(event, occurred_at)
    _e_recorded_at(event, recorded_at)
    _e_prev_hash(event, prev_hash)
    _e_hash(event, hash)
    _e_body(event, body)
    return event
