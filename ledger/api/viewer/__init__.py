"""The web viewer: static HTML, JS and CSS served at ``/`` and ``/viewer/``.

The viewer is public code with no data in it, so it loads without a token;
every GraphQL call it makes carries the token the user pasted. The files ship
as package data (``static/``) and use no CDN, so an installed wheel works
offline.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["CONTENT_SECURITY_POLICY", "ROUTES", "STATIC_DIR"]

STATIC_DIR = Path(__file__).parent / "static"
"""Where the viewer's files live inside the installed package."""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""Only the viewer's own files and this server's API: a stray external URL fails loudly."""


async def index(request: Request) -> Response:
    # no-cache: a new release's index must point at its own assets at once.
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"},
    )


ROUTES: list[BaseRoute] = [
    Route("/", index, methods=["GET", "HEAD"]),
    Mount("/viewer", StaticFiles(directory=STATIC_DIR), name="viewer"),
]
