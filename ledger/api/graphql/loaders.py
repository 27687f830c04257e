"""Per-request batched reads of the projections: documents, status intervals, lineage.

Every registry field reads through these, so a query touching 50 models, their
versions and their tests costs one ``get_docs`` per level of the query rather
than one per object: strawberry's ``DataLoader`` gathers the keys asked for in
one tick and the batch function reads them in one call. Loaders live in the
request's :class:`~ledger.api.graphql.context.Context`, so nothing is cached
across requests, except the lineage graph, which only ever grows
(:mod:`ledger.lineage_cache`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import cast

import orjson
from starlette.concurrency import run_in_threadpool
from strawberry.dataloader import DataLoader

from ledger.api.graphql.asof import Point
from ledger.api.graphql.context import Info, state_of
from ledger.lineage_cache import LineageCache, LineageSnapshot, shared_cache
from ledger.service_review import ProjectionReader, StatusRow, status_row

__all__ = [
    "MAX_DEPLOYMENTS",
    "Doc",
    "Interval",
    "deployment_docs_now",
    "deployments_of",
    "intervals",
    "lineage_snapshot",
    "load_doc",
    "load_docs",
    "parse_doc",
    "reader",
]

Doc = dict[str, object]
"""A projection document, parsed (shapes in :mod:`ledger.projections.registry`)."""


def reader(info: Info) -> ProjectionReader:
    """The store behind a resolver, as a projection reader.

    Its reads run on the calling thread's own read connection
    (``ApiState.reads``), so they never queue behind an append's commit.
    """
    return cast(ProjectionReader, state_of(info).reads)


def parse_doc(blob: bytes | None) -> Doc | None:
    """A stored document, or None when absent or not a JSON object."""
    if blob is None:
        return None
    parsed = orjson.loads(blob)
    return parsed if isinstance(parsed, dict) else None


def _doc_loader(info: Info) -> DataLoader[str, Doc | None]:
    store = reader(info)

    async def load(keys: list[str]) -> list[Doc | None]:
        found = await run_in_threadpool(store.get_docs, keys)
        return [parse_doc(found.get(key)) for key in keys]

    return DataLoader(load_fn=load)


async def load_doc(info: Info, key: str) -> Doc | None:
    """The document at ``key`` (batched with every other key asked for in the same tick)."""
    return await info.context.loader("docs", lambda: _doc_loader(info)).load(key)


async def load_docs(info: Info, keys: Sequence[str]) -> list[Doc | None]:
    """The documents at ``keys``, in order (one batched read)."""
    return await info.context.loader("docs", lambda: _doc_loader(info)).load_many(list(keys))


Interval = StatusRow
"""One validity interval of a version's status in an environment (``status_intervals``)."""


IntervalKey = tuple[str | None, str | None, Point, frozenset[str] | None]
"""(model, environment, moment, statuses): the intervals in force then, for that model and
environment, with one of those statuses (``None``: any)."""


def _interval_loader(info: Info) -> DataLoader[IntervalKey, list[Interval]]:
    store = reader(info)

    def read(keys: list[IntervalKey]) -> list[list[Interval]]:
        by_point: dict[tuple[Point, frozenset[str] | None], list[IntervalKey]] = {}
        for key in keys:
            by_point.setdefault((key[2], key[3]), []).append(key)
        found: dict[IntervalKey, list[Interval]] = {}
        for (point, statuses), group in by_point.items():
            # One read per moment: narrowed to a model or environment all keys share.
            models = {k[0] for k in group}
            envs = {k[1] for k in group}
            rows = store.status_intervals(
                model=next(iter(models)) if len(models) == 1 else None,
                environment=next(iter(envs)) if len(envs) == 1 else None,
                at_time=point.time,
                at_seq=point.seq,
                statuses=statuses,
            )
            parsed = [status_row(row) for row in rows]
            for key in group:
                model, env, _, _ = key
                found[key] = [
                    i
                    for i in parsed
                    if (model is None or i.model == model) and (env is None or i.environment == env)
                ]
        return [found[key] for key in keys]

    async def load(keys: list[IntervalKey]) -> list[list[Interval]]:
        return await run_in_threadpool(read, keys)

    return DataLoader(load_fn=load)


async def intervals(
    info: Info,
    point: Point,
    *,
    model: str | None = None,
    environment: str | None = None,
    statuses: frozenset[str] | None = None,
) -> list[Interval]:
    """Status intervals in force at ``point``, in seq order, optionally for a model and env.

    ``statuses`` narrows them to those statuses; asked for serving statuses
    only, the store answers from its serving-interval index (milliseconds at
    a million events, against a scan of every interval otherwise).
    """
    loader = info.context.loader("intervals", lambda: _interval_loader(info))
    return await loader.load((model, environment, point, statuses))


class SnapshotFlight:
    """Concurrent requests share lineage refreshes, each one that started after they arrived.

    A refresh is one store read (edges since the last one) and a thread-pool
    hop. Under concurrent lineage queries each request would make its own,
    one after the other on the cache's lock; here a request joins the next
    refresh to start, which then serves every request that arrived before it
    began. So each still sees every edge committed before it arrived, and at
    most two refreshes run per burst of requests instead of one per request.
    One flight per event loop.
    """

    def __init__(self, cache: LineageCache) -> None:
        self._cache = cache
        self._loop = asyncio.get_running_loop()
        self._next: asyncio.Future[LineageSnapshot] | None = None
        self._runner: asyncio.Task[None] | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    async def snapshot(self) -> LineageSnapshot:
        if self._next is None:
            self._next = self._loop.create_future()
        waiting = self._next
        if self._runner is None or self._runner.done():
            self._runner = self._loop.create_task(self._run())
        return await asyncio.shield(waiting)

    async def _run(self) -> None:
        while self._next is not None:
            future, self._next = self._next, None
            try:
                snap = await run_in_threadpool(self._cache.snapshot)
            except Exception as error:  # every waiter gets it; nothing else to do here
                future.set_exception(error)
                future.exception()  # retrieved: waiters that went away need not log it
            else:
                future.set_result(snap)


async def lineage_snapshot(info: Info) -> LineageSnapshot:
    """The process's lineage graph, refreshed for this request (see :mod:`ledger.lineage_cache`).

    Fresh as of the request's arrival: concurrent requests share a refresh
    (``SnapshotFlight``); one request's fields share one.
    """
    state = state_of(info)
    flight = state.lineage_flight
    if not isinstance(flight, SnapshotFlight) or flight.loop is not asyncio.get_running_loop():
        # The process-wide cache is keyed by the store itself (one graph in memory).
        cache = shared_cache(cast(ProjectionReader, state.ledger.store))
        flight = state.lineage_flight = SnapshotFlight(cache)
    task = info.context.loader("lineage", lambda: asyncio.ensure_future(flight.snapshot()))
    return await task


MAX_DEPLOYMENTS = 1000
"""Most deployment documents one listing reads (the store lists documents by key prefix)."""


def deployment_docs_now(store: ProjectionReader, model: str | None) -> list[tuple[str, Doc]]:
    """Deployment documents by ref, of one model or of all (blocking), at most MAX_DEPLOYMENTS."""
    prefix = "deployment:" if model is None else f"deployment:{model}/"
    out = []
    for key, blob in store.docs_with_prefix(prefix, MAX_DEPLOYMENTS):
        doc = parse_doc(blob)
        if doc is not None and (model is None or doc.get("model") == model):
            out.append((key, doc))
    return out


def _deployments_loader(info: Info) -> DataLoader[str, list[tuple[str, Doc]]]:
    store = reader(info)

    async def load(models: list[str]) -> list[list[tuple[str, Doc]]]:
        everything = await run_in_threadpool(
            deployment_docs_now, store, models[0] if len(models) == 1 else None
        )
        return [[(k, d) for k, d in everything if d.get("model") == m] for m in models]

    return DataLoader(load_fn=load)


async def deployments_of(info: Info, model: str) -> list[tuple[str, Doc]]:
    """The deployment documents of ``model`` (all models asked in one tick share one read)."""
    return await info.context.loader("deployments", lambda: _deployments_loader(info)).load(model)
