"""The REST routes: batch append, checkpoint, proofs, health and metrics.

Errors are raised as ``LedgerError`` and answered by the app's one handler
(``ledger.api.errors``); the routes never build error responses themselves.
Every store call runs in the threadpool so the event loop never waits on SQLite.
"""

from __future__ import annotations

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ledger.api.auth import principal_of, require
from ledger.api.headers import first_header
from ledger.api.ingest import append_body
from ledger.api.metrics import CONTENT_TYPE
from ledger.api.reads import signed_checkpoint
from ledger.api.state import ApiState
from ledger.auth import Scope
from ledger.errors import BadRequest, StoreError
from ledger.service import Appended

__all__ = ["ROUTES", "ORJSONResponse"]


class ORJSONResponse(JSONResponse):
    """``JSONResponse`` with orjson: the same compact UTF-8 bytes, several times faster."""

    def render(self, content: object) -> bytes:
        return orjson.dumps(content)


def _state(request: Request) -> ApiState:
    state = request.app.state.api
    assert isinstance(state, ApiState)
    return state


def _allow(request: Request, scope: str) -> ApiState:
    state = _state(request)
    require(principal_of(request), scope, anonymous_reads=state.settings.anonymous_reads)
    return state


def _int_param(request: Request, name: str, *, required: bool) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        if required:
            raise BadRequest(f"{name}: missing query parameter", field=name)
        return None
    if not text.isdigit() or len(text) > 18:
        raise BadRequest(f"{name}: expected a non-negative integer, got {text!r}", field=name)
    return int(text)


class _AckResponse(Response):
    """The acknowledgement of an append: orjson bytes and fixed headers, built cheaply.

    The same bytes and headers as ``ORJSONResponse`` (content-length,
    content-type); the route is the server's hottest, and starlette's header
    building is a fair share of its cost.
    """

    media_type = "application/json"

    def __init__(self, acks: list[Appended]) -> None:
        self.status_code = 200
        self.background = None
        self.body = orjson.dumps(
            {
                "events": [
                    {"seq": a.seq, "hash": a.hash, "id": a.id, "created": a.created} for a in acks
                ]
            }
        )
        self.raw_headers = [
            (b"content-length", str(len(self.body)).encode("latin-1")),
            (b"content-type", b"application/json"),
        ]


def _content_type(request: Request) -> str:
    """The first ``Content-Type`` header ('' when there is none)."""
    raw = first_header(request.scope, b"content-type")
    return "" if raw is None else raw.decode("latin-1")


async def _read_body(request: Request) -> bytes:
    """``await request.body()`` without its async generator (the route reads it once).

    Raises:
        ClientDisconnect: the client went away before the whole body came.
    """
    receive = request.receive
    message = await receive()
    body: bytes
    if message["type"] == "http.request" and not message.get("more_body", False):
        body = message.get("body", b"")
    else:
        chunks: list[bytes] = []
        while True:
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            message = await receive()
        body = b"".join(chunks)
    request._body = body  # as request.body() leaves it, should anything read it again
    return body


async def post_events(request: Request) -> Response:
    """Append a batch (JSON array or NDJSON), all or nothing; acknowledge each event."""
    state = _state(request)
    principal = require(principal_of(request), Scope.APPEND, anonymous_reads=False)
    assert principal is not None
    body = await _read_body(request)
    acks = await append_body(state, principal, body, _content_type(request))
    return _AckResponse(acks)


async def get_checkpoint(request: Request) -> Response:
    """The signed checkpoint of the current tree (C2SP signed note, text/plain)."""
    state = _allow(request, Scope.READ)
    note = await run_in_threadpool(signed_checkpoint, state.ledger)
    return PlainTextResponse(note)


async def get_inclusion(request: Request) -> Response:
    """RFC 9162 2.1.3 inclusion proof of ``seq`` in the tree of ``tree_size`` (default: head)."""
    state = _allow(request, Scope.READ)
    seq = _int_param(request, "seq", required=True)
    tree_size = _int_param(request, "tree_size", required=False)
    assert seq is not None
    proof = await run_in_threadpool(state.ledger.inclusion_proof, seq, tree_size)
    return JSONResponse(proof.to_json())


async def get_consistency(request: Request) -> Response:
    """RFC 9162 2.1.4 proof that tree ``first`` is a prefix of tree ``second`` (default: head)."""
    state = _allow(request, Scope.READ)
    first = _int_param(request, "first", required=True)
    second = _int_param(request, "second", required=False)
    assert first is not None
    proof = await run_in_threadpool(state.ledger.consistency_proof, first, second)
    return JSONResponse(proof.to_json())


async def healthz(request: Request) -> Response:
    """Liveness and store reachability; open to all (load balancers carry no token)."""
    state = _state(request)
    try:
        head = await run_in_threadpool(state.reads.head)
    except StoreError as error:
        return JSONResponse(
            {"status": "unavailable", "error": {"code": error.code, "message": error.message}},
            status_code=503,
        )
    return JSONResponse({"status": "ok", "seq": head.seq})


async def metrics(request: Request) -> Response:
    """Prometheus text exposition; a read like any other (anonymous only if reads are)."""
    state = _allow(request, Scope.READ)
    body = await run_in_threadpool(state.metrics.render)
    return Response(body, media_type=CONTENT_TYPE)


ROUTES = [
    Route("/v1/events", post_events, methods=["POST"]),
    Route("/v1/checkpoint", get_checkpoint, methods=["GET"]),
    Route("/v1/proof/inclusion", get_inclusion, methods=["GET"]),
    Route("/v1/proof/consistency", get_consistency, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
"""Every REST route; ``lineage_placeholder`` is deliberately not among them."""
