"""Lineage edges carried or implied by events, and which end of each is upstream.

An edge reads ``source <relation> target``. For most relations the source
depends on the target, so the target is *upstream*::

    model:m@1 -trained_on-> dataset:d@v      (d is upstream of m@1)
    model:m@1 -version_of-> model:m          (the model is upstream of its versions)
    deployment:m/prod -serves-> model:m@1    (the version is upstream of the deployment)
    incident:INC-1 -affects-> deployment:m/prod

For ``feature_of``, ``deployed_as`` and ``consumed_by`` it is the other way
round (``feature:f -feature_of-> model:m``: the feature is upstream). Unknown
relations count as "source depends on target".

Implied edges, added without being recorded:

- ``version_of`` from every versioned reference that appears in an edge (and
  from the subject of ``model.version.registered`` / ``dataset.version.registered``)
  to its unversioned form;
- ``trained_on`` per ``trained_on`` entry and ``produced_by`` to the
  ``training_run`` of ``model.version.registered``;
- ``evaluated_on`` from a ``test.result.recorded``;
- ``serves`` from the deployment to the version of a ``rollout.stage.changed``
  and to the ``to_version`` of a ``rollback.executed``;
- ``affects`` from an incident to each of its ``affected`` entities.

Edges repeat freely (every stage change re-implies ``serves``); consumers keep
the first ``(source, target, relation)``.
"""

from __future__ import annotations

from functools import lru_cache

from ledger.projections._json import as_dict, as_list, get_str
from ledger.projections.base import Edge, EventView
from ledger.projections.keys import parse_or_none

__all__ = ["SOURCE_UPSTREAM_RELATIONS", "edges_for", "target_is_upstream"]

SOURCE_UPSTREAM_RELATIONS = frozenset({"feature_of", "deployed_as", "consumed_by"})
"""Relations whose *source* is upstream of the target."""


def target_is_upstream(relation: str) -> bool:
    """Whether ``source <relation> target`` makes the target upstream of the source."""
    return relation not in SOURCE_UPSTREAM_RELATIONS


def edges_for(event: EventView) -> list[Edge]:
    """Every lineage edge ``event`` records or implies, deduplicated, in a stable order."""
    data = as_dict(event["data"])
    subject = event["subject"]
    pairs: list[tuple[str, str, str]] = []
    kind = event["type"]
    if kind == "lineage.edge.recorded":
        target, relation = get_str(data, "target"), get_str(data, "relation")
        if target is not None and relation is not None:
            pairs.append((subject, target, relation))
    elif kind == "model.version.registered":
        pairs.append((subject, subject, "version_of"))
        pairs.extend((subject, ref, "trained_on") for ref in _refs(as_list(data.get("trained_on"))))
        pairs.extend((subject, run, "produced_by") for run in _refs([data.get("training_run")]))
    elif kind == "dataset.version.registered":
        pairs.append((subject, subject, "version_of"))
    elif kind == "test.result.recorded":
        pairs.extend((subject, ref, "evaluated_on") for ref in _refs([data.get("evaluated_on")]))
    elif kind == "rollout.stage.changed":
        pairs.extend((subject, ref, "serves") for ref in _refs([data.get("version")]))
    elif kind == "rollback.executed":
        pairs.extend((subject, ref, "serves") for ref in _refs([data.get("to_version")]))
    elif kind in ("incident.opened", "incident.resolved"):
        pairs.extend((subject, ref, "affects") for ref in _refs(as_list(data.get("affected"))))
    return _with_implied(pairs, event["seq"], event["recorded_at"])


def _refs(values: list[object]) -> list[str]:
    return [str(ref) for ref in map(parse_or_none, values) if ref is not None]


@lru_cache(maxsize=65_536)
def _unversioned(ref: str) -> str | None:
    """The unversioned form of a versioned reference, else None (memoised: refs repeat a lot)."""
    parsed = parse_or_none(ref)
    return None if parsed is None or parsed.version is None else str(parsed.unversioned)


def _with_implied(pairs: list[tuple[str, str, str]], seq: int, time: str) -> list[Edge]:
    seen: set[tuple[str, str, str]] = set()
    out: list[Edge] = []

    def emit(source: str, target: str, relation: str) -> None:
        if (source, target, relation) not in seen:
            seen.add((source, target, relation))
            out.append(Edge(source, target, relation, seq, time))

    for source, target, relation in pairs:
        if relation == "version_of":
            unversioned = _unversioned(source)
            if unversioned is not None:
                emit(source, unversioned, relation)
            continue
        emit(source, target, relation)
        for end in (source, target):
            unversioned = _unversioned(end)
            if unversioned is not None:
                emit(end, unversioned, "version_of")
    return out
