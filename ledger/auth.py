"""API tokens and roles: what a credential is, and what each role may do.

Pure rules, no I/O beyond the OS random source for new secrets: the CLI stores
tokens through the store, the HTTP adapter checks them through these functions.

A token is ``rl_`` followed by 43 URL-safe characters (256 random bits). Only
its SHA-256 is stored, so a copy of the database does not hand out working
credentials; the token itself is shown once, when it is made.

Roles (DESIGN.md, "Auth"):

* ``pipeline`` appends facts: models, versions, datasets, tests, lineage, alerts;
* ``approver`` appends approvals and deployment decisions;
* ``operator`` appends rollout stages, rollbacks, incidents and reviews;
* ``auditor`` reads and verifies, appends nothing;
* ``admin`` does everything, including managing tokens.

Which role may append which event type comes from the catalogue
(``x-ledger.roles``) when one is given; :data:`FALLBACK_PREFIXES` is the rule
for types the catalogue does not know about (and for callers without one).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Protocol

from ledger.errors import BadRequest, Forbidden

__all__ = [
    "FALLBACK_PREFIXES",
    "ROLES",
    "SCOPES",
    "TOKEN_PREFIX",
    "RoleCatalogue",
    "Scope",
    "check_append",
    "check_role",
    "check_token_name",
    "hash_token",
    "looks_like_token",
    "may_append",
    "new_token",
    "scopes_for",
    "token_matches",
]

TOKEN_PREFIX = "rl_"  # noqa: S105 - a public marker, not a secret
"""Every token starts with this, so secret scanners and humans can recognise one."""

ROLES = ("pipeline", "approver", "operator", "auditor", "admin")
"""Every role, in DESIGN.md's order."""


class Scope:
    """What a request needs (stable strings, used as starlette auth scopes)."""

    READ = "read"
    """Query events, proofs, checkpoints and projections."""
    APPEND = "append"
    """Append events (which types is decided per type by :func:`may_append`)."""
    VERIFY = "verify"
    """Re-verify the whole chain: expensive, so not for every token."""
    ADMIN = "admin"
    """Manage tokens and anything else."""


SCOPES: Mapping[str, frozenset[str]] = {
    "pipeline": frozenset({Scope.READ, Scope.APPEND}),
    "approver": frozenset({Scope.READ, Scope.APPEND}),
    "operator": frozenset({Scope.READ, Scope.APPEND}),
    "auditor": frozenset({Scope.READ, Scope.VERIFY}),
    "admin": frozenset({Scope.READ, Scope.APPEND, Scope.VERIFY, Scope.ADMIN}),
}

FALLBACK_PREFIXES: Mapping[str, tuple[str, ...]] = {
    "pipeline": ("model.", "dataset.", "lineage.", "test.", "alert.", "retraining."),
    "approver": ("approval.", "deployment."),
    "operator": ("rollout.", "rollback.", "incident.", "review."),
    "auditor": (),
}
"""Type prefixes per role for types the catalogue does not list; admin may append any."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@/-]{0,63}")
_TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}")


class RoleCatalogue(Protocol):
    """The part of :class:`ledger.catalogue.Catalogue` the role rules need."""

    def __contains__(self, name: object) -> bool: ...

    def allowed_roles(self, name: str) -> frozenset[str]: ...


def new_token() -> str:
    """A fresh secret token: ``rl_`` + 256 random bits, URL-safe base64."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The stored form of a token: lowercase hex SHA-256 of its UTF-8 bytes.

    A plain hash (no salt, no slow KDF) is enough because tokens carry 256
    random bits; it also lets the store look a token up by an index.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    """Whether ``token`` hashes to ``token_hash``, compared in constant time."""
    return hmac.compare_digest(hash_token(token), token_hash)


def looks_like_token(text: str) -> bool:
    """Whether ``text`` has the shape of a token (cheap check before any store read)."""
    return _TOKEN.fullmatch(text) is not None


def check_role(role: str) -> str:
    """Return ``role`` if it is one of :data:`ROLES`.

    Raises:
        BadRequest: an unknown role (``field="role"``), naming the valid ones.
    """
    if role not in SCOPES:
        raise BadRequest(
            f"role: {role!r} is not a role; use one of {', '.join(ROLES)}", field="role"
        )
    return role


def check_token_name(name: str) -> str:
    """Return ``name`` if it can be a token name, which becomes the recorded ``actor``.

    Names have no ``:`` so they can never pass for a CLI actor (``local:alice``).

    Raises:
        BadRequest: the name is empty, too long or has other characters (``field="name"``).
    """
    if not _NAME.fullmatch(name):
        raise BadRequest(
            f"name: {name!r} must be 1-64 letters, digits, '.', '_', '@', '/' or '-', "
            "starting with a letter or digit",
            field="name",
        )
    return name


def scopes_for(role: str) -> frozenset[str]:
    """The scopes a role grants; none for an unknown role (a token from a newer version)."""
    return SCOPES.get(role, frozenset())


def may_append(role: str, event_type: str, catalogue: RoleCatalogue | None = None) -> bool:
    """Whether a token of ``role`` may append events of ``event_type``.

    The catalogue's ``x-ledger.roles`` decides for the types it lists (an empty
    list means only the ledger itself writes the type, e.g. ``policy.denied``,
    so not even admin may). Other types fall back to :data:`FALLBACK_PREFIXES`.
    """
    if catalogue is not None and event_type in catalogue:
        return role in catalogue.allowed_roles(event_type)
    if role == "admin":
        return True
    return event_type.startswith(FALLBACK_PREFIXES.get(role, ()))


def check_append(role: str, event_types: list[str], catalogue: RoleCatalogue | None = None) -> None:
    """Check every type of a batch, so a refused batch names its first refused event.

    Raises:
        Forbidden: the role may not append one of the types; ``field`` is
            ``events[i].type`` for the first one.
    """
    for index, event_type in enumerate(event_types):
        if not may_append(role, event_type, catalogue):
            raise Forbidden(
                f"events[{index}].type: a {role} token may not append {event_type} events",
                field=f"events[{index}].type",
            )
