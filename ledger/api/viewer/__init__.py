"""The web viewer: static HTML, JS and CSS served at ``/`` and ``/viewer/``.

The viewer is public code with no data in it, so it loads without a token;
every GraphQL call it makes carries the token the user pasted. The files ship
as package data (``static/``) and use no CDN, so an installed wheel works
offline.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

__all__ = ["CONTENT_SECURITY_POLICY", "ROUTES", "STATIC_DIR"]

STATIC_DIR = Path(__file__).parent / "static"
"""Where the viewer's files live inside the installed package."""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""Only the viewer's own files and this server's API: a stray external URL fails loudly."""


_HARDENING = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""On every viewer response: ``/viewer/index.html`` is a document too, and must not
escape the policy ``/`` has; nothing is sniffed into another type."""


async def index(request: Request) -> Response:
    # no-cache: a new release's index must point at its own assets at once.
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={**_HARDENING, "Cache-Control": "no-cache"},
    )


class _ViewerFiles(StaticFiles):
    """The static files, each with the viewer's security headers."""

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(_HARDENING)
        return response


ROUTES: list[BaseRoute] = [
    Route("/", index, methods=["GET", "HEAD"]),
    Mount("/viewer", _ViewerFiles(directory=STATIC_DIR), name="viewer"),
]
