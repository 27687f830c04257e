"""Bearer tokens on every request: who is calling, and may they do this.

``TokenBackend`` (a starlette ``AuthenticationBackend``) turns
``Authorization: Bearer rl_…`` into a :class:`Principal`; a missing header
leaves the request anonymous, a wrong, unknown or revoked token is refused
with 401 before any route runs. The token is looked up in the store on every
request (no cache), so a revocation takes effect at once, in every worker.
Over SQLite the lookup runs inline on the event loop, on the loop thread's own
read connection (``SQLiteStore.reader``): one indexed read, a few
microseconds, that never waits for a commit; a thread-pool hop cost more.
Routes and resolvers then call :func:`require` with the scope they need.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import Scope as ASGIScope

from ledger.api.errors import error_response
from ledger.api.headers import first_header
from ledger.auth import Scope, hash_token, looks_like_token, scopes_for
from ledger.errors import Forbidden, Unauthorized
from ledger.store.protocol import EventStore

__all__ = [
    "Principal",
    "TokenBackend",
    "bearer_token",
    "lookup_principal",
    "on_auth_error",
    "principal_of",
    "require",
]

_ACTIONS = {
    Scope.READ: "read the ledger",
    Scope.APPEND: "append events",
    Scope.VERIFY: "verify the chain",
    Scope.ADMIN: "do this",
}


class Principal(BaseUser):
    """The holder of a live token: its name (the recorded actor) and role."""

    def __init__(self, name: str, role: str) -> None:
        self.name = name
        self.role = role
        self.scopes = scopes_for(role)

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def identity(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Principal({self.name!r}, {self.role!r})"


def bearer_token(header: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` value.

    Raises:
        Unauthorized: another scheme, or no token after ``Bearer``.
    """
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization: expected 'Bearer <token>'", field="Authorization")
    return token.strip()


_PRINCIPALS: dict[tuple[str, str], tuple[Principal, AuthCredentials]] = {}
"""Principals (and their credentials) by (name, role): plain values, shared to save
building them per request. Not a token cache: every request still reads its
token's record from the store (a revoked token fails at once)."""

_PRINCIPALS_MAX = 4096


def _principal(name: str, role: str) -> tuple[Principal, AuthCredentials]:
    key = (name, role)
    known = _PRINCIPALS.get(key)
    if known is None:
        principal = Principal(name, role)
        known = (principal, AuthCredentials(sorted(principal.scopes)))
        if len(_PRINCIPALS) >= _PRINCIPALS_MAX:
            _PRINCIPALS.clear()
        _PRINCIPALS[key] = known
    return known


def _lookup(store: EventStore, token: str) -> tuple[Principal, AuthCredentials]:
    record = store.token_by_hash(hash_token(token)) if looks_like_token(token) else None
    if record is None:
        raise Unauthorized("the token is not valid", field="Authorization")
    if record.revoked_at is not None:
        raise Unauthorized(f"the token {record.name!r} was revoked", field="Authorization")
    return _principal(record.name, record.role)


def lookup_principal(store: EventStore, token: str) -> Principal:
    """Find the live token's principal (blocking: one indexed store read).

    Raises:
        Unauthorized: not a token, unknown, or revoked.
        StoreError: the store failed.
    """
    return _lookup(store, token)[0]


def _authorization(scope: ASGIScope) -> str | None:
    """The first ``Authorization`` header, as ``conn.headers.get`` finds it."""
    raw = first_header(scope, b"authorization")
    return None if raw is None else raw.decode("latin-1")


class _TokenRefused(AuthenticationError):
    def __init__(self, error: Unauthorized) -> None:
        super().__init__(error.message)
        self.error = error


class TokenBackend(AuthenticationBackend):
    """Authenticates ``Authorization: Bearer`` against the store's hashed tokens.

    Args:
        store: where the tokens are.
        inline: look tokens up on the event loop (a store whose reads never
            wait for its writer: SQLite's per-thread readers); otherwise in
            the thread pool.
    """

    def __init__(self, store: EventStore, *, inline: bool = False) -> None:
        self.store = store
        self.inline = inline
        # ``ThreadReads``: take the calling thread's reader once per lookup
        # rather than through its per-call attribute proxy.
        self._current: Callable[[], EventStore] | None = getattr(store, "current", None)

    def _lookup(self, token: str) -> tuple[Principal, AuthCredentials]:
        store = self._current() if self._current is not None else self.store
        return _lookup(store, token)

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        header = _authorization(conn.scope)
        if header is None:
            return None
        try:
            token = bearer_token(header)
            if self.inline:
                principal, credentials = self._lookup(token)
            else:
                principal, credentials = await run_in_threadpool(self._lookup, token)
        except Unauthorized as error:
            raise _TokenRefused(error) from None
        return credentials, principal


def on_auth_error(conn: HTTPConnection, exc: AuthenticationError) -> Response:
    """The 401 JSON answer to a refused token."""
    error = exc.error if isinstance(exc, _TokenRefused) else Unauthorized(str(exc))
    return error_response(error)


def principal_of(conn: HTTPConnection) -> Principal | None:
    """The request's principal, or None when it carried no token."""
    user = conn.scope.get("user")
    return user if isinstance(user, Principal) else None


def require(principal: Principal | None, scope: str, *, anonymous_reads: bool) -> Principal | None:
    """Check that the caller may act in ``scope``; return the principal (None: anonymous read).

    Raises:
        Unauthorized: no token, and the scope is not an anonymous read.
        Forbidden: the token's role lacks the scope.
    """
    if principal is None:
        if scope == Scope.READ and anonymous_reads:
            return None
        raise Unauthorized(
            "no token: send 'Authorization: Bearer <token>'",
            field="Authorization",
            suggestion="create one with `rollout-ledger token create --name N --role R`",
        )
    if scope not in principal.scopes:
        raise Forbidden(f"a {principal.role} token may not {_ACTIONS.get(scope, 'do this')}")
    return principal
