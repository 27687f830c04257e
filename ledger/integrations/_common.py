"""What every adapter shares: deterministic ids, entity-reference parts, times and bodies.

Pure: no clock, no files, no network. Decompressing a request body is CPU
work on bytes the caller already holds.
"""

from __future__ import annotations

import hashlib
import re
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from ledger.canonical import canonical_bytes, parse_json
from ledger.errors import BadRequest, PayloadTooLarge
from ledger.events import EventDraft, normalize_time
from ledger.refs import MAX_REF_LENGTH, parse_ref

__all__ = [
    "MAX_DECODED_BYTES",
    "NAMESPACE",
    "Translation",
    "as_object",
    "check_ref",
    "content_draft",
    "decode_json_body",
    "digest",
    "optional_text",
    "ref_part",
    "safe_ref",
    "stable_id",
    "text",
    "to_time",
]

NAMESPACE = uuid.UUID("6f1c2b7e-3d5a-5c1e-9b8f-0a4d2e6c8b31")
"""The uuid5 namespace of every id an adapter derives (fixed forever: ids must not move)."""

MAX_DECODED_BYTES = 32 * 1024 * 1024
"""Largest body accepted after decompression, so a small gzip bomb cannot exhaust memory."""

_ESCAPE = re.compile(r"[%@#\s\x00-\x1f\x7f]")
_NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?", re.ASCII)


@dataclass(frozen=True, slots=True)
class Translation:
    """What one foreign payload becomes.

    Attributes:
        drafts: the events to append, all or nothing, in order.
        notes: what was left out and why, for the response body.
    """

    drafts: list[EventDraft]
    notes: list[str] = field(default_factory=list)


def stable_id(*parts: str) -> str:
    """A UUIDv5 of ``parts``: the same producer identity always gives the same event id."""
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))


def digest(value: object) -> str:
    """Lowercase hex SHA-256 of the RFC 8785 form of ``value``."""
    return hashlib.sha256(canonical_bytes(value)).hexdigest()


def content_draft(
    type: str,
    subject: str,
    data: Mapping[str, object],
    *,
    salt: str,
    occurred_at: str | None = None,
) -> EventDraft:
    """A draft whose id is derived from its content (and ``salt``, usually the actor).

    Identical derived facts (the same edge seen in a START and a COMPLETE event)
    then share one id and are appended once; different facts never collide.
    ``occurred_at`` is part of the content (a retry must match it), so facts
    that recur across events leave it out and take the ledger's time.

    Raises:
        InvalidEvent: the draft's envelope is malformed.
    """
    fingerprint = digest(
        {"type": type, "subject": subject, "data": data, "occurred_at": occurred_at or ""}
    )
    return EventDraft.create(
        type,
        subject,
        data,
        id=stable_id("content", salt, fingerprint),
        occurred_at=occurred_at,
    )


def ref_part(value: str) -> str:
    """``value`` made safe inside an entity reference name.

    ``%``, ``@`` (the version separator), ``#`` (the column separator),
    whitespace and control characters are percent-encoded, so the result is
    one token that parses back to the same name.
    """
    return _ESCAPE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), value)


def safe_ref(base: str, suffix: str = "") -> str:
    """``base + suffix`` within the ledger's length limit.

    A reference that would be too long keeps its first characters and gets
    ``~`` plus 16 hex digits of its SHA-256, so it stays unique; ``suffix``
    (a ``@version``) is never cut.
    """
    if len(base) + len(suffix) <= MAX_REF_LENGTH:
        return base + suffix
    tail = "~" + hashlib.sha256(base.encode()).hexdigest()[:16]
    return base[: MAX_REF_LENGTH - len(tail) - len(suffix)] + tail + suffix


def text(value: object, field: str) -> str:
    """``value`` if it is a non-empty string.

    Raises:
        BadRequest: missing or not a string (``field`` names it).
    """
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{field}: expected a non-empty string, got {value!r}", field=field)
    return value


def optional_text(value: object, field: str) -> str | None:
    """``value`` if it is a non-empty string, None if absent.

    Raises:
        BadRequest: present but not a non-empty string.
    """
    return None if value is None else text(value, field)


def to_time(value: object, field: str) -> str:
    """An RFC 3339 time in the ledger's UTC form; a time without an offset is read as UTC.

    Producers (some OpenLineage clients among them) send naive ISO times;
    refusing them would drop their lineage, so they are taken as UTC.

    Raises:
        InvalidEvent: not a date-time.
    """
    if isinstance(value, str) and _NAIVE.fullmatch(value):
        value = value[:10] + "T" + value[11:] + "Z"
    return normalize_time(value, field=field)


def decode_json_body(body: bytes, content_encoding: str | None) -> object:
    """Parse a request body that may be gzip- or deflate-compressed.

    Numbers beyond the JSON-safe integer range are read as doubles, as RFC
    8785 does, so any valid JSON document can be recorded.

    Raises:
        BadRequest: an unsupported encoding, a corrupt stream, or not JSON.
        PayloadTooLarge: over :data:`MAX_DECODED_BYTES` once decompressed.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
        inflater = zlib.decompressobj(wbits)
        try:
            body = inflater.decompress(body, MAX_DECODED_BYTES + 1)
        except zlib.error as exc:
            raise BadRequest(
                f"body: not a valid {encoding} stream ({exc})", field="Content-Encoding"
            ) from None
        if len(body) > MAX_DECODED_BYTES or inflater.unconsumed_tail:
            raise PayloadTooLarge(
                f"body: over {MAX_DECODED_BYTES} bytes once decompressed", field="body"
            )
    elif encoding != "identity":
        raise BadRequest(
            f"Content-Encoding: {encoding!r} is not supported (use gzip or none)",
            field="Content-Encoding",
        )
    try:
        return parse_json(body, numbers_as_doubles=True)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body: not valid JSON ({exc})", field="body") from None


def as_object(value: object, field: str) -> dict[str, object]:
    """``value`` if it is a JSON object.

    Raises:
        BadRequest: it is not.
    """
    if not isinstance(value, dict):
        raise BadRequest(f"{field}: expected a JSON object", field=field)
    return value


def check_ref(ref: str, field: str) -> str:
    """``ref`` if the ledger accepts it as an entity reference.

    Raises:
        InvalidEvent: it is malformed (``field`` names where it came from).
    """
    parse_ref(ref, field=field)
    return ref
