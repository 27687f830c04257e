"""Values every projection shares: the event view, documents and effects.

An :data:`EventView` is a sealed event as a plain dict (DESIGN.md's JSON
object). A *document* is a JSON-able dict the store keeps under a string key
(:mod:`ledger.projections.keys`). Projecting one event yields
:class:`Effects`: new versions of the documents it changed, validity intervals
of per-environment status, and lineage edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

__all__ = [
    "LIVE_STATUSES",
    "SERVING_STATUSES",
    "STATUSES",
    "Doc",
    "DraftView",
    "Edge",
    "Effects",
    "EventView",
    "StatusInterval",
    "TestRow",
]

Doc = dict[str, object]
"""A projection document: a JSON object (str keys; str, int, float, bool, None,
list and dict values only), so it survives any JSON round trip."""


class DraftView(TypedDict):
    """What the policy needs of a draft: its type, subject, actor and payload."""

    type: str
    subject: str
    actor: str
    data: dict[str, object]


class EventView(TypedDict):
    """A sealed event as a plain dict; ``recorded_at`` is ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

    Extra keys (``prev_hash``) may be present and are ignored.
    """

    seq: int
    id: str
    type: str
    subject: str
    actor: str
    occurred_at: str
    recorded_at: str
    data: dict[str, object]
    hash: str


STATUSES = (
    "candidate",
    "shadow",
    "canary",
    "production",
    "rolled_back",
    "replaced",
    "aborted",
    "retired",
)
"""Per-environment status of a model version, in rough lifecycle order.

``candidate``: decided for promotion (or drained to 0% outside shadow), no
traffic. ``shadow``: mirrored traffic only. ``canary``: serves part of live
traffic while it is rolled out. ``production``: the stable version (100%, or
what a canary leaves). ``rolled_back``: traffic moved off it by a rollback.
``replaced``: traffic moved off it because another version took the
environment over. ``aborted``: rollout abandoned before live traffic.
``retired``: taken out of service.
"""

SERVING_STATUSES = frozenset({"canary", "production"})
"""Statuses that serve live traffic: "which version served env E at T" filters on these."""

LIVE_STATUSES = frozenset({"shadow", "canary", "production"})
"""Statuses that receive any traffic, mirrored or live."""


@dataclass(frozen=True, slots=True)
class StatusInterval:
    """From ``seq``/``time`` on, (model, version, environment) has this status.

    The interval stays open until the next interval of the same triple, which
    closes it. Every change of status, exposure or strategy is one interval,
    including the implicit ones (the version that a rollout replaces gets a
    ``replaced`` interval at the same seq), so the intervals alone answer
    "what served env E at time T".
    """

    model: str
    version: str
    environment: str
    status: str
    exposure: float
    strategy: str | None
    seq: int
    time: str


@dataclass(frozen=True, slots=True)
class Edge:
    """A lineage edge ``source -relation-> target`` recorded at ``seq``/``time``.

    See :mod:`ledger.projections.edges` for which end is upstream per relation.
    """

    source: str
    target: str
    relation: str
    seq: int
    time: str


@dataclass(frozen=True, slots=True)
class TestRow:
    """The latest test result of ``version`` (a version key) in its slot, replacing the previous.

    ``slot`` is (kind, environment, suite) as :func:`ledger.projections.keys.test_slot`
    gives it; ``entry`` is what readers get (``seq hash time suite kind passed
    metrics environment evaluated_on run``).
    """

    version: str
    slot: tuple[str, str, str]
    seq: int
    entry: Doc


@dataclass(frozen=True, slots=True)
class Effects:
    """What projecting one event changes.

    Attributes:
        docs: new versions of the documents the event changed, by key; keys
            absent here are unchanged.
        intervals: status intervals that start at this event, in order.
        edges: lineage edges, explicit and implied, in order. An edge may
            repeat one already recorded; stores and graphs keep the first
            ``(source, target, relation)`` only.
        touched: keys of documents the event concerns without changing them;
            their history records it (as it does for every key in ``docs``).
        tests: latest-test rows to upsert (``proj_tests``), in order.
    """

    docs: dict[str, Doc] = field(default_factory=dict)
    intervals: list[StatusInterval] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)
    tests: list[TestRow] = field(default_factory=list)
