"""The story ``rollout-ledger demo`` loads, as data: no I/O, no clock.

About thirteen days in the life of a team with three models of different risk
tiers, appended step by step through the same path a pipeline uses:

- day 0: the datasets and versions already in production are registered and
  their prod state backfilled, then one rollout policy per risk tier;
- days 1-5: fraud-detector 1.4.0 (high) goes shadow -> canary 5% -> 25% ->
  full in prod and replaces 1.3.2;
- days 6-8: product-recommender 2.4.0 (low) crosses its error-rate rollback
  threshold at 10% canary: incident, rollback, verification, revoked
  approval, post-incident review with a policy change, retraining, 2.4.1;
- days 9-13: credit-limits 3.2.0 (critical) is refused for missing fairness
  evidence (recorded as ``policy.denied``), then promoted once it exists.

:func:`story` gives the ordered :class:`Step` list for a start time; every
draft has a fixed id (uuid5 of its key), so appending the story twice appends
nothing new. Evidence and seq references to earlier drafts are placeholders
(:class:`Cite`, :class:`SeqOf`) that :func:`resolve` fills in from the seqs
and hashes the ledger acknowledged.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from ledger._demo import credit, fraud, fraud_rollout, incident, onboarding, recommender
from ledger._demo.base import Cite, DraftSpec, SeqOf, Step
from ledger.events import EventDraft, format_time

__all__ = [
    "DENIED_KEY",
    "FIRST_KEY",
    "INCIDENT",
    "MODELS",
    "NAMESPACE",
    "Cite",
    "DraftSpec",
    "Known",
    "SeqOf",
    "Step",
    "draft_id",
    "resolve",
    "start_for",
    "story",
    "story_span",
]

NAMESPACE = uuid.UUID("8f3c1f0e-6a55-5d3b-9c3e-2f1d7b0a4e61")
"""uuid5 namespace of the story's event ids."""

FIRST_KEY = onboarding.FIRST_KEY
"""Key of the story's first draft: its ``occurred_at`` is the start of the story."""

DENIED_KEY = credit.DENIED_KEY
"""Key of the promotion the rollout policy refuses (the ``draft_id`` of the denial)."""

INCIDENT = incident.INCIDENT
"""The incident of the story."""

MODELS = ("fraud-detector", "product-recommender", "credit-limits")
"""The story's models, in the order it introduces them."""

Known = Mapping[str, tuple[int, str]]
"""Draft key -> (seq, hash) of the event it became."""

_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MARGIN = timedelta(minutes=10)


def story(start: datetime) -> list[Step]:
    """The whole story, in append order, with its first step at ``start``.

    Raises:
        ValueError: the story is malformed (a repeated key or step name, or a
            step earlier than the one before it); a bug, never user input.
    """
    steps = [
        *onboarding.chapter(start),
        *fraud.chapter(start),
        *fraud_rollout.chapter(start),
        *recommender.chapter(start),
        *incident.chapter(start),
        *credit.chapter(start),
    ]
    _check(steps)
    return steps


def story_span() -> timedelta:
    """Time from the first step of the story to its last."""
    steps = story(_EPOCH)
    return steps[-1].at - steps[0].at


def start_for(now: datetime) -> datetime:
    """The start (whole minute, UTC) that ends the story a few minutes before ``now``."""
    start = (now - story_span() - _MARGIN).astimezone(UTC)
    return start.replace(second=0, microsecond=0)


def draft_id(key: str) -> str:
    """The event id of the story draft ``key``."""
    return str(uuid.uuid5(NAMESPACE, key))


def resolve(step: Step, known: Known) -> list[EventDraft]:
    """The step's drafts, placeholders filled from ``known``, ids and ``occurred_at`` set.

    Raises:
        KeyError: a placeholder names a draft that is not in ``known`` yet.
        InvalidEvent: a draft's envelope is malformed (a bug in the story).
    """
    when = format_time(step.at)
    return [
        EventDraft.create(
            spec.type,
            spec.subject,
            _fill(spec.data, known),
            id=draft_id(spec.key),
            occurred_at=when,
        )
        for spec in step.drafts
    ]


def _fill(value: object, known: Known) -> object:
    if isinstance(value, Cite):
        seq, hash_ = known[value.key]
        cited: dict[str, object] = {"seq": seq, "hash": hash_}
        if value.note is not None:
            cited["note"] = value.note
        return cited
    if isinstance(value, SeqOf):
        return known[value.key][0]
    if isinstance(value, Mapping):
        return {str(k): _fill(v, known) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_fill(v, known) for v in value]
    return value


def _check(steps: list[Step]) -> None:
    keys: set[str] = set()
    names: set[str] = set()
    for before, step in zip([None, *steps], steps, strict=False):
        if step.name in names:
            raise ValueError(f"demo story: step {step.name!r} appears twice")
        names.add(step.name)
        if before is not None and step.at < before.at:
            raise ValueError(f"demo story: step {step.name!r} is earlier than {before.name!r}")
        for spec in step.drafts:
            if spec.key in keys:
                raise ValueError(f"demo story: draft key {spec.key!r} appears twice")
            keys.add(spec.key)
