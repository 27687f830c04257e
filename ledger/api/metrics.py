"""Prometheus metrics: appends by type, rejects by code, latency by route, size, checkpoint age.

Each app has its own registry (tests build many apps in one process). Counters
and histograms are per process: with ``--workers N`` a scrape sees the worker
that answered it. The size and checkpoint gauges are read from the store at
scrape time, so every worker reports the same, current values.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.errors import StoreError
from ledger.store.protocol import EventStore

__all__ = ["CONTENT_TYPE", "Metrics", "TimingMiddleware"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _LedgerCollector(Collector):
    """Gauges read from the store when scraped."""

    def __init__(self, store: EventStore, now: Callable[[], datetime]) -> None:
        self._store = store
        self._now = now

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("ledger_store_up", "1 when the store answered this scrape")
        try:
            head = self._store.head()
            checkpoint = self._store.latest_checkpoint()
        except StoreError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("ledger_size", "Events in the ledger (the head seq)", head.seq)
        if checkpoint is not None:
            created = datetime.fromisoformat(checkpoint.created_at)
            age = (self._now() - created).total_seconds()
            yield GaugeMetricFamily(
                "ledger_last_checkpoint_age_seconds",
                "Seconds since the last signed checkpoint",
                age,
            )
            yield GaugeMetricFamily(
                "ledger_last_checkpoint_size",
                "Tree size of the last signed checkpoint",
                checkpoint.size,
            )


class Metrics:
    """The server's metrics and their registry."""

    def __init__(self, store: EventStore, now: Callable[[], datetime] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.appends = Counter(
            "ledger_appends",
            "Events appended (new, not idempotent retries), by type",
            ["type"],
            registry=self.registry,
        )
        self.rejects = Counter(
            "ledger_rejects", "Requests refused, by error code", ["code"], registry=self.registry
        )
        self.latency = Histogram(
            "ledger_request_duration_seconds",
            "HTTP request latency, by route",
            ["route", "method", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_LedgerCollector(store, now or (lambda: datetime.now(UTC))))
        # ``labels()`` per request costs more than the increment: the children,
        # by label value (no more of them than the metric keeps itself).
        self._appended: dict[str, Any] = {}
        self._rejected: dict[str, Any] = {}

    def appended(self, event_type: str, count: int) -> None:
        """Count ``count`` new events of ``event_type``."""
        child = self._appended.get(event_type)
        if child is None:
            child = self._appended[event_type] = self.appends.labels(event_type)
        child.inc(count)

    def rejected(self, code: str) -> None:
        """Count one refused request under its error code."""
        child = self._rejected.get(code)
        if child is None:
            child = self._rejected[code] = self.rejects.labels(code)
        child.inc()

    def render(self) -> bytes:
        """The Prometheus text exposition (blocking: reads the store)."""
        return generate_latest(self.registry)


class TimingMiddleware:
    """Observes every HTTP request's latency under its route template, not its raw path."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # Bounded: routes are templates (or "unmatched"), methods and statuses few.
        self._series: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The router writes the matched route into the shared scope dict;
            # unmatched paths share one label so scanners cannot blow up the series.
            route = getattr(scope.get("route"), "path", "unmatched")
            key = (route, scope["method"], status)
            series = self._series.get(key)
            if series is None:  # labels() per request costs more than the observation
                series = self._series[key] = self.metrics.latency.labels(
                    route, scope["method"], str(status)
                )
            series.observe(time.perf_counter() - start)
