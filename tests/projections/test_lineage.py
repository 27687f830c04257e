"""The lineage graph: up/downstream, neighbourhoods, paths, impact, all as of a seq or time."""

from __future__ import annotations

import random

import networkx as nx
import pytest

from ledger.projections.base import Edge
from ledger.projections.edges import target_is_upstream
from ledger.projections.lineage import LineageGraph
from tests.projections.lineage_data import layered_lineage

T0 = "2026-11-20T09:00:00.000000Z"


def at(seq: int) -> str:
    return f"2026-11-20T09:00:{seq:02d}.000000Z"


EDGES = [
    Edge("dataset:tx@1", "dataset:tx", "version_of", 1, at(1)),
    Edge("model:m@1", "dataset:tx@1", "trained_on", 2, at(2)),
    Edge("model:m@1", "model:m", "version_of", 3, at(3)),
    Edge("feature:f", "model:m@1", "feature_of", 4, at(4)),
    Edge("deployment:m/prod", "model:m@1", "serves", 5, at(5)),
    Edge("model:m@2", "dataset:tx@2", "trained_on", 6, at(6)),
    Edge("dataset:tx@2", "dataset:tx@1", "derived_from", 6, at(6)),
    Edge("deployment:m/prod", "model:m@2", "serves", 7, at(7)),
    Edge("deployment:m/staging", "model:m@2", "serves", 8, at(8)),
    Edge("incident:I-1", "deployment:m/prod", "affects", 9, at(9)),
]


@pytest.fixture
def graph() -> LineageGraph:
    return LineageGraph(EDGES)


def test_upstream_follows_dependencies_nearest_first(graph: LineageGraph) -> None:
    assert graph.upstream("deployment:m/prod", 1) == ["model:m@1", "model:m@2"]
    assert graph.upstream("deployment:m/prod", 2) == [
        "model:m@1", "model:m@2", "dataset:tx@1", "model:m", "feature:f", "dataset:tx@2"
    ]  # fmt: skip
    assert graph.upstream("incident:I-1", None)[-1] == "dataset:tx"


def test_downstream_is_the_reverse_and_honours_feature_of(graph: LineageGraph) -> None:
    assert graph.downstream("dataset:tx@1", 1) == ["model:m@1", "dataset:tx@2"]
    assert graph.downstream("feature:f", 2) == ["model:m@1", "deployment:m/prod"]
    assert graph.downstream("deployment:m/prod", 3) == ["incident:I-1"]


def test_as_of_seq_and_time_see_the_graph_as_it_stood(graph: LineageGraph) -> None:
    assert graph.upstream("deployment:m/prod", 1, as_of_seq=6) == ["model:m@1"]
    assert graph.upstream("deployment:m/prod", 1, as_of_time=at(6)) == ["model:m@1"]
    assert graph.upstream("deployment:m/prod", 1, as_of_time="2026-11-20T09:00:06.5Z") == [
        "model:m@1"
    ]
    assert graph.downstream("dataset:tx@1", 1, as_of_seq=4) == ["model:m@1"]
    assert graph.upstream("deployment:m/prod", 1, as_of_time=T0) == []
    assert graph.cutoff(as_of_seq=8, as_of_time=at(6)) == 6


def test_impact_lists_every_downstream_deployment(graph: LineageGraph) -> None:
    assert graph.impact("dataset:tx@1") == ["deployment:m/prod", "deployment:m/staging"]
    assert graph.impact("dataset:tx@1", as_of_seq=7) == ["deployment:m/prod"]
    assert graph.impact("model:m") == ["deployment:m/prod"]  # through model:m@1, its version
    assert graph.impact("model:m@2") == ["deployment:m/prod", "deployment:m/staging"]
    assert graph.impact("unknown:x") == []


def test_neighbourhood_returns_nodes_and_the_edges_walked(graph: LineageGraph) -> None:
    nodes, edges = graph.neighbourhood("model:m@1", "both", 1)
    assert nodes == ["model:m@1", "dataset:tx@1", "model:m", "feature:f", "deployment:m/prod"]
    assert [e.seq for e in edges] == [2, 3, 4, 5]
    up_nodes, _ = graph.neighbourhood("model:m@1", "upstream", 1)
    assert up_nodes == ["model:m@1", "dataset:tx@1", "model:m", "feature:f"]
    down_nodes, _ = graph.neighbourhood("model:m@1", "downstream", 2, as_of_seq=8)
    assert down_nodes == ["model:m@1", "deployment:m/prod"]
    assert graph.neighbourhood("nowhere:x", "both", 2) == (["nowhere:x"], [])


def test_path_is_shortest_in_either_direction_with_real_edges(graph: LineageGraph) -> None:
    path = graph.path("feature:f", "deployment:m/staging")
    assert path == [EDGES[3], EDGES[4], EDGES[7], EDGES[8]]
    assert graph.path("dataset:tx@2", "model:m") == [EDGES[6], EDGES[1], EDGES[2]]
    assert graph.path("feature:f", "deployment:m/staging", as_of_seq=7) is None
    assert graph.path("model:m", "model:m") == []
    assert graph.path("model:m", "nowhere:x") is None


def test_add_keeps_the_first_recording_and_insists_on_seq_order(graph: LineageGraph) -> None:
    assert graph.add(Edge("model:m@1", "dataset:tx@1", "trained_on", 20, at(20))) is False
    assert graph.edge_count == len(EDGES)
    assert graph.add(Edge("model:m@1", "dataset:tx@1", "evaluated_on", 20, at(20))) is True
    assert graph.last_seq == 20
    with pytest.raises(ValueError, match="edge seq 3 arrives after seq 20"):
        graph.add(Edge("a:1", "b:1", "derived_from", 3, at(3)))
    assert "model:m@1" in graph
    assert graph.node_count == 10


# ---- a 10k-node graph, checked against networkx's own algorithms ---------------------


@pytest.fixture(scope="module")
def big() -> tuple[LineageGraph, list[Edge]]:
    edges = layered_lineage(10_000, 30_000, seed=3)
    return LineageGraph(edges), edges


def _reference(edges: list[Edge], cutoff: int, upstream: bool) -> nx.DiGraph:
    """A plain digraph whose arcs point the way the walk goes, built from scratch."""
    g = nx.DiGraph()
    for e in edges:
        if e.seq <= cutoff:
            near, far = (
                (e.source, e.target) if target_is_upstream(e.relation) else (e.target, e.source)
            )
            g.add_edge(*((near, far) if upstream else (far, near)))
    return g


def test_big_graph_queries_agree_with_networkx(big: tuple[LineageGraph, list[Edge]]) -> None:
    graph, edges = big
    assert graph.edge_count == 30_000
    assert 9_900 <= graph.node_count <= 10_000
    rng = random.Random(5)
    nodes = sorted(graph.graph.nodes)
    for cutoff in (12_000, 30_000):
        ups, downs = _reference(edges, cutoff, True), _reference(edges, cutoff, False)
        undirected = nx.Graph(
            (e.source, e.target) for e in edges if e.seq <= cutoff and e.source != e.target
        )
        for ref in rng.sample(nodes, 40):
            for depth in (1, 3, None):
                want_up = (
                    nx.single_source_shortest_path_length(ups, ref, cutoff=depth)
                    if ref in ups
                    else {}
                )
                want_down = (
                    nx.single_source_shortest_path_length(downs, ref, cutoff=depth)
                    if ref in downs
                    else {}
                )
                assert set(graph.upstream(ref, depth, as_of_seq=cutoff)) == set(want_up) - {ref}
                assert set(graph.downstream(ref, depth, as_of_seq=cutoff)) == set(want_down) - {ref}
            impact = {n for n in want_down if n.startswith("deployment:")} - {ref}
            assert graph.impact(ref, as_of_seq=cutoff) == sorted(impact)
        for a, b in zip(rng.sample(nodes, 30), rng.sample(nodes, 30), strict=True):
            path = graph.path(a, b, as_of_seq=cutoff)
            if a not in undirected or b not in undirected or not nx.has_path(undirected, a, b):
                assert path is None or a == b
                continue
            assert path is not None
            assert len(path) == nx.shortest_path_length(undirected, a, b)
            here = a
            for edge in path:  # consecutive edges chain from a to b, each as recorded
                assert edge.seq <= cutoff
                assert here in (edge.source, edge.target)
                here = edge.target if edge.source == here else edge.source
            assert here == b
