"""GraphML, DOT and Mermaid of the lineage: any ref survives, every output stays well-formed."""

from __future__ import annotations

import io
import re

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.exports.lineage_formats import (
    GRAPH_FORMATS,
    dot_quote,
    mermaid_label,
    render_lineage,
    to_dot,
    to_graphml,
    to_mermaid,
)
from ledger.projections.base import Edge

T = "2026-11-20T09:00:00.000000Z"
NODES = ["model:m@1", "dataset:tx@1", "model:m"]
EDGES = [
    Edge("model:m@1", "dataset:tx@1", "trained_on", 2, T),
    Edge("model:m@1", "model:m", "version_of", 3, T),
]

# Text XML 1.0 can carry (GraphML's limit), rich in what each format must escape.
_TRICKY = st.sampled_from(['"', "\\", "\n", "\r", "\t", "<", ">", "&", "#", "`", "|", ";", "é"])
_TEXT = st.text(
    st.one_of(st.characters(min_codepoint=0x20, max_codepoint=0xD7FF), _TRICKY), min_size=1
)


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[str], list[Edge]]:
    nodes = draw(st.lists(_TEXT, min_size=1, max_size=6, unique=True))
    pairs = st.tuples(st.sampled_from(nodes), st.sampled_from(nodes))
    relations = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1)
    drawn = draw(st.lists(st.tuples(pairs, relations), max_size=8))
    unique = {(s, t, r): None for (s, t), r in drawn}
    edges = [Edge(s, t, r, seq, T) for seq, (s, t, r) in enumerate(unique, start=1)]
    return nodes, edges


def test_graphml_of_a_small_graph_reads_back_with_string_attributes() -> None:
    read = nx.read_graphml(io.StringIO(to_graphml(NODES, EDGES)), force_multigraph=True)
    assert list(read.nodes(data=True)) == [
        ("model:m@1", {"kind": "model"}),
        ("dataset:tx@1", {"kind": "dataset"}),
        ("model:m", {"kind": "model"}),
    ]
    assert list(read.edges(keys=True, data=True)) == [
        (
            "model:m@1",
            "dataset:tx@1",
            "trained_on",
            {"relation": "trained_on", "seq": "2", "time": T},
        ),
        ("model:m@1", "model:m", "version_of", {"relation": "version_of", "seq": "3", "time": T}),
    ]


@given(graphs())
def test_any_ref_round_trips_through_graphml(graph: tuple[list[str], list[Edge]]) -> None:
    nodes, edges = graph
    read = nx.read_graphml(
        io.StringIO(to_graphml(nodes, edges)), force_multigraph=True, edge_key_type=str
    )
    assert list(read.nodes) == nodes
    assert sorted(read.edges(keys=True)) == sorted((e.source, e.target, e.relation) for e in edges)


def test_graphml_refuses_a_character_xml_cannot_carry() -> None:
    with pytest.raises(ValueError, match="U\\+0000"):
        to_graphml(["model:a\x00b"], [])


@pytest.mark.parametrize("fmt", GRAPH_FORMATS)
def test_every_format_is_deterministic(fmt: str) -> None:
    assert render_lineage(fmt, NODES, EDGES) == render_lineage(fmt, list(NODES), list(EDGES))  # type: ignore[arg-type]


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown graph format 'svg'"):
        render_lineage("svg", NODES, EDGES)  # type: ignore[arg-type]


# ---- DOT -------------------------------------------------------------------------------

_QUOTED = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_DOT_SYNTAX = re.compile(r"[\sA-Za-z0-9_=,;\[\]{}>-]*")


def _undot(text: str) -> str:
    """Graphviz's reading of an escString we wrote: \\\\, \\" and \\n."""
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


@pytest.mark.parametrize(
    ("ref", "quoted"),
    [
        ('model:say "hi"', '"model:say \\"hi\\""'),
        ("dataset:C:\\data\\", '"dataset:C:\\\\data\\\\"'),
        ("model:two\nlines", '"model:two\\nlines"'),
        ("model:crlf\r\nend", '"model:crlf\\nend"'),
    ],
)
def test_dot_escapes_quotes_backslashes_and_line_breaks(ref: str, quoted: str) -> None:
    assert dot_quote(ref) == quoted


@given(graphs())
def test_dot_stays_well_formed_with_one_line_per_node(graph: tuple[list[str], list[Edge]]) -> None:
    nodes, edges = graph
    lines = to_dot(nodes, edges).split("\n")[:-1]  # DOT lines end at \n only
    assert lines[0] == "digraph lineage {"
    assert lines[-1] == "}"
    node_lines = [
        line for line in lines if "[label=" in line and " -> " not in _QUOTED.sub("", line)
    ]
    assert len(node_lines) == len(nodes)
    for line in lines:
        # Every quote is balanced: outside the quoted strings only DOT syntax is left.
        assert _DOT_SYNTAX.fullmatch(_QUOTED.sub("", line)), line
    normalized = [re.sub(r"\r\n?", "\n", n) for n in nodes]
    assert [_undot(_QUOTED.findall(line)[0]) for line in node_lines] == normalized


# ---- Mermaid ---------------------------------------------------------------------------

_ENTITY = {"#quot;": '"', "#amp;": "&", "#lt;": "<", "#gt;": ">", "#35;": "#", "#96;": "`"}
_NODE_LINE = re.compile(r'  (n\d+)\["([^"]*)"\]')
_EDGE_LINE = re.compile(r'  (n\d+) -->\|"([^"]*)"\| (n\d+)')


def _unmermaid(label: str) -> str:
    def entity(match: re.Match[str]) -> str:
        code = match.group()
        return _ENTITY[code] if code in _ENTITY else chr(int(code[1:-1]))

    return re.sub(r"#(?:quot|amp|lt|gt|\d+);", entity, label.replace("<br>", "\n"))


def test_mermaid_is_a_left_to_right_flowchart_with_escaped_labels() -> None:
    text = to_mermaid(
        ['model:a"b@1', "dataset:<x>#1"], [Edge('model:a"b@1', "dataset:<x>#1", "trained_on", 1, T)]
    )
    assert text == (
        "flowchart LR\n"
        '  n0["model:a#quot;b@1"]\n'
        '  n1["dataset:#lt;x#gt;#35;1"]\n'
        '  n0 -->|"trained_on"| n1\n'
        "  class n0 model\n"
        "  class n1 dataset\n"
    )


def test_mermaid_label_writes_line_breaks_as_br() -> None:
    assert mermaid_label("a\nb\r\nc") == '"a<br>b<br>c"'


@given(graphs())
def test_mermaid_ids_are_sanitized_and_labels_decode_to_the_refs(
    graph: tuple[list[str], list[Edge]],
) -> None:
    nodes, edges = graph
    lines = to_mermaid(nodes, edges).split("\n")[:-1]
    assert lines[0] == "flowchart LR"
    node_lines = [m for m in map(_NODE_LINE.fullmatch, lines) if m]
    edge_lines = [m for m in map(_EDGE_LINE.fullmatch, lines) if m]
    classes = [line for line in lines if line.startswith("  class ")]
    assert len(node_lines) + len(edge_lines) + len(classes) + 1 == len(lines)
    assert [m.group(1) for m in node_lines] == [f"n{i}" for i in range(len(nodes))]
    assert [_unmermaid(m.group(2)) for m in node_lines] == [
        re.sub(r"\r\n?", "\n", n) for n in nodes
    ]
    assert len(edge_lines) == len(edges)
