"""The REST routes: batch append, checkpoint, proofs, health and metrics.

Errors are raised as ``LedgerError`` and answered by the app's one handler
(``ledger.api.errors``); the routes never build error responses themselves.
Every store call runs in the threadpool so the event loop never waits on SQLite.
"""

from __future__ import annotations

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ledger.api.auth import principal_of, require
from ledger.api.ingest import append_body
from ledger.api.metrics import CONTENT_TYPE
from ledger.api.reads import signed_checkpoint
from ledger.api.state import ApiState
from ledger.auth import Scope
from ledger.errors import BadRequest, StoreError

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


async def post_events(request: Request) -> Response:
    """Append a batch (JSON array or NDJSON), all or nothing; acknowledge each event."""
    state = _allow(request, Scope.APPEND)
    principal = principal_of(request)
    assert principal is not None
    body = await request.body()
    acks = await append_body(state, principal, body, request.headers.get("content-type", ""))
    return ORJSONResponse(
        {"events": [{"seq": a.seq, "hash": a.hash, "id": a.id, "created": a.created} for a in acks]}
    )


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
