"""Outgoing webhooks, the pure part: subscribers, matching, signing and backoff.

Subscribers live as one JSON list in the store's ``meta`` table under
``webhooks``; each subscriber's last delivered seq lives under
``webhook_cursor:<name>``. The delivery worker (``ledger.api.webhooks``) does
the network; nothing here does any I/O beyond the store's ``meta`` table
(adding and removing run as one store transaction each).

A receiver verifies a delivery by recomputing
``hmac_sha256(secret, timestamp + "." + body)`` and comparing it with the
``X-Ledger-Signature`` header (``sha256=<hex>``); the body is the canonical
event line with its hash (``ledger.chain.export_line``), so the event itself
can be checked against the chain too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

from ledger.errors import BadRequest, Conflict, NotFound
from ledger.store.protocol import EventStore

__all__ = [
    "CURSOR_PREFIX",
    "META_KEY",
    "SEQ_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Subscriber",
    "add_subscriber",
    "backoff",
    "check_subscriber",
    "get_cursor",
    "load_subscribers",
    "matches",
    "remove_subscriber",
    "set_cursor",
    "sign",
    "verify_signature",
]

META_KEY = "webhooks"
CURSOR_PREFIX = "webhook_cursor:"
SIGNATURE_HEADER = "X-Ledger-Signature"
TIMESTAMP_HEADER = "X-Ledger-Timestamp"
SEQ_HEADER = "X-Ledger-Event-Seq"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TYPE = re.compile(r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$")


class MetaStore(Protocol):
    """The two store calls webhooks need."""

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Subscriber:
    """One webhook subscriber.

    Attributes:
        name: unique name (also the cursor's key).
        url: where events are POSTed (http or https).
        types: event types, exact (``rollout.started``) or prefix
            (``rollout.*``); ``*`` matches every type.
        secret: the HMAC-SHA256 key of the signature.
    """

    name: str
    url: str
    types: tuple[str, ...]
    secret: str

    def wants(self, event_type: str) -> bool:
        """Whether an event of ``event_type`` goes to this subscriber."""
        return matches(self.types, event_type)

    def public(self) -> dict[str, object]:
        """The subscriber without its secret (for listings)."""
        return {"name": self.name, "url": self.url, "types": list(self.types)}


def check_subscriber(name: str, url: str, types: Sequence[str], secret: str) -> Subscriber:
    """A validated subscriber.

    Raises:
        BadRequest: a field is malformed.
    """
    if not _NAME.match(name):
        raise BadRequest("name: 1-64 letters, digits, '.', '_' or '-'", field="name")
    if not url.startswith(("http://", "https://")):
        raise BadRequest("url: must be an http:// or https:// URL", field="url")
    cleaned = tuple(t.strip() for t in types if t.strip())
    if not cleaned or not all(_TYPE.match(t) for t in cleaned):
        raise BadRequest(
            "types: one or more event types, exact or prefix like 'rollout.*'", field="types"
        )
    if not secret:
        raise BadRequest("secret: must not be empty", field="secret")
    return Subscriber(name, url, cleaned, secret)


def matches(patterns: Sequence[str], event_type: str) -> bool:
    """Whether ``event_type`` matches any pattern (exact, ``prefix.*`` or ``*``)."""
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Ledger-Signature`` value: ``sha256=<hex HMAC of timestamp + "." + body>``."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is the one :func:`sign` gives (constant-time)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def backoff(attempt: int, base: float = 1.0, cap: float = 60.0) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): base * 2^(n-1), capped."""
    return float(min(cap, base * 2 ** max(0, min(attempt - 1, 32))))


def load_subscribers(store: MetaStore) -> list[Subscriber]:
    """The subscribers stored under ``meta['webhooks']`` (empty if none)."""
    raw = store.get_meta(META_KEY)
    if not raw:
        return []
    items = json.loads(raw)
    return [
        Subscriber(item["name"], item["url"], tuple(item["types"]), item["secret"])
        for item in items
    ]


def _save(store: MetaStore, subscribers: Sequence[Subscriber]) -> None:
    store.set_meta(META_KEY, json.dumps([asdict(s) for s in subscribers]))


def add_subscriber(store: EventStore, subscriber: Subscriber) -> None:
    """Store a new subscriber (read-modify-write inside one store transaction).

    Raises:
        Conflict: a subscriber of that name exists.
    """
    with store.transaction() as tx:
        current = load_subscribers(tx)
        if any(s.name == subscriber.name for s in current):
            raise Conflict(f"name: a webhook named {subscriber.name!r} exists", field="name")
        _save(tx, [*current, subscriber])


def remove_subscriber(store: EventStore, name: str) -> None:
    """Remove subscriber ``name`` (its cursor stays, so re-adding resumes).

    Raises:
        NotFound: no subscriber of that name.
    """
    with store.transaction() as tx:
        current = load_subscribers(tx)
        if not any(s.name == name for s in current):
            raise NotFound(f"name: no webhook named {name!r}", field="name")
        _save(tx, [s for s in current if s.name != name])


def get_cursor(store: MetaStore, name: str) -> int:
    """The last seq delivered to ``name`` (0: nothing yet)."""
    raw = store.get_meta(CURSOR_PREFIX + name)
    return int(raw) if raw else 0


def set_cursor(store: MetaStore, name: str, seq: int) -> None:
    """Record that every matching event up to ``seq`` reached ``name``."""
    store.set_meta(CURSOR_PREFIX + name, str(seq))
