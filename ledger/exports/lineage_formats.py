"""The lineage graph as GraphML, Graphviz DOT and Mermaid text.

Input is what a lineage query returns (``LineageGraph.neighbourhood``): the
node refs, the queried entity first, and the edges as recorded. Output is
text, deterministic for a given input (nodes and edges keep their order, every
attribute is a string), so two exports of the same graph diff clean. Pure: no
files, no clock (STYLE.md 7.3); the caller writes the text where it wants.

Refs are free text after ``kind:`` (quotes, backslashes, unicode), so each
format escapes them by its own rules:

* GraphML goes through networkx's writer (XML escaping by ElementTree); only
  characters XML 1.0 cannot carry at all are refused.
* DOT quotes every id and label: ``\\`` and ``"`` are backslash-escaped and a
  line break is written ``\\n`` (Graphviz's escString), so a ref can never end
  a quoted string early.
* Mermaid node ids are ``n0``, ``n1``, … and refs only appear inside quoted
  labels, with Mermaid's entity codes (``#quot;``, ``#35;``, …) for the
  characters its parser or its HTML renderer would interpret.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Literal

import networkx as nx

from ledger.projections.base import Edge

__all__ = [
    "GRAPH_FORMATS",
    "GraphFormat",
    "dot_quote",
    "mermaid_label",
    "render_lineage",
    "to_dot",
    "to_graphml",
    "to_mermaid",
]

GraphFormat = Literal["graphml", "dot", "mermaid"]
GRAPH_FORMATS: tuple[GraphFormat, ...] = ("graphml", "dot", "mermaid")
"""The graph formats :func:`render_lineage` writes."""

# XML 1.0 section 2.2 "Char": everything else cannot appear even as a character reference.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


_KIND = re.compile(r"[a-z][a-z0-9_-]*")


def _kind(ref: str) -> str:
    """The ref's kind, or "" when the text is not shaped like ``kind:name``."""
    kind, sep, _ = ref.partition(":")
    return kind if sep and _KIND.fullmatch(kind) else ""


def to_graphml(nodes: Sequence[str], edges: Sequence[Edge]) -> str:
    """GraphML (a directed multigraph) with string attributes only.

    Nodes are keyed by ref and carry ``kind``; edges carry ``relation``,
    ``seq`` and ``time`` and are keyed by relation, as in the ledger's graph.
    ``networkx.read_graphml`` reads the refs back unchanged.

    Raises:
        ValueError: a ref or relation holds a character XML 1.0 cannot represent.
    """
    graph = nx.MultiDiGraph()
    for ref in nodes:
        _check_xml(ref)
        graph.add_node(ref, kind=_kind(ref))
    for edge in edges:
        _check_xml(edge.relation)
        for end in (edge.source, edge.target):
            if end not in graph:
                _check_xml(end)
                graph.add_node(end, kind=_kind(end))
        graph.add_edge(
            edge.source,
            edge.target,
            key=edge.relation,
            relation=edge.relation,
            seq=str(edge.seq),
            time=edge.time,
        )
    # named_key_ids: keys read as d0/d1 otherwise, and ids would depend on attribute order.
    return "\n".join(nx.generate_graphml(graph, named_key_ids=True)) + "\n"


def _check_xml(text: str) -> None:
    bad = _NOT_XML.search(text)
    if bad is not None:
        raise ValueError(
            f"{text!r}: character U+{ord(bad.group()):04X} cannot be written in XML (GraphML)"
        )


def dot_quote(text: str) -> str:
    """``text`` as one DOT double-quoted string, safe whatever it holds."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
    return f'"{escaped}"'


def to_dot(nodes: Sequence[str], edges: Sequence[Edge]) -> str:
    """Graphviz DOT: one line per node (id and label are the ref), one per edge."""
    lines = ["digraph lineage {", "  rankdir=LR;", "  node [shape=box];"]
    listed = dict.fromkeys(nodes)
    for edge in edges:
        listed.update(dict.fromkeys((edge.source, edge.target)))
    for ref in listed:
        quoted = dot_quote(ref)
        lines.append(f"  {quoted} [label={quoted}, kind={dot_quote(_kind(ref))}];")
    for edge in edges:
        lines.append(
            f"  {dot_quote(edge.source)} -> {dot_quote(edge.target)} "
            f"[label={dot_quote(edge.relation)}, seq={edge.seq}, time={dot_quote(edge.time)}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


# Characters Mermaid's label parser or its HTML output would interpret, as its
# entity codes ("#name;" or "#decimal;"); '#' first, since it starts a code.
_MERMAID_ENTITIES = {
    "#": "#35;",
    '"': "#quot;",
    "&": "#amp;",
    "<": "#lt;",
    ">": "#gt;",
    "`": "#96;",
    "\\": "#92;",
}
# Line breaks become <br>; other control characters and the separators that
# JavaScript counts as line terminators (U+2028, U+2029) become numeric codes.
_MERMAID_SPECIAL = re.compile(r'[#"&<>`\\]|\r\n|[\r\n]|[\x00-\x1f\x7f-\x9f\u2028\u2029]')


def _mermaid_entity(match: re.Match[str]) -> str:
    char = match.group()
    if char in ("\r\n", "\r", "\n"):
        return "<br>"
    return _MERMAID_ENTITIES.get(char) or f"#{ord(char)};"


def mermaid_label(text: str) -> str:
    """``text`` as a double-quoted Mermaid label; line breaks become ``<br>``."""
    return '"' + _MERMAID_SPECIAL.sub(_mermaid_entity, text) + '"'


def to_mermaid(nodes: Sequence[str], edges: Sequence[Edge]) -> str:
    """A Mermaid ``flowchart LR``: nodes ``n0``, ``n1``, … labelled with their refs."""
    ids: dict[str, str] = {}
    for ref in [*nodes, *(end for e in edges for end in (e.source, e.target))]:
        ids.setdefault(ref, f"n{len(ids)}")
    lines = ["flowchart LR"]
    lines += [f"  {node}[{mermaid_label(ref)}]" for ref, node in ids.items()]
    lines += [f"  {ids[e.source]} -->|{mermaid_label(e.relation)}| {ids[e.target]}" for e in edges]
    # One class per kind, so a stylesheet can colour models, datasets, … apart.
    by_kind: dict[str, list[str]] = {}
    for ref, node in ids.items():
        kind = _kind(ref)
        if kind and "-" not in kind:  # a Mermaid class name
            by_kind.setdefault(kind, []).append(node)
    lines += [f"  class {','.join(members)} {kind}" for kind, members in by_kind.items()]
    return "\n".join(lines) + "\n"


_RENDERERS: dict[GraphFormat, Callable[[Sequence[str], Sequence[Edge]], str]] = {
    "graphml": to_graphml,
    "dot": to_dot,
    "mermaid": to_mermaid,
}


def render_lineage(fmt: GraphFormat, nodes: Sequence[str], edges: Sequence[Edge]) -> str:
    """The graph in ``fmt`` (one of :data:`GRAPH_FORMATS`).

    Raises:
        ValueError: an unknown format, or a ref GraphML cannot carry.
    """
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ValueError(f"unknown graph format {fmt!r}; expected one of {GRAPH_FORMATS}")
    return renderer(nodes, edges)
