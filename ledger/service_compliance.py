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
from ledger.compliance import ComplianceReport, Credential, Integrity, evaluate
from ledger.errors import BadRequest, InvalidEvent
from ledger.events import Event, format_time, normalize_time
from ledger.service import Ledger
from ledger.service_review import ProjectionReader, model_doc

__all__ = [
    "MAX_MODELS",
    "compliance_report",
    "compliance_reports",
    "credentials_of",
    "evaluation_time",
    "integrity_of",
    "model_events",
    "model_names",
    "signed_size_at",
]

_PAGE = 1000

MAX_MODELS = 1000
"""Most models one ``--all`` / ``complianceAll`` report covers; more is an error, never a cut."""


def integrity_of(ledger: Ledger) -> Integrity:
    """Verify the whole chain and Merkle tree; note the latest signed checkpoint's size.

    O(n) in the ledger: callers reporting on many models call it once and
    pass the result to each :func:`compliance_report`.
    """
    report = ledger.verify()
    latest = ledger.store.latest_checkpoint()
    return Integrity(report.ok, report.checked, report.reason, latest.size if latest else None)


def signed_size_at(signed: Sequence[tuple[int, str]], at: str, as_of: Point | None) -> int | None:
    """The largest of the ``(size, created_at)`` checkpoints signed by ``at`` (within an asOf seq).

    A report as of a past moment may rely only on checkpoints that existed
    then: a later one would prove coverage the ledger could not show at the time.
    """
    bound = as_of.seq if as_of is not None else None
    sizes = [size for size, made in signed if made <= at and (bound is None or size <= bound)]
    return max(sizes, default=None)


def _signed(ledger: Ledger) -> list[tuple[int, str]]:
    return [(c.size, c.created_at) for c in ledger.store.checkpoints()]


def _ledger_time(text: str) -> str:
    """``text`` in the ledger's sortable form when it parses (token rows predate it)."""
    try:
        return normalize_time(text, field="created_at")
    except InvalidEvent:
        return text


def credentials_of(ledger: Ledger) -> dict[str, Credential]:
    """The token registry by name (a token's name is the ``actor`` of what it appends)."""
    return {
        t.name: Credential(
            t.name,
            t.role,
            _ledger_time(t.created_at),
            None if t.revoked_at is None else _ledger_time(t.revoked_at),
        )
        for t in ledger.store.tokens()
    }


def _find_all(
    store: ProjectionReader,
    subjects: Sequence[str] | None,
    as_of: Point | None,
    types: Sequence[str] | None = None,
) -> list[Event]:
    """Every event about ``subjects`` (None: any) of ``types`` recorded by the moment."""
    found: list[Event] = []
    after = 0
    until_time = as_of.time if as_of is not None else None
    while subjects is None or subjects:
        batch = store.find_events(
            subjects=subjects,
            types=types,
            after_seq=after,
            until_seq=as_of.seq if as_of is not None else None,
            limit=_PAGE,
        )
        kept = [e for e in batch if until_time is None or e.recorded_at <= until_time]
        found += kept
        # recorded_at never decreases along seq: past the moment, nothing later is kept.
        if len(batch) < _PAGE or len(kept) < len(batch):
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
    """The ledger time a report speaks for: ``now``, the asOf time, or the asOf seq's time.

    Never later than ``now``: the record cannot evidence a moment that has not
    come (six months of retention "as of" next year would be a claim, not a fact).
    """
    current = format_time(now)
    if as_of is None:
        return current
    if as_of.time is not None:
        return min(as_of.time, current)
    event = ledger.store.get(as_of.seq) if as_of.seq else None
    return event.recorded_at if event is not None else current


def model_names(store: ProjectionReader, as_of: Point | None = None) -> list[str]:
    """Every model registered by the moment (retired ones too), by name.

    Read from the ``model.registered`` events (a few per model), not the
    registry documents, so a long version history costs nothing here.

    Raises:
        BadRequest: more than MAX_MODELS models.
    """
    names: dict[str, None] = {}
    for event in _find_all(store, None, as_of, types=["model.registered"]):
        names[event.subject.removeprefix("model:")] = None
        if len(names) > MAX_MODELS:
            raise BadRequest(
                f"all: more than {MAX_MODELS} models; report on them one at a time", field="all"
            )
    return sorted(names)


def compliance_report(
    ledger: Ledger,
    model: str,
    *,
    now: datetime,
    as_of: Point | None = None,
    integrity: Integrity | None = None,
    credentials: dict[str, Credential] | None = None,
    signed: Sequence[tuple[int, str]] | None = None,
) -> ComplianceReport:
    """The compliance view of ``model`` as of a moment (see :func:`ledger.compliance.evaluate`).

    ``integrity``, ``credentials`` and ``signed`` (the checkpoints' sizes and
    times) let a caller read them once for many models. The signed tree size
    is cut at the evaluation time, like the events.

    Raises:
        NotFound: nothing was ever recorded about the model.
    """
    store = cast(ProjectionReader, ledger.store)
    events = model_events(store, model, as_of)
    checked = integrity if integrity is not None else integrity_of(ledger)
    at = evaluation_time(ledger, as_of, now)
    checkpoints = signed if signed is not None else _signed(ledger)
    as_then = Integrity(
        checked.ok, checked.checked, checked.reason, signed_size_at(checkpoints, at, as_of)
    )
    tokens = credentials if credentials is not None else credentials_of(ledger)
    return evaluate(model, events, as_then, at, tokens)


def compliance_reports(
    ledger: Ledger,
    models: Sequence[str] | None,
    *,
    now: datetime,
    as_of: Point | None = None,
    integrity: Integrity | None = None,
) -> list[ComplianceReport]:
    """Reports for ``models`` (None: every model registered by the moment), verifying once.

    Raises:
        NotFound: a named model was never recorded.
        BadRequest: None given and more than MAX_MODELS models.
    """
    store = cast(ProjectionReader, ledger.store)
    names = list(models) if models is not None else model_names(store, as_of)
    checked = integrity if integrity is not None else integrity_of(ledger)
    tokens, signed = credentials_of(ledger), _signed(ledger)
    return [
        compliance_report(
            ledger, name, now=now, as_of=as_of, integrity=checked, credentials=tokens, signed=signed
        )
        for name in names
    ]
