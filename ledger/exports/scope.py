"""Which entities an export about one model or one incident covers.

Pure selection over the lineage graph as it stood at a seq; the caller then
reads the events whose subject is one of the entities. Two scopes:

* ``model:NAME``: the model, its versions, everything upstream of each
  version (training data and its sources, features, training runs, the
  versions it was derived from), what directly depends on each version
  (deployments, incidents), and the incidents on those deployments;
* ``incident:ID``: the incident widened as an incident reviewer's timeline
  widens it (:func:`ledger.projections.timeline.related_subjects`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import BadRequest, InvalidEvent
from ledger.projections.base import Edge
from ledger.projections.lineage import LineageGraph
from ledger.projections.timeline import related_subjects
from ledger.refs import parse_ref

__all__ = ["Scope", "model_subjects", "parse_scope", "scope_lineage", "scope_subjects"]


@dataclass(frozen=True, slots=True)
class Scope:
    """What an export is about: ``model:NAME`` or ``incident:ID``."""

    kind: str
    name: str

    @property
    def ref(self) -> str:
        """The entity reference, e.g. ``model:fraud-detector``."""
        return f"{self.kind}:{self.name}"


def parse_scope(ref: str) -> Scope:
    """``model:NAME`` or ``incident:ID`` (unversioned) as a :class:`Scope`.

    Raises:
        BadRequest: another kind, a version, or not an entity reference.
    """
    try:
        parsed = parse_ref(ref, field="scope")
    except InvalidEvent as exc:  # a bad argument here, not a bad event
        raise BadRequest(f"{ref!r} is not an entity reference", field="scope") from exc
    if parsed.kind not in ("model", "incident") or parsed.version is not None:
        raise BadRequest(f"{ref!r}: give an unversioned model:NAME or incident:ID", field="scope")
    return Scope(parsed.kind, parsed.name)


def model_subjects(graph: LineageGraph, model: str, *, as_of_seq: int | None = None) -> set[str]:
    """The entities a model's provenance covers, as of ``as_of_seq`` (see the module docstring)."""
    ref = f"model:{model}"
    versions = [
        v
        for v in graph.downstream(ref, 1, as_of_seq=as_of_seq)
        if v.startswith(f"{ref}@") and parse_ref(v).name == model
    ]
    out = {ref, *versions}
    for version in versions:
        out.update(graph.upstream(version, None, as_of_seq=as_of_seq))
        near = graph.downstream(version, 1, as_of_seq=as_of_seq)
        out.update(near)
        for dependent in near:
            if dependent.startswith("deployment:"):
                out.update(
                    d
                    for d in graph.downstream(dependent, 1, as_of_seq=as_of_seq)
                    if d.startswith("incident:")
                )
    return out


def scope_subjects(scope: Scope, graph: LineageGraph, *, as_of_seq: int | None = None) -> set[str]:
    """The subjects whose events belong to an export about ``scope`` (the scope included)."""
    if scope.kind == "model":
        return model_subjects(graph, scope.name, as_of_seq=as_of_seq)
    return related_subjects([scope.ref], graph, as_of_seq=as_of_seq)


def scope_lineage(
    scope: Scope, subjects: set[str], graph: LineageGraph, *, as_of_seq: int
) -> tuple[list[str], list[Edge]]:
    """The lineage among ``subjects``: the scope first, then the rest sorted; edges by seq."""
    edges = sorted(
        (
            data["edge"]
            for source, target, data in graph.graph.edges(data=True)
            if source in subjects and target in subjects and data["edge"].seq <= as_of_seq
        ),
        key=lambda e: (e.seq, e.source, e.target, e.relation),
    )
    return [scope.ref, *sorted(subjects - {scope.ref})], edges
