"""The lineage graph: entities and the edges between them, queryable as of any seq or time.

:class:`LineageGraph` keeps a networkx ``MultiDiGraph`` (``graph``): nodes are
entity references, and each edge is keyed by its relation and carries the
:class:`~ledger.projections.base.Edge` that first recorded it (attribute
``edge``). Edges only ever arrive, in seq order, so "as of seq N" is the
subgraph of edges with ``seq <= N`` and no snapshot is kept. Beside the
networkx graph, each node keeps its upstream and its downstream edges in two
lists, which are in seq order because edges arrive in seq order: a walk as of
seq N stops reading a node's list at the first edge past N.

Upstream and downstream follow :mod:`ledger.projections.edges`: for most
relations the target is upstream of the source, for ``feature_of``,
``deployed_as`` and ``consumed_by`` the source is. :meth:`LineageGraph.path`
ignores direction, but reports each edge as it was recorded.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from typing import Literal

import networkx as nx

from ledger.projections.base import Edge
from ledger.projections.edges import target_is_upstream

__all__ = ["Direction", "LineageGraph"]

Direction = Literal["upstream", "downstream", "both"]


class LineageGraph:
    """An append-only lineage graph over networkx, with as-of queries.

    Every query takes ``as_of_seq`` and/or ``as_of_time`` (both: the earlier
    wins); without them it answers for the whole graph. ``as_of_time`` keeps
    the edges recorded at or before that time, assuming ``recorded_at`` does
    not decrease along seq (the ledger stamps it from one clock).
    """

    def __init__(self, edges: Iterable[Edge] = ()) -> None:
        self.graph = nx.MultiDiGraph()
        self._up: dict[str, list[Edge]] = {}  # per node: edges to what it depends on
        self._down: dict[str, list[Edge]] = {}  # per node: edges to what depends on it
        self._seqs: list[int] = []
        self._times: list[str] = []  # running maximum, so bisect is valid
        self.add_all(edges)

    def __contains__(self, ref: object) -> bool:
        return ref in self.graph

    @property
    def node_count(self) -> int:
        """Entities with at least one edge."""
        return int(self.graph.number_of_nodes())

    @property
    def edge_count(self) -> int:
        """Distinct ``(source, target, relation)`` edges."""
        return len(self._seqs)

    @property
    def last_seq(self) -> int:
        """The seq of the newest edge, 0 when empty."""
        return self._seqs[-1] if self._seqs else 0

    def add(self, edge: Edge) -> bool:
        """Add ``edge`` unless ``(source, target, relation)`` is already there; True if added.

        The first recording of an edge is the one that counts for as-of queries.

        Raises:
            ValueError: ``edge.seq`` is below the last added edge's; edges must
                arrive in seq order for as-of queries to be right.
        """
        if self._seqs and edge.seq < self._seqs[-1]:
            raise ValueError(f"edge seq {edge.seq} arrives after seq {self._seqs[-1]}")
        if self.graph.has_edge(edge.source, edge.target, edge.relation):
            return False
        self.graph.add_edge(edge.source, edge.target, key=edge.relation, edge=edge)
        dependent, dependency = edge.source, edge.target
        if not target_is_upstream(edge.relation):
            dependent, dependency = dependency, dependent
        self._up.setdefault(dependent, []).append(edge)
        self._down.setdefault(dependency, []).append(edge)
        self._seqs.append(edge.seq)
        self._times.append(max(edge.time, self._times[-1]) if self._times else edge.time)
        return True

    def add_all(self, edges: Iterable[Edge]) -> int:
        """Add edges in order; returns how many were new."""
        return sum(self.add(edge) for edge in edges)

    def cutoff(self, as_of_seq: int | None = None, as_of_time: str | None = None) -> int | None:
        """The greatest seq an as-of query sees, or None for "everything"."""
        if as_of_time is None:
            return as_of_seq
        index = bisect_right(self._times, as_of_time)
        by_time = self._seqs[index - 1] if index else 0
        return by_time if as_of_seq is None else min(as_of_seq, by_time)

    def _walk(
        self, ref: str, upstream: bool, depth: int | None, cutoff: int | None, edges: bool = True
    ) -> tuple[list[str], list[Edge]]:
        """Breadth-first nodes (``ref`` first) and, if asked, the edges walked, to ``depth``."""
        index = self._up if upstream else self._down
        limit = self.last_seq if cutoff is None else cutoff
        seen = {ref}
        order, walked = [ref], []
        frontier = [ref]
        hops = 0
        while frontier and (depth is None or hops < depth):
            hops += 1
            nxt = []
            for node in frontier:
                for edge in index.get(node, ()):
                    if edge.seq > limit:
                        break  # the list is in seq order: the rest is later still
                    if edges:
                        walked.append(edge)
                    neighbour = edge.target if edge.source == node else edge.source
                    if neighbour not in seen:
                        seen.add(neighbour)
                        order.append(neighbour)
                        nxt.append(neighbour)
            frontier = nxt
        return order, walked

    def upstream(
        self,
        ref: str,
        depth: int | None = 3,
        *,
        as_of_seq: int | None = None,
        as_of_time: str | None = None,
    ) -> list[str]:
        """What ``ref`` depends on, nearest first, to ``depth`` hops (None: all)."""
        return self._walk(ref, True, depth, self.cutoff(as_of_seq, as_of_time), edges=False)[0][1:]

    def downstream(
        self,
        ref: str,
        depth: int | None = 3,
        *,
        as_of_seq: int | None = None,
        as_of_time: str | None = None,
    ) -> list[str]:
        """What depends on ``ref``, nearest first, to ``depth`` hops (None: all)."""
        return self._walk(ref, False, depth, self.cutoff(as_of_seq, as_of_time), edges=False)[0][1:]

    def neighbourhood(
        self,
        ref: str,
        direction: Direction = "both",
        depth: int | None = 1,
        *,
        as_of_seq: int | None = None,
        as_of_time: str | None = None,
    ) -> tuple[list[str], list[Edge]]:
        """Nodes (``ref`` first) and edges within ``depth`` hops up-, down- or both streams.

        ``both`` is the union of the upstream and the downstream walks, not an
        undirected walk: a sibling reached only by going up then down is left out.
        """
        cutoff = self.cutoff(as_of_seq, as_of_time)
        nodes: dict[str, None] = {}
        edges: dict[tuple[str, str, str], Edge] = {}
        for upstream in (True, False):
            if direction == ("downstream" if upstream else "upstream"):
                continue
            found, walked = self._walk(ref, upstream, depth, cutoff)
            nodes.update(dict.fromkeys(found))
            edges.update(((e.source, e.target, e.relation), e) for e in walked)
        return list(nodes), sorted(edges.values(), key=lambda e: (e.seq, e.source, e.target))

    def path(
        self, a: str, b: str, *, as_of_seq: int | None = None, as_of_time: str | None = None
    ) -> list[Edge] | None:
        """A shortest chain of edges linking ``a`` to ``b`` in either direction.

        Returns the edges in order from ``a`` to ``b``, each with its recorded
        direction; ``[]`` when ``a == b``; None when they are not connected.
        """
        cutoff = self.cutoff(as_of_seq, as_of_time)
        if a == b:
            return [] if a in self.graph else None
        if a not in self.graph or b not in self.graph:
            return None
        # Bidirectional breadth-first search: each side keeps the edge it came by.
        came: list[dict[str, Edge | None]] = [{a: None}, {b: None}]
        frontiers = [[a], [b]]
        while frontiers[0] and frontiers[1]:
            side = 0 if len(frontiers[0]) <= len(frontiers[1]) else 1
            nxt = []
            for node in frontiers[side]:
                for neighbour, edge in self._around(node, cutoff):
                    if neighbour in came[side]:
                        continue
                    came[side][neighbour] = edge
                    if neighbour in came[1 - side]:
                        return self._join(came, neighbour)
                    nxt.append(neighbour)
            frontiers[side] = nxt
        return None

    def _around(self, node: str, cutoff: int | None) -> Iterator[tuple[str, Edge]]:
        limit = self.last_seq if cutoff is None else cutoff
        for index in (self._up, self._down):
            for edge in index.get(node, ()):
                if edge.seq > limit:
                    break
                yield (edge.target if edge.source == node else edge.source), edge

    @staticmethod
    def _join(came: list[dict[str, Edge | None]], meet: str) -> list[Edge]:
        halves: list[list[Edge]] = [[], []]
        for side in (0, 1):
            node = meet
            while (edge := came[side][node]) is not None:
                halves[side].append(edge)
                node = edge.source if edge.target == node else edge.target
        return halves[0][::-1] + halves[1]

    def impact(
        self, ref: str, *, as_of_seq: int | None = None, as_of_time: str | None = None
    ) -> list[str]:
        """Every deployment downstream of ``ref`` at any depth, sorted.

        Lineage never forgets, so this includes deployments that served an
        affected version once; the registry's status says which serve it now.
        """
        found = self._walk(ref, False, None, self.cutoff(as_of_seq, as_of_time), edges=False)[0]
        return sorted(node for node in found[1:] if node.startswith("deployment:"))
