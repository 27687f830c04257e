"""The request body size limit: 413 with a JSON error, before a byte is parsed.

A declared ``Content-Length`` over the limit is refused at once; a chunked
body is counted as it streams and refused as soon as it passes the limit, so
a client cannot make the server buffer more than the limit.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.api.errors import error_response
from ledger.errors import PayloadTooLarge

__all__ = ["BodyLimitMiddleware"]


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Refuses HTTP request bodies over ``limit`` bytes with 413 ``payload_too_large``."""

    def __init__(
        self, app: ASGIApp, limit: int, on_reject: Callable[[str], None] | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.on_reject = on_reject

    def _error(self) -> PayloadTooLarge:
        if self.on_reject is not None:
            self.on_reject(PayloadTooLarge.code)
        return PayloadTooLarge(
            f"body: over the server's {self.limit}-byte limit",
            field="body",
            suggestion="split the batch into smaller requests",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        counted = False  # chunked, or a length we cannot read: count as it streams
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    counted = True
                    continue
                if declared > self.limit:
                    await error_response(self._error())(scope, receive, send)
                    return
            elif name == b"transfer-encoding":
                counted = True
        if declared is not None and declared >= 0 and not counted:
            # The server's HTTP parser delivers exactly the declared length (the
            # rest of the stream is the next request): nothing to count.
            await self.app(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _TooLarge:
            if started:
                raise
            await error_response(self._error())(scope, receive, send)
