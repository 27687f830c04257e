"""``rollout-ledger lineage-export``: each format from the demo ledger, as of a moment."""

from __future__ import annotations

import io
import json
from pathlib import Path

import networkx as nx
import pytest
from prov.model import ProvDocument

from tests.exports.conftest import Demo, ok, run

VERSION = "model:fraud-detector@1.4.0"


def test_graphml_reads_back_with_the_upstream_of_the_version(demo: Demo) -> None:
    text = ok(
        "--db",
        demo.db,
        "lineage-export",
        VERSION,
        "--format",
        "graphml",
        "--upstream",
        "--depth",
        "1",
    ).stdout
    graph = nx.read_graphml(io.StringIO(text), force_multigraph=True, edge_key_type=str)
    assert next(iter(graph.nodes)) == VERSION
    assert (VERSION, "dataset:fraud-features@2026-11-12", "trained_on") in graph.edges(keys=True)
    assert "deployment:fraud-detector/prod" not in graph  # downstream: left out


def test_dot_and_mermaid_list_each_node_once(demo: Demo) -> None:
    dot = ok("--db", demo.db, "lineage-export", VERSION, "--format", "dot").stdout
    mermaid = ok("--db", demo.db, "lineage-export", VERSION, "--format", "mermaid").stdout
    graphml = ok("--db", demo.db, "lineage-export", VERSION, "--format", "graphml").stdout
    nodes = nx.read_graphml(io.StringIO(graphml)).number_of_nodes()
    assert dot.startswith("digraph lineage {\n")
    assert sum(1 for line in dot.splitlines() if "[label=" in line and " -> " not in line) == nodes
    assert mermaid.startswith("flowchart LR\n")
    assert (
        sum(1 for line in mermaid.splitlines() if line.startswith("  n") and '["' in line) == nodes
    )


def test_as_of_a_seq_shows_the_graph_as_it_stood(demo: Demo) -> None:
    now = ok(
        "--db",
        demo.db,
        "lineage-export",
        "model:fraud-detector",
        "--format",
        "graphml",
        "--downstream",
    ).stdout
    then = ok(
        "--db",
        demo.db,
        "lineage-export",
        "model:fraud-detector",
        "--format",
        "graphml",
        "--downstream",
        "--as-of",
        "seq:20",
    ).stdout
    assert VERSION in nx.read_graphml(io.StringIO(now))
    assert VERSION not in nx.read_graphml(io.StringIO(then))  # registered at seq 23


def test_prov_json_is_the_models_provenance(demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "prov.json"
    ok(
        "--db",
        demo.db,
        "lineage-export",
        "model:fraud-detector",
        "--format",
        "prov-json",
        "--out",
        out,
    )
    assert out.read_text(encoding="utf-8") == ok("--db", demo.db, "prov", "fraud-detector").stdout
    assert "entity" in json.loads(out.read_text(encoding="utf-8"))
    assert ProvDocument.deserialize(source=str(out), format="json").get_records()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["nonsense", "--format", "dot"],
            "ref: 'nonsense' is not 'kind:name[@version]' (kind is lowercase, e.g. model)",
        ),
        ([VERSION, "--format", "dot", "--depth", "0"], "depth: must be between 1 and 10, got 0"),
        (
            [VERSION, "--format", "dot", "--as-of", "yesterday"],
            "--as-of: expected seq:N or an RFC 3339 time such as 2026-11-25T14:02:00Z, "
            "got 'yesterday'",
        ),
        (
            [VERSION, "--format", "prov-json"],
            "'model:fraud-detector@1.4.0': give an unversioned model:NAME or incident:ID",
        ),
        (
            ["incident:INC-2291", "--format", "prov-json"],
            "prov-json: give model:NAME, not 'incident:INC-2291'",
        ),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(demo: Demo, args: list[str], message: str) -> None:
    result = run("--db", demo.db, "lineage-export", *args)
    assert (result.exit_code, result.stderr) == (2, f"error: {message}\n")
