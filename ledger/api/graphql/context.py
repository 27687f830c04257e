"""The per-request (per-connection, for websockets) GraphQL context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from ledger.api.auth import Principal, require
from ledger.api.state import ApiState

__all__ = ["Context", "Info", "authorize", "state_of"]

T = TypeVar("T")


@dataclass(slots=True)
class Context:
    """What resolvers see as ``info.context``.

    Attributes:
        state: the app's shared objects (ledger, settings, feed, metrics).
        principal: the caller, from the ``Authorization`` header or, on a
            websocket, from the ``connection_init`` payload; None if anonymous.
        request: the HTTP request or websocket.
        sub_response: the response being built (HTTP) or the websocket; None
            until :attr:`response` is first read on the lean HTTP path.
        connection_params: the ``connection_init`` payload (websockets only).
        loaders: per-request DataLoaders by name, made on first use (see :meth:`loader`).
    """

    state: ApiState
    principal: Principal | None
    request: Request | WebSocket
    sub_response: Response | WebSocket | None
    connection_params: dict[str, object] | None = None
    loaders: dict[str, object] = field(default_factory=dict)

    @property
    def response(self) -> Response | WebSocket:
        """The response being built (HTTP) or the websocket.

        The lean HTTP path (``view.GraphQLView``) makes it on first use, with
        what strawberry's ``get_sub_response`` makes; its status, headers and
        background task go into the answer as in strawberry's ``create_response``.
        """
        if self.sub_response is None:
            self.sub_response = _sub_response()
        return self.sub_response

    def loader(self, name: str, make: Callable[[], T]) -> T:
        """The request's loader called ``name``, made by ``make`` the first time.

        Loaders live for one request, so their caches never serve stale data
        across requests; areas register theirs by name on first use.
        """
        if name not in self.loaders:
            self.loaders[name] = make()
        return self.loaders[name]  # type: ignore[return-value]


def _sub_response() -> Response:
    response = Response()
    response.status_code = None  # type: ignore[assignment]
    del response.headers["content-length"]
    return response


Info = strawberry.Info[Context, None]
"""The resolver ``info`` type of this schema."""


def state_of(info: Info) -> ApiState:
    """The app state behind a resolver."""
    return info.context.state


def authorize(info: Info, scope: str) -> Principal | None:
    """Check the caller may act in ``scope`` (see :func:`ledger.api.auth.require`)."""
    context = info.context
    return require(context.principal, scope, anonymous_reads=context.state.settings.anonymous_reads)
