"""Drafts (what a client asks to append) and events (what the ledger sealed).

A draft is validated here for its envelope only: type name, subject reference,
time, id and the payload's canonical form and size. The payload's shape is the
catalogue's business (ledger.catalogue), applied by the service.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
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
    "normalize_time",
]

MAX_DATA_BYTES = 64 * 1024
"""Largest canonical ``data`` payload accepted; documented in docs/errors.md."""

DRAFT_FIELDS = frozenset({"id", "type", "subject", "occurred_at", "data"})

_TYPE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ZULU = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?[Zz]")
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
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
    if isinstance(text, str) and (z := _ZULU.fullmatch(text)):
        # Fast path for the common UTC form: no offset arithmetic, only a
        # validity check of the date and time (Feb 30 and 25:00 still fail).
        try:
            datetime.fromisoformat(f"{z.group(1)}T{z.group(2)}")
        except ValueError as exc:
            raise InvalidEvent(
                f"{field}: {text!r} is not a valid date-time ({exc})", field=field
            ) from None
        return f"{z.group(1)}T{z.group(2)}.{(z.group(3) or '')[:6].ljust(6, '0')}Z"
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
    except ValueError as exc:
        raise InvalidEvent(
            f"{field}: {text!r} is not a valid date-time ({exc})", field=field
        ) from None
    return format_time(moment)


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
