"""Reads for reviewers, shared by GraphQL and the CLI: timelines, lineage, what runs where.

Each function takes the store (any backend: both offer the projection reads
of :class:`ProjectionReader`) and answers from the projections without
replaying the log. "As of" is a :class:`~ledger.asof.Point`; a time compares
with ``recorded_at``. These functions block; async callers run them in a
thread.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

import orjson

from ledger.asof import Point, check_depth, check_ref
from ledger.errors import BadRequest, NotFound
from ledger.events import Event
from ledger.lineage_cache import LineageSnapshot
from ledger.projections.base import Edge
from ledger.projections.edges import target_is_upstream
from ledger.projections.keys import model_key
from ledger.projections.lineage import Direction, LineageGraph
from ledger.projections.timeline import RELATED_DEPTH, related_subjects

__all__ = [
    "MAX_SUBJECTS",
    "MAX_WIDENED",
    "ProjectionReader",
    "StatusRow",
    "Timeline",
    "event_keeper",
    "lineage",
    "model_doc",
    "model_name",
    "neighbourhood",
    "status_row",
    "statuses",
    "subgraph",
    "timeline",
    "timeline_subjects",
    "widen_subjects",
]

MAX_SUBJECTS = 50
"""Most subjects a timeline may name."""

MAX_WIDENED = 1000
"""Most subjects a timeline may cover once ``related`` widened them."""

_PAGE = 1000


class ProjectionReader(Protocol):
    """The projection reads both stores offer beyond ``EventStore``."""

    def get_docs(self, keys: Sequence[str]) -> dict[str, bytes]: ...

    def docs_with_prefix(self, prefix: str, limit: int = 1000) -> list[tuple[str, bytes]]: ...

    def status_intervals(
        self,
        *,
        environment: str | None = None,
        model: str | None = None,
        at_time: str | None = None,
        at_seq: int | None = None,
        statuses: Collection[str] | None = None,
    ) -> list[tuple[object, ...]]: ...

    def edges(self, after_seq: int = 0) -> Iterator[tuple[str, str, str, int, str]]: ...

    def edges_of(self, refs: Sequence[str]) -> list[tuple[str, str, str, int, str]]: ...

    def find_events(
        self,
        *,
        subjects: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        after_seq: int = 0,
        until_seq: int | None = None,
        time_from: str | None = None,
        time_to: str | None = None,
        limit: int = 1000,
    ) -> list[Event]: ...


# ---- lineage around a few entities ---------------------------------------------------


def subgraph(
    store: ProjectionReader, roots: Sequence[str], *, up: int, down: int
) -> LineageSnapshot:
    """Every edge a walk from ``roots`` of ``up`` hops upstream and ``down`` downstream can use.

    Read hop by hop from the store's edge index, so a one-shot command (the
    CLI) holds the neighbourhood, never the whole edge table, in memory. The
    walk follows every edge regardless of any as-of cutoff, so the result is
    a superset of what an as-of walk on the full graph sees, and the same
    :class:`LineageGraph` queries give the same answers on it.
    """
    rows: dict[tuple[str, str, str, int], tuple[str, str, str, int, str]] = {}
    for upstream, depth in ((True, up), (False, down)):
        seen, frontier = set(roots), set(roots)
        for _ in range(depth):
            if not frontier:
                break
            reached: set[str] = set()
            for row in store.edges_of(sorted(frontier)):
                source, target, relation, seq = row[0], row[1], row[2], int(row[3])
                rows[(source, target, relation, seq)] = row
                dependency, dependent = (
                    (target, source) if target_is_upstream(relation) else (source, target)
                )
                near, far = (dependent, dependency) if upstream else (dependency, dependent)
                if near in frontier and far not in seen:
                    seen.add(far)
                    reached.add(far)
            frontier = reached
    ordered = sorted(rows.values(), key=lambda r: (int(r[3]), r[0], r[1], r[2]))
    graph = LineageGraph(Edge(r[0], r[1], r[2], int(r[3]), str(r[4])) for r in ordered)
    return LineageSnapshot(graph, graph.last_seq)


# ---- timeline ------------------------------------------------------------------------


def timeline_subjects(subjects: Sequence[str]) -> list[str]:
    """The subjects of a timeline, checked and de-duplicated in order.

    Raises:
        BadRequest: none, more than MAX_SUBJECTS, or one is not an entity reference.
    """
    if not 1 <= len(subjects) <= MAX_SUBJECTS:
        raise BadRequest(
            f"subjects: give 1 to {MAX_SUBJECTS} entity references, got {len(subjects)}",
            field="subjects",
        )
    for index, subject in enumerate(subjects):
        check_ref(subject, f"subjects[{index}]")
    return list(dict.fromkeys(subjects))


def event_keeper(
    types: Sequence[str] | None, end: str | None, point: Point | None
) -> Callable[[Event], bool] | None:
    """What the store cannot filter: type prefixes (``alert.*``), the exclusive end, asOf time."""
    prefixes = tuple(t[:-1] for t in types or () if t.endswith(".*"))
    until_time = point.time if point is not None else None

    def keep(event: Event) -> bool:
        if prefixes and event.type not in (types or ()) and not event.type.startswith(prefixes):
            return False
        if end is not None and event.occurred_at >= end:
            return False  # the window's end is exclusive; the store's is not
        return until_time is None or event.recorded_at <= until_time

    return keep if prefixes or end is not None or until_time is not None else None


def store_types(types: Sequence[str] | None) -> list[str] | None:
    """The exact types the store can filter on; None when a prefix makes it filter in Python."""
    if types is None or any(t.endswith(".*") for t in types):
        return None
    return list(types)


def widen_subjects(
    snap: LineageSnapshot, subjects: Sequence[str], end: str | None, point: Point | None
) -> list[str]:
    """``subjects`` and what lineage links them to as of the window's end (``related``).

    Raises:
        BadRequest: the widening covers more than MAX_WIDENED entities.
    """
    times = [t for t in (end, point.time if point else None) if t is not None]
    wide = related_subjects(
        subjects,
        snap.graph,
        as_of_seq=snap.bound(point.seq if point else None),
        as_of_time=min(times) if times else None,
    )
    if len(wide) > MAX_WIDENED:
        raise BadRequest(
            f"related: the subjects widen to {len(wide)} entities, over {MAX_WIDENED}; "
            "name fewer subjects or a narrower one",
            field="related",
        )
    return sorted(wide)


@dataclass(frozen=True, slots=True)
class Timeline:
    """The events of a timeline in seq order; ``truncated`` when ``limit`` cut it short."""

    subjects: list[str]
    events: list[Event]
    truncated: bool


def timeline(
    store: ProjectionReader,
    subjects: Sequence[str],
    *,
    start: str | None = None,
    end: str | None = None,
    types: Sequence[str] | None = None,
    related: bool = False,
    as_of: Point | None = None,
    limit: int = 10_000,
) -> Timeline:
    """The events about ``subjects`` that occurred in [start, end), as GraphQL ``timeline``.

    ``start`` and ``end`` are ledger times (``occurred_at``); ``related``
    widens the subjects through lineage as it stood at the end of the window.

    Raises:
        BadRequest: bad subjects, ``end`` not after ``start``, or too wide a widening.
    """
    wanted = timeline_subjects(subjects)
    if start is not None and end is not None and start >= end:
        raise BadRequest("to: must be after from", field="to")
    if related:
        around = subgraph(store, wanted, up=RELATED_DEPTH, down=1)
        wanted = widen_subjects(around, wanted, end, as_of)
    keep = event_keeper(types, end, as_of)
    found: list[Event] = []
    after = 0
    while True:
        batch = store.find_events(
            subjects=wanted,
            types=store_types(types),
            after_seq=after,
            until_seq=as_of.seq if as_of is not None else None,
            time_from=start,
            time_to=end,
            limit=_PAGE,
        )
        for event in batch:
            if keep is None or keep(event):
                if len(found) == limit:
                    return Timeline(wanted, found, True)
                found.append(event)
            after = event.seq
        if len(batch) < _PAGE:
            return Timeline(wanted, found, False)


# ---- lineage -------------------------------------------------------------------------


def lineage(
    store: ProjectionReader, ref: str, direction: Direction, depth: int, as_of: Point | None
) -> tuple[list[str], list[Edge]]:
    """Nodes (``ref`` first) and edges within ``depth`` hops of ``ref``, as of a moment.

    Raises:
        BadRequest: ``ref`` is not an entity reference or ``depth`` is out of range.
    """
    check_ref(ref, "ref")
    check_depth(depth)
    up = 0 if direction == "downstream" else depth
    down = 0 if direction == "upstream" else depth
    return neighbourhood(subgraph(store, [ref], up=up, down=down), ref, direction, depth, as_of)


def neighbourhood(
    snap: LineageSnapshot, ref: str, direction: Direction, depth: int, as_of: Point | None
) -> tuple[list[str], list[Edge]]:
    """:func:`lineage` on a snapshot the caller already holds (GraphQL: one per request).

    Raises:
        BadRequest: ``ref`` is not an entity reference or ``depth`` is out of range.
    """
    check_ref(ref, "ref")
    check_depth(depth)
    return snap.graph.neighbourhood(
        ref,
        direction,
        depth,
        as_of_seq=snap.bound(as_of.seq if as_of else None),
        as_of_time=as_of.time if as_of else None,
    )


# ---- what runs where -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusRow:
    """A version's status in one environment from ``seq`` on (``end_seq`` None while it holds)."""

    model: str
    version: str
    environment: str
    status: str
    exposure: float
    strategy: str | None
    seq: int
    time: str
    end_seq: int | None = None
    end_time: str | None = None


def model_name(text: str) -> str:
    """``fraud-detector`` from ``fraud-detector`` or ``model:fraud-detector``.

    Raises:
        BadRequest: a version or another kind of entity was given.
    """
    name = text.removeprefix("model:")
    ref = check_ref(f"model:{name}", "model")
    if ref.version is not None:
        raise BadRequest(f"model: give a model, not a version ({text!r})", field="model")
    return name


def model_doc(store: ProjectionReader, model: str) -> dict[str, object]:
    """The registry document of ``model``.

    Raises:
        NotFound: nothing was ever recorded about the model.
    """
    blob = store.get_docs([model_key(model)]).get(model_key(model))
    doc = orjson.loads(blob) if blob is not None else None
    if not isinstance(doc, dict):
        raise NotFound(f"model: no model {model!r} in the ledger", field="model")
    return cast(dict[str, object], doc)


def _current(model: str, doc: dict[str, object]) -> list[StatusRow]:
    rows = []
    versions = doc.get("versions")
    for entry in versions if isinstance(versions, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("status"), dict):
            continue
        for env, state in entry["status"].items():
            if isinstance(state, dict):
                rows.append(
                    StatusRow(
                        model,
                        str(entry.get("version")),
                        str(env),
                        str(state.get("status") or ""),
                        float(state.get("exposure") or 0.0),
                        state.get("strategy"),
                        int(state.get("seq") or 0),
                        str(state.get("time") or ""),
                    )
                )
    return rows


def statuses(store: ProjectionReader, model: str, as_of: Point | None = None) -> list[StatusRow]:
    """Every version's status per environment, now or as of a moment, by environment.

    Within an environment the most exposed version comes first.

    Raises:
        NotFound: nothing was ever recorded about the model.
    """
    doc = model_doc(store, model)
    if as_of is None:
        rows = _current(model, doc)
    else:
        found = store.status_intervals(model=model, at_time=as_of.time, at_seq=as_of.seq)
        rows = [status_row(row) for row in found]
    return sorted(rows, key=lambda r: (r.environment, -r.exposure, r.version))


def status_row(row: tuple[object, ...]) -> StatusRow:
    """A row of the stores' ``status_intervals`` as a :class:`StatusRow`."""
    model, version, environment, status, exposure, strategy, seq, time, end_seq, end_time = row
    return StatusRow(
        str(model),
        str(version),
        str(environment),
        str(status),
        float(cast(float, exposure)),
        None if strategy is None else str(strategy),
        int(cast(int, seq)),
        str(time),
        None if end_seq is None else int(cast(int, end_seq)),
        None if end_time is None else str(end_time),
    )
