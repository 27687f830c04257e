"""HTTP routes of the integrations: OpenLineage, Flagger, Argo Rollouts and MLflow.

Each route authenticates, reads what its translation needs, calls the pure
adapter in ``ledger.integrations`` and appends through ``append_drafts`` (role
check, group commit, metrics, subscriptions), so these routes refuse exactly
what ``POST /v1/events`` refuses. Errors are raised as ``LedgerError`` and
answered by the app's one handler; the Flagger gates' 403 is an answer, not an
error, and is built here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Protocol, cast

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ledger import policy
from ledger.api.auth import Principal, lookup_principal, principal_of, require
from ledger.api.ingest import append_drafts
from ledger.api.state import ApiState
from ledger.auth import Scope
from ledger.errors import BadRequest, NotFound
from ledger.events import Event, EventDraft, format_time, normalize_time
from ledger.integrations import argo, flagger, gate, mlflow, openlineage
from ledger.integrations._common import Translation, as_object, decode_json_body
from ledger.projections.keys import model_key
from ledger.service import Appended, system_clock

__all__ = ["ROUTES"]


class _Reader(Protocol):
    """The reads both stores offer beyond ``EventStore`` that these routes use."""

    def get_docs(self, keys: Sequence[str]) -> dict[str, bytes]: ...

    def find_events(
        self,
        *,
        subjects: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        limit: int = 1000,
    ) -> list[Event]: ...


def _state(request: Request) -> ApiState:
    state = request.app.state.api
    assert isinstance(state, ApiState)
    return state


def _reader(state: ApiState) -> _Reader:
    return cast(_Reader, state.ledger.store)


async def _appender(request: Request, token: str | None = None) -> tuple[ApiState, Principal]:
    """The state and the principal that may append: the bearer token, else ``token``.

    Flagger cannot send headers, so its routes also take the token from the
    webhook's metadata (see docs/integrations.md).
    """
    state = _state(request)
    principal = principal_of(request)
    if principal is None and token:
        principal = await run_in_threadpool(lookup_principal, state.ledger.store, token)
    checked = require(principal, Scope.APPEND, anonymous_reads=False)
    assert checked is not None
    return state, checked


def _acks(acks: list[Appended]) -> list[dict[str, object]]:
    return [{"seq": a.seq, "hash": a.hash, "id": a.id, "created": a.created} for a in acks]


async def _append(
    state: ApiState, principal: Principal, translation: Translation, **extra: object
) -> Response:
    acks = await append_drafts(state, principal, translation.drafts) if translation.drafts else []
    body: dict[str, object] = {"events": _acks(acks), **extra}
    if translation.notes:
        body["notes"] = translation.notes
    return JSONResponse(body)


async def _docs(state: ApiState, keys: list[str]) -> dict[str, dict[str, object] | None]:
    raw = await run_in_threadpool(_reader(state).get_docs, keys) if keys else {}
    parsed = {key: orjson.loads(blob) for key, blob in raw.items()}
    return {key: doc if isinstance(doc, dict) else None for key, doc in parsed.items()}


def _now(state: ApiState) -> str:
    # The ledger's own clock, so a gate judges time as an append at this moment would.
    clock = getattr(state.ledger, "_clock", system_clock)
    return format_time(clock())


# ---- OpenLineage -------------------------------------------------------------------------


async def post_lineage(request: Request) -> Response:
    """``POST /api/v1/lineage``: one OpenLineage event (or a JSON array of them), gzip or not."""
    state, principal = await _appender(request)
    body = decode_json_body(await request.body(), request.headers.get("content-encoding"))
    events = body if isinstance(body, list) else [body]
    if not events:
        raise BadRequest("body: an empty array holds no OpenLineage event", field="body")
    drafts: list[EventDraft] = []
    for event in events:
        drafts += openlineage.translate(event, actor=principal.name).drafts
    return await _append(state, principal, Translation(drafts))


async def get_run(request: Request) -> Response:
    """``GET /api/v1/lineage/runs/{run_id}``: a run's furthest state and its recorded events."""
    state = _state(request)
    require(principal_of(request), Scope.READ, anonymous_reads=state.settings.anonymous_reads)
    ref = openlineage.run_ref(request.path_params["run_id"])
    events = await run_in_threadpool(
        _reader(state).find_events,
        subjects=[ref],
        types=["openlineage.event.recorded"],
        limit=10_000,
    )
    if not events:
        raise NotFound(f"run: no OpenLineage event recorded for {ref}", field="run_id")
    seen = []
    for event in events:
        data = event.data
        assert isinstance(data, dict)
        seen.append((data.get("event_type"), str(data.get("event_time")), event.seq, data))
    furthest = openlineage.furthest_state((t, when, seq) for t, when, seq, _ in seen)
    return JSONResponse(
        {
            "run": ref,
            "job": seen[-1][3].get("job"),
            "state": None if furthest is None else furthest.state,
            "state_event_time": None if furthest is None else furthest.event_time,
            "state_seq": None if furthest is None else furthest.seq,
            "events": [{"seq": s, "event_type": t, "event_time": w} for t, w, s, _ in seen],
        }
    )


# ---- Flagger -----------------------------------------------------------------------------


async def _flagger(
    request: Request,
) -> tuple[ApiState, Principal, dict[str, object], flagger.Target]:
    """Parse a Flagger webhook, authenticate (header, else ``metadata.token``), find the target."""
    payload = as_object(decode_json_body(await request.body(), None), "body")
    token = flagger.metadata_of(payload).get("token")
    state, principal = await _appender(request, token)
    target = flagger.target_of(payload, request.query_params)
    if target.version is None:
        docs = await _docs(state, [target.deployment, model_key(target.model)])
        target = flagger.resolve_version(
            target, docs.get(target.deployment), docs.get(model_key(target.model))
        )
    return state, principal, payload, target


async def post_flagger_event(request: Request) -> Response:
    """``POST /api/v1/flagger/event``: Flagger's event webhook, recorded as rollout events."""
    state, principal, payload, target = await _flagger(request)
    deployment = (await _docs(state, [target.deployment])).get(target.deployment)
    stable = deployment.get("stable_version") if deployment else None
    translation = flagger.translate_event(
        payload, target, stable if isinstance(stable, str) else None
    )
    return await _append(state, principal, translation)


async def post_flagger_gate(request: Request) -> Response:
    """``POST /api/v1/flagger/<gate>``: 200 when the policy allows the next step, else 403."""
    kind = request.path_params["gate"]
    if kind not in flagger.GATES:
        raise NotFound(
            f"no Flagger webhook {kind!r}; use event or one of {', '.join(flagger.GATES)}"
        )
    state, principal, payload, target = await _flagger(request)
    step = flagger.proposed_step(kind, target, payload, principal.name)
    docs = await _docs(state, policy.policy_keys_for(step))
    decision = gate.decide(step, docs, _now(state))
    record = gate.gate_record(
        kind,
        target.deployment,
        target.version_ref,
        step,
        decision,
        docs,
        controller="flagger",
        context=flagger.context_of(payload),
    )
    acks = await append_drafts(state, principal, [record])
    body: dict[str, object] = {
        "allowed": decision.allowed,
        "deployment": target.deployment,
        "version": target.version_ref,
        "unmet": decision.unmet,
        "policy": decision.policy,
        "events": _acks(acks),
    }
    if decision.allowed:
        return JSONResponse(body)
    message = f"the rollout policy does not allow {kind} of {target.version_ref}: " + "; ".join(
        decision.unmet
    )
    body["error"] = {"code": "policy_denied", "message": message, "field": None}
    return JSONResponse(body, status_code=403)


# ---- Argo Rollouts -----------------------------------------------------------------------


async def post_argo(request: Request) -> Response:
    """``POST /api/v1/argo/notification``: an Argo Rollouts webhook notification."""
    state, principal = await _appender(request)
    payload = as_object(decode_json_body(await request.body(), None), "body")
    target = argo.target_of(payload)
    keys = [target.deployment, model_key(target.model)]
    docs = await _docs(state, keys)
    target = flagger.resolve_version(target, docs.get(keys[0]), docs.get(keys[1]))
    stable = (docs.get(keys[0]) or {}).get("stable_version")
    translation = argo.translate(payload, target, stable if isinstance(stable, str) else None)
    return await _append(state, principal, translation)


# ---- MLflow ------------------------------------------------------------------------------


async def post_mlflow(request: Request) -> Response:
    """``POST /api/v1/mlflow/webhook``: a signed MLflow registry delivery.

    MLflow cannot send a bearer token; the HMAC signature with the secret in
    ``LEDGER_MLFLOW_SECRET`` authenticates it, and the events are recorded as
    the pipeline principal ``LEDGER_MLFLOW_ACTOR`` (default ``mlflow``).
    """
    state = _state(request)
    secret = os.environ.get("LEDGER_MLFLOW_SECRET", "")
    if not secret:
        raise NotFound("MLflow webhooks are off: set LEDGER_MLFLOW_SECRET on the server")
    body = await request.body()
    delivery = mlflow.verify(secret, request.headers, body, time.time())
    principal = Principal(os.environ.get("LEDGER_MLFLOW_ACTOR", "mlflow"), "pipeline")
    payload = decode_json_body(body, request.headers.get("content-encoding"))
    return await _append(state, principal, mlflow.translate(payload, delivery))


async def get_aliases(request: Request) -> Response:
    """``GET /api/v1/models/{name}/aliases?at=T``: every alias of a model and its version at T."""
    state = _state(request)
    require(principal_of(request), Scope.READ, anonymous_reads=state.settings.anonymous_reads)
    at = request.query_params.get("at")
    at = normalize_time(at, field="at") if at else _now(state)
    ref = mlflow.model_ref(request.path_params["name"])
    events = await run_in_threadpool(
        _reader(state).find_events, subjects=[ref], types=["model.alias.changed"], limit=100_000
    )
    changes = [(e.occurred_at, cast(dict[str, object], e.data)) for e in events]
    return JSONResponse({"model": ref, "at": at, "aliases": mlflow.aliases_at(changes, at)})


ROUTES = [
    Route("/api/v1/lineage", post_lineage, methods=["POST"]),
    Route("/api/v1/lineage/runs/{run_id:path}", get_run, methods=["GET"]),
    Route("/api/v1/flagger/event", post_flagger_event, methods=["POST"]),
    Route("/api/v1/flagger/{gate}", post_flagger_gate, methods=["POST"]),
    Route("/api/v1/argo/notification", post_argo, methods=["POST"]),
    Route("/api/v1/mlflow/webhook", post_mlflow, methods=["POST"]),
    Route("/api/v1/models/{name:path}/aliases", get_aliases, methods=["GET"]),
]
"""Every integration route; ``ledger.api.app`` mounts them."""
