"""Gathering a model's record for the compliance view (:mod:`ledger.compliance`).

The evaluator is pure; this module reads what it needs: the events about the
model, its versions and deployments, the registrations of the datasets those
versions were trained on, what verification says, and the signed tree size.
GraphQL ``compliance`` and ``rollout-ledger compliance`` both call
:func:`compliance_report`. It blocks (reads the store, verifies the chain).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from ledger.asof import Point
from ledger.compliance import ComplianceReport, Integrity, evaluate
from ledger.events import Event, format_time
from ledger.service import Ledger
from ledger.service_review import ProjectionReader, model_doc

__all__ = ["compliance_report", "evaluation_time", "integrity_of", "model_events", "model_names"]

_PAGE = 1000
_MAX_MODELS = 1000


def integrity_of(ledger: Ledger) -> Integrity:
    """Verify the whole chain and Merkle tree; note the latest signed checkpoint's size."""
    report = ledger.verify()
    latest = ledger.store.latest_checkpoint()
    return Integrity(report.ok, report.checked, report.reason, latest.size if latest else None)


def _find_all(
    store: ProjectionReader,
    subjects: Sequence[str],
    as_of: Point | None,
    types: Sequence[str] | None = None,
) -> list[Event]:
    found: list[Event] = []
    after = 0
    until_time = as_of.time if as_of is not None else None
    while subjects:
        batch = store.find_events(
            subjects=subjects,
            types=types,
            after_seq=after,
            until_seq=as_of.seq if as_of is not None else None,
            limit=_PAGE,
        )
        found += [e for e in batch if until_time is None or e.recorded_at <= until_time]
        if len(batch) < _PAGE:
            break
        after = batch[-1].seq
    return found


def _trained_on_targets(events: Sequence[Event]) -> list[str]:
    targets: dict[str, None] = {}
    for event in events:
        if event.type not in ("model.version.registered", "lineage.edge.recorded"):
            continue
        data = event.data
        if not isinstance(data, dict):
            continue
        if event.type == "model.version.registered":
            listed = data.get("trained_on")
            refs = listed if isinstance(listed, list) else []
        else:
            refs = [data.get("target")] if data.get("relation") == "trained_on" else []
        targets.update((r, None) for r in refs if isinstance(r, str) and r.startswith("dataset:"))
    return list(targets)


def model_events(store: ProjectionReader, model: str, as_of: Point | None = None) -> list[Event]:
    """Events about ``model``, its versions and deployments, and its training datasets.

    Raises:
        NotFound: nothing was ever recorded about the model.
    """
    doc = model_doc(store, model)
    entries = doc.get("versions")
    versions = [
        f"model:{model}@{entry['version']}"
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("version"), str)
    ]
    deployments = [key for key, _ in store.docs_with_prefix(f"deployment:{model}/")]
    events = _find_all(store, [f"model:{model}", *versions, *deployments], as_of)
    datasets = _trained_on_targets(events)
    events += _find_all(store, datasets, as_of, types=["dataset.version.registered"])
    return sorted(events, key=lambda e: e.seq)


def evaluation_time(ledger: Ledger, as_of: Point | None, now: datetime) -> str:
    """The ledger time a report speaks for: ``now``, the asOf time, or the asOf seq's time."""
    if as_of is None:
        return format_time(now)
    if as_of.time is not None:
        return as_of.time
    event = ledger.store.get(as_of.seq or 0) if as_of.seq else None
    return event.recorded_at if event is not None else format_time(now)


def model_names(store: ProjectionReader) -> list[str]:
    """Every model in the registry (retired ones too), by name, at most 1000."""
    return [
        key.removeprefix("model:")
        for key, _ in store.docs_with_prefix("model:", _MAX_MODELS * 50)
        if "@" not in key
    ][:_MAX_MODELS]


def compliance_report(
    ledger: Ledger,
    model: str,
    *,
    now: datetime,
    as_of: Point | None = None,
    integrity: Integrity | None = None,
) -> ComplianceReport:
    """The compliance view of ``model`` as of a moment (see :func:`ledger.compliance.evaluate`).

    ``integrity`` lets a caller verify once for many models.

    Raises:
        NotFound: nothing was ever recorded about the model.
    """
    store = cast(ProjectionReader, ledger.store)
    events = model_events(store, model, as_of)
    checked = integrity if integrity is not None else integrity_of(ledger)
    return evaluate(model, events, checked, evaluation_time(ledger, as_of, now))
