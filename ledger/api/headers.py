"""Reading a request header straight from the ASGI scope.

The hot routes (single-event appends, lean GraphQL POSTs, token checks) read
one or two headers; building starlette's ``Headers`` mapping to find them
costs more than scanning the raw list.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["first_header"]


def first_header(scope: Mapping[str, object], name: bytes) -> bytes | None:
    """The raw value of the first header called ``name`` (lowercase, as ASGI
    servers send names), as ``Headers.get`` would find it; None when absent."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]  # type: ignore[assignment]
    for key, value in headers:
        if key == name:
            return value
    return None
