"""Timeline helpers: which subjects a timeline covers, and which events it keeps.

A timeline is the events about some subjects in a time window, optionally of
some types, in seq order. With ``related``, the subjects widen through the
lineage graph: an incident affecting a deployment pulls in the deployment,
the versions it served, their models, the dataset versions they were trained
and evaluated on, and those datasets; a deployment pulls in its incidents.

The store runs the query (``subject IN ... AND type IN ... AND time window``);
:class:`TimelineFilter` states it and can also check events one by one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ledger.projections._time import normalize
from ledger.projections.base import EventView
from ledger.projections.lineage import LineageGraph
from ledger.refs import parse_ref

__all__ = ["RELATED_DEPTH", "TimelineFilter", "related_subjects"]

RELATED_DEPTH = 4
"""Upstream hops widened to: incident -> deployment -> version -> dataset version -> dataset."""


def related_subjects(
    subjects: Iterable[str],
    graph: LineageGraph,
    *,
    as_of_seq: int | None = None,
    as_of_time: str | None = None,
    depth: int = RELATED_DEPTH,
) -> set[str]:
    """``subjects`` plus the entities linked to them in ``graph`` as it stood then.

    Adds everything up to ``depth`` hops upstream of each subject and what is
    directly downstream of it (incidents on a deployment, versions of a model).
    A versioned subject also brings its unversioned entity. Pass the end of
    the timeline's window as ``as_of_time`` so later lineage does not leak in.

    Raises:
        InvalidEvent: a subject is not an entity reference.
    """
    out: set[str] = set()
    for subject in subjects:
        ref = parse_ref(subject)
        out.add(subject)
        if ref.version is not None:
            out.add(str(ref.unversioned))
        up = graph.upstream(subject, depth, as_of_seq=as_of_seq, as_of_time=as_of_time)
        down = graph.downstream(subject, 1, as_of_seq=as_of_seq, as_of_time=as_of_time)
        out.update(up, down)
    return out


@dataclass(frozen=True, slots=True)
class TimelineFilter:
    """Which events a timeline keeps; every bound is optional.

    Attributes:
        subjects: exact subjects (after any widening); None keeps every subject.
        types: exact event types, or prefixes ending in ``.*`` (``alert.*``);
            None keeps every type.
        start: keep events recorded at or after this RFC 3339 time.
        end: keep events recorded before this time (exclusive, so consecutive
            windows never share an event).
    """

    subjects: frozenset[str] | None = None
    types: frozenset[str] | None = None
    start: str | None = None
    end: str | None = None
    _prefixes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None:
                ledger_time = normalize(value)
                if ledger_time is None:
                    raise ValueError(f"{name}: {value!r} is not an RFC 3339 date-time")
                object.__setattr__(self, name, ledger_time)
        prefixes = tuple(t[:-1] for t in self.types or () if t.endswith(".*"))
        object.__setattr__(self, "_prefixes", prefixes)

    @property
    def exact_types(self) -> frozenset[str] | None:
        """Types to match exactly (None when no type filter); see :attr:`type_prefixes`."""
        return (
            None if self.types is None else frozenset(t for t in self.types if not t.endswith(".*"))
        )

    @property
    def type_prefixes(self) -> tuple[str, ...]:
        """Prefixes such as ``alert.`` from ``alert.*``, for ``type LIKE 'alert.%'``."""
        return self._prefixes

    def matches(self, event: EventView) -> bool:
        """Whether ``event`` belongs in the timeline (times compare as ledger strings)."""
        if self.subjects is not None and event["subject"] not in self.subjects:
            return False
        if self.types is not None:
            kind = event["type"]
            if kind not in self.types and not kind.startswith(self._prefixes):
                return False
        time = event["recorded_at"]
        return (self.start is None or time >= self.start) and (self.end is None or time < self.end)

    def select(self, events: Iterable[EventView]) -> list[EventView]:
        """The matching events, in seq order."""
        return sorted((e for e in events if self.matches(e)), key=lambda e: e["seq"])
