"""A per-process lineage graph kept up to date from the store's edge table.

The projections write every lineage edge, in seq order, into the store
(``store.edges(after_seq)``). Rebuilding a :class:`LineageGraph` per query
would cost a full read of that table; instead one graph per store is kept
in memory and, before each query, extended with the edges recorded since the
last one: one indexed read that returns nothing when nothing changed.

Readers never wait for each other: :meth:`LineageCache.snapshot` refreshes
under a lock, then hands out the graph with the seq it was loaded to. Edges
added later by another thread all have a higher seq, and every query passes
``as_of_seq`` no later than that seq, so a walk never sees a half-added edge
(``LineageGraph`` reads its per-node edge lists in seq order and stops at the
cutoff).
"""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from ledger.projections.base import Edge
from ledger.projections.lineage import LineageGraph

__all__ = ["EdgeSource", "LineageCache", "LineageSnapshot", "shared_cache"]

EdgeRow = tuple[str, str, str, int, str]
"""(source, target, relation, seq, time), as the stores return them."""


class EdgeSource(Protocol):
    """The part of a store the cache reads."""

    def edges(self, after_seq: int = 0) -> Iterable[EdgeRow]:
        """Edges with seq > ``after_seq``, in seq order."""
        ...


@dataclass(frozen=True, slots=True)
class LineageSnapshot:
    """The shared graph and the seq it is complete up to.

    Pass :meth:`bound` of the caller's ``as_of_seq`` to every graph query so
    that edges added after the snapshot stay invisible.
    """

    graph: LineageGraph
    seq: int

    def bound(self, as_of_seq: int | None) -> int:
        """``as_of_seq`` capped at the snapshot (the snapshot itself when None)."""
        return self.seq if as_of_seq is None else min(as_of_seq, self.seq)


class LineageCache:
    """One growing :class:`LineageGraph` over an :class:`EdgeSource`; thread-safe."""

    def __init__(self, source: EdgeSource) -> None:
        self._source = source
        self._graph = LineageGraph()
        self._loaded = 0  # seq of the last edge row read from the source
        self._lock = threading.Lock()

    @property
    def loaded_seq(self) -> int:
        """The seq of the newest edge read from the store so far (0 before any)."""
        return self._loaded

    def refresh(self) -> int:
        """Add the edges recorded since the last refresh; returns how many were new."""
        with self._lock:
            return self._refresh()

    def snapshot(self) -> LineageSnapshot:
        """Refresh, then the graph with the seq it is complete up to (blocking: reads the store)."""
        with self._lock:
            self._refresh()
            return LineageSnapshot(self._graph, self._loaded)

    def _refresh(self) -> int:
        rows = list(self._source.edges(self._loaded))
        # A large load allocates millions of long-lived objects; left to the
        # cyclic collector they trigger repeated full collections (~0.5 s each
        # at 100k nodes) during the load and on later requests. Load with the
        # collector paused, then move the graph to the permanent generation.
        bulk = len(rows) > 10_000
        paused = bulk and gc.isenabled()
        if paused:
            gc.disable()
        try:
            added = sum(
                self._graph.add(Edge(source, target, relation, int(seq), str(time)))
                for source, target, relation, seq, time in rows
            )
        finally:
            if paused:
                gc.enable()
        if bulk:
            gc.freeze()
        if rows:
            self._loaded = max(self._loaded, max(int(row[3]) for row in rows))
        return added


_SHARED: weakref.WeakKeyDictionary[object, LineageCache] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def shared_cache(store: EdgeSource) -> LineageCache:
    """The process-wide cache of ``store``, made on first use and dropped with the store."""
    with _SHARED_LOCK:
        cache = _SHARED.get(store)
        if cache is None:
            cache = _SHARED[store] = LineageCache(store)
        return cache
