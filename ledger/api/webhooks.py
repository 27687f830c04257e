"""The webhook delivery worker and the admin routes that manage subscribers.

The worker is one asyncio task per app (started in the app's lifespan) that
supervises one task per subscriber. Each subscriber task reads the events
after its cursor (``meta['webhook_cursor:<name>']``), POSTs every matching one
in seq order, signed (see ``ledger.webhooks``), and retries a failed delivery
with exponential backoff (base * 2^n, capped) until it gets a 2xx. The cursor
advances only after a 2xx (or past events the subscriber does not want), so
delivery is at least once: a restart redelivers from the cursor. A new
subscriber without a cursor starts from the first event.

Limitations: the delivery log (every attempt, with its status code or error)
is a bounded in-memory ring per process (``RING_SIZE`` attempts), lost on
restart and not shared between worker processes; only the cursor is durable.
Several server processes would each run a worker and deliver the same events
(still at least once, but duplicated); run webhooks from one process.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Protocol, cast

import httpx
import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ledger.api.auth import principal_of, require
from ledger.api.state import ApiState
from ledger.auth import Scope
from ledger.chain import export_line
from ledger.errors import BadRequest
from ledger.events import Event, format_time
from ledger.webhooks import (
    SEQ_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Subscriber,
    add_subscriber,
    backoff,
    check_subscriber,
    get_cursor,
    load_subscribers,
    remove_subscriber,
    set_cursor,
    sign,
)

__all__ = ["RING_SIZE", "ROUTES", "Attempt", "WebhookWorker", "WorkerOptions", "start_worker"]

logger = logging.getLogger("ledger.api.webhooks")

RING_SIZE = 1000
BATCH = 100


class _Store(Protocol):
    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def find_events(
        self, *, types: Sequence[str] | None = None, after_seq: int = 0, limit: int = 1000
    ) -> list[Event]: ...


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """How the worker behaves (set ``app.state.webhook_options`` before startup to change).

    Attributes:
        poll_interval: seconds to sleep when a subscriber is caught up.
        base_delay: the first retry delay in seconds; doubles per failure.
        max_delay: the cap of the retry delay.
        timeout: seconds per HTTP request.
    """

    poll_interval: float = 0.2
    base_delay: float = 1.0
    max_delay: float = 60.0
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class Attempt:
    """One delivery attempt, as the ring and the GraphQL query report it.

    Attributes:
        subscriber: the subscriber's name.
        seq: the event's seq.
        event_type: the event's type.
        attempt: 1 for the first try, 2 for the first retry, and so on.
        status_code: the receiver's HTTP status; None on a connection error.
        error: the connection error, if any.
        delivered: whether this attempt got a 2xx.
        at: when the attempt finished (RFC 3339 UTC).
    """

    subscriber: str
    seq: int
    event_type: str
    attempt: int
    status_code: int | None
    error: str | None
    delivered: bool
    at: str


class WebhookWorker:
    """Delivers events to every stored subscriber; one per app."""

    def __init__(self, store: object, options: WorkerOptions | None = None) -> None:
        """Make a stopped worker.

        Args:
            store: the ledger's store (``get_meta``, ``set_meta``, ``find_events``).
            options: timings (defaults when None).
        """
        self._store = cast(_Store, store)
        self.options = options or WorkerOptions()
        self.log: deque[Attempt] = deque(maxlen=RING_SIZE)
        self._tasks: dict[str, tuple[Subscriber, asyncio.Task[None]]] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        """Start supervising (inside a running event loop)."""
        self._client = httpx.AsyncClient(timeout=self.options.timeout)
        self._supervisor = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        """Cancel every task and close the HTTP client."""
        tasks = [task for _, task in self._tasks.values()]
        if self._supervisor is not None:
            tasks.append(self._supervisor)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._client is not None:
            await self._client.aclose()

    def deliveries(self, name: str, first: int) -> list[Attempt]:
        """The latest ``first`` attempts for subscriber ``name``, newest first."""
        found = [a for a in reversed(self.log) if a.subscriber == name]
        return found[: max(0, first)]

    async def _supervise(self) -> None:
        while True:
            try:
                subscribers = await run_in_threadpool(load_subscribers, self._store)
            except Exception:  # a bad meta value or store hiccup: try again next round
                logger.warning("reading webhook subscribers failed", exc_info=True)
                subscribers = []
            wanted = {s.name: s for s in subscribers}
            for name, (sub, task) in list(self._tasks.items()):
                if wanted.get(name) != sub or task.done():
                    task.cancel()
                    del self._tasks[name]
            for name, sub in wanted.items():
                if name not in self._tasks:
                    self._tasks[name] = (sub, asyncio.create_task(self._serve(sub)))
            await asyncio.sleep(self.options.poll_interval)

    async def _serve(self, sub: Subscriber) -> None:
        cursor = await run_in_threadpool(get_cursor, self._store, sub.name)
        while True:
            try:
                events = await run_in_threadpool(
                    partial(self._store.find_events, after_seq=cursor, types=None, limit=BATCH)
                )
            except Exception:
                logger.warning("reading events for webhook %s failed", sub.name, exc_info=True)
                events = []
            if not events:
                await asyncio.sleep(self.options.poll_interval)
                continue
            for event in events:
                if sub.wants(event.type):
                    await self._deliver(sub, event)
                    await run_in_threadpool(set_cursor, self._store, sub.name, event.seq)
                cursor = event.seq
            # Skipped events advance the stored cursor too.
            await run_in_threadpool(set_cursor, self._store, sub.name, cursor)

    async def _deliver(self, sub: Subscriber, event: Event) -> None:
        """POST ``event`` until a 2xx, waiting ``backoff`` between attempts."""
        assert self._client is not None
        body = export_line(event)
        attempt = 0
        while True:
            attempt += 1
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(sub.secret, timestamp, body),
                TIMESTAMP_HEADER: timestamp,
                SEQ_HEADER: str(event.seq),
            }
            status: int | None = None
            error: str | None = None
            try:
                response = await self._client.post(sub.url, content=body, headers=headers)
                status = response.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            ok = status is not None and 200 <= status < 300
            self.log.append(
                Attempt(
                    sub.name,
                    event.seq,
                    event.type,
                    attempt,
                    status,
                    error,
                    ok,
                    format_time(datetime.now(UTC)),
                )
            )
            if ok:
                return
            await asyncio.sleep(backoff(attempt, self.options.base_delay, self.options.max_delay))


def start_worker(app: Starlette) -> WebhookWorker:
    """Start the app's worker (lifespan startup); kept on ``app.state.webhooks``."""
    state = app.state.api
    assert isinstance(state, ApiState)
    options = getattr(app.state, "webhook_options", None)
    worker = WebhookWorker(state.ledger.store, options)
    worker.start()
    app.state.webhooks = worker
    return worker


# ---- admin routes ------------------------------------------------------------------------


def _admin(request: Request) -> ApiState:
    state = request.app.state.api
    assert isinstance(state, ApiState)
    require(principal_of(request), Scope.ADMIN, anonymous_reads=False)
    return state


async def list_webhooks(request: Request) -> Response:
    """``GET /v1/webhooks``: every subscriber (never its secret) with its cursor."""
    state = _admin(request)
    store = state.ledger.store

    def read() -> list[dict[str, object]]:
        return [
            {**s.public(), "cursor": get_cursor(store, s.name)} for s in load_subscribers(store)
        ]

    return JSONResponse({"webhooks": await run_in_threadpool(read)})


async def post_webhook(request: Request) -> Response:
    """``POST /v1/webhooks``: add ``{name, url, types: [..], secret}``; 201."""
    state = _admin(request)
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body: not JSON ({exc})", field="body") from exc
    if not isinstance(body, dict):
        raise BadRequest("body: must be a JSON object", field="body")
    types = body.get("types")
    fields = (body.get("name"), body.get("url"), body.get("secret"))
    if not all(isinstance(f, str) for f in fields) or not isinstance(types, list):
        raise BadRequest("body: needs name, url, secret (strings) and types (a list)", field="body")
    name, url, secret = cast(tuple[str, str, str], fields)
    sub = check_subscriber(name, url, [str(t) for t in types], secret)
    await run_in_threadpool(add_subscriber, state.ledger.store, sub)
    return JSONResponse(sub.public(), status_code=201)


async def delete_webhook(request: Request) -> Response:
    """``DELETE /v1/webhooks/{name}``: stop delivering to ``name``; 204."""
    state = _admin(request)
    await run_in_threadpool(remove_subscriber, state.ledger.store, request.path_params["name"])
    return Response(status_code=204)


ROUTES = [
    Route("/v1/webhooks", list_webhooks, methods=["GET"]),
    Route("/v1/webhooks", post_webhook, methods=["POST"]),
    Route("/v1/webhooks/{name}", delete_webhook, methods=["DELETE"]),
]
