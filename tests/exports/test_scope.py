"""Which entities a bundle or a PROV export covers, from the lineage graph alone."""

from __future__ import annotations

import pytest

from ledger.errors import BadRequest
from ledger.exports.scope import Scope, parse_scope, scope_lineage, scope_subjects
from ledger.projections.base import Edge
from ledger.projections.lineage import LineageGraph

T = "2026-11-20T09:00:00.000000Z"
EDGES = [
    Edge("dataset:tx@1", "dataset:tx", "version_of", 1, T),
    Edge("model:m@1", "dataset:tx@1", "trained_on", 2, T),
    Edge("model:m@1", "model:m", "version_of", 2, T),
    Edge("feature:f", "model:m@1", "feature_of", 3, T),
    Edge("deployment:m/prod", "model:m@1", "serves", 4, T),
    Edge("incident:I-1", "deployment:m/prod", "affects", 5, T),
    Edge("model:other@1", "model:other", "version_of", 6, T),
    Edge("model:other@1", "dataset:tx@1", "trained_on", 6, T),
    Edge("model:m@a@b", "model:m@a", "version_of", 7, T),
]


@pytest.fixture
def graph() -> LineageGraph:
    return LineageGraph(EDGES)


def test_a_model_covers_its_versions_their_upstream_deployments_and_incidents(
    graph: LineageGraph,
) -> None:
    assert scope_subjects(Scope("model", "m"), graph) == {
        "model:m",
        "model:m@1",
        "dataset:tx@1",
        "dataset:tx",
        "feature:f",
        "deployment:m/prod",
        "incident:I-1",
    }


def test_a_model_as_of_an_earlier_seq_leaves_later_edges_out(graph: LineageGraph) -> None:
    assert scope_subjects(Scope("model", "m"), graph, as_of_seq=2) == {
        "model:m",
        "model:m@1",
        "dataset:tx@1",
        "dataset:tx",
    }


def test_an_incident_widens_like_a_related_timeline(graph: LineageGraph) -> None:
    covered = scope_subjects(Scope("incident", "I-1"), graph)
    assert {"incident:I-1", "deployment:m/prod", "model:m@1", "dataset:tx@1"} <= covered
    assert "model:other@1" not in covered


def test_an_unknown_model_covers_only_itself(graph: LineageGraph) -> None:
    assert scope_subjects(Scope("model", "ghost"), graph) == {"model:ghost"}


def test_the_lineage_of_a_scope_is_the_edges_among_its_subjects(graph: LineageGraph) -> None:
    subjects = scope_subjects(Scope("model", "m"), graph)
    nodes, edges = scope_lineage(Scope("model", "m"), subjects, graph, as_of_seq=4)
    assert nodes[0] == "model:m"
    assert [(e.source, e.relation, e.seq) for e in edges] == [
        ("dataset:tx@1", "version_of", 1),
        ("model:m@1", "trained_on", 2),
        ("model:m@1", "version_of", 2),
        ("feature:f", "feature_of", 3),
        ("deployment:m/prod", "serves", 4),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model:m@1", "'model:m@1': give an unversioned model:NAME or incident:ID"),
        ("dataset:tx", "'dataset:tx': give an unversioned model:NAME or incident:ID"),
        ("nonsense", "'nonsense' is not an entity reference"),
    ],
)
def test_only_models_and_incidents_are_scopes(text: str, message: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_scope(text)
    assert raised.value.message == message


def test_a_scope_names_its_ref() -> None:
    assert parse_scope("incident:INC-7") == Scope("incident", "INC-7")
    assert parse_scope("incident:INC-7").ref == "incident:INC-7"
