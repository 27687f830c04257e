"""The composition of the HTTP server: ``create_app`` and the uvicorn factory.

Middleware, outermost first: latency metrics, the body size limit, bearer
authentication; then the routes. Every ``LedgerError`` becomes its HTTP status
and JSON body through one handler; anything else is logged and masked.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from ledger.api.auth import TokenBackend, on_auth_error
from ledger.api.committer import GroupCommitter
from ledger.api.errors import error_body, error_response, internal_error_response
from ledger.api.feed import EventFeed
from ledger.api.graphql import GraphQLView, build_schema
from ledger.api.integrations import ROUTES as INTEGRATION_ROUTES
from ledger.api.limits import BodyLimitMiddleware
from ledger.api.metrics import Metrics, TimingMiddleware
from ledger.api.rest import ROUTES
from ledger.api.settings import Settings
from ledger.api.state import ApiState
from ledger.api.viewer import ROUTES as VIEWER_ROUTES
from ledger.api.webhooks import ROUTES as WEBHOOK_ROUTES
from ledger.api.webhooks import start_worker
from ledger.auth import RoleCatalogue
from ledger.errors import LedgerError
from ledger.keys import default_key_dir, load_signer
from ledger.schema_files import load_catalogue
from ledger.service import Ledger
from ledger.store import open_store

__all__ = ["app_from_env", "create_app"]

logger = logging.getLogger("ledger.api")


def create_app(
    ledger: Ledger,
    settings: Settings | None = None,
    *,
    catalogue: RoleCatalogue | None = None,
    owns_store: bool = False,
) -> Starlette:
    """The starlette app serving REST, GraphQL and subscriptions over ``ledger``.

    Args:
        ledger: the service; its store also holds the API tokens.
        settings: server behaviour (defaults when None).
        catalogue: which role may append which type; the ledger's own when
            None, else the shipped schemas.
        owns_store: close the ledger's store when the app shuts down.
    """
    settings = settings or Settings()
    metrics = Metrics(ledger.store)
    if catalogue is None:
        catalogue = ledger.catalogue if ledger.catalogue is not None else load_catalogue()
    state = ApiState(
        ledger=ledger,
        settings=settings,
        catalogue=catalogue,
        metrics=metrics,
        feed=EventFeed(ledger.store, settings.poll_interval),
        committer=GroupCommitter(ledger, linger=settings.commit_linger),
    )
    graphql = GraphQLView(build_schema(settings, on_error=state.reject), state)

    async def ledger_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LedgerError)
        state.reject(exc.code)
        return error_response(exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = "not_found" if exc.status_code == 404 else "bad_request"
        state.reject(code)
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    async def unexpected(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ClientDisconnect):
            # The client went away mid-request: nothing to answer, nothing broke.
            return Response(status_code=499)
        logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        state.reject("internal_error")
        return internal_error_response()

    async def publish_checkpoints(interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await run_in_threadpool(ledger.publish_checkpoint)
            except Exception:  # keep publishing; the next round may succeed
                logger.warning("publishing a checkpoint failed", exc_info=True)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        publisher = (
            asyncio.create_task(publish_checkpoints(settings.checkpoint_interval))
            if settings.checkpoint_interval > 0 and ledger.signer is not None
            else None
        )
        webhooks = start_worker(app)
        try:
            yield
        finally:
            await webhooks.stop()
            if publisher is not None:
                publisher.cancel()
            state.committer.close()
            if owns_store:
                ledger.store.close()

    app = Starlette(
        routes=[
            # GraphQL first: the router tries routes in order, and it is the busiest.
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            *ROUTES,
            *INTEGRATION_ROUTES,
            *WEBHOOK_ROUTES,
            *VIEWER_ROUTES,  # last: `/` and `/viewer/` never shadow the API
        ],
        middleware=[
            Middleware(TimingMiddleware, metrics=metrics),
            Middleware(BodyLimitMiddleware, limit=settings.max_body_bytes, on_reject=state.reject),
            Middleware(
                AuthenticationMiddleware,
                # Inline lookups where reads never wait for the writer (SQLite readers).
                backend=TokenBackend(state.reads, inline=state.inline_reads),
                on_error=on_auth_error,
            ),
        ],
        exception_handlers={
            LedgerError: ledger_error,
            HTTPException: http_error,
            Exception: unexpected,
        },
        lifespan=lifespan,
    )
    app.state.api = state
    return app


def app_from_env() -> Starlette:
    """The uvicorn factory (``ledger.api.app:app_from_env``), one call per worker process.

    Reads ``LEDGER_DB`` (default ``ledger.db``), ``LEDGER_KEY_DIR`` (default
    beside the database) and the ``Settings.from_env`` variables.

    Raises:
        StoreError: the database cannot be opened.
        ValueError: a setting variable has a bad value.
    """
    db = os.environ.get("LEDGER_DB", "ledger.db")
    key_dir = os.environ.get("LEDGER_KEY_DIR")
    store = open_store(db)
    signer = load_signer(Path(key_dir) if key_dir else default_key_dir(db), required=False)
    ledger = Ledger(
        store, signer=signer, origin=store.get_meta("origin"), catalogue=load_catalogue()
    )
    return create_app(ledger, Settings.from_env(os.environ), owns_store=True)
