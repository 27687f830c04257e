"""Exports from a live ledger: lineage in graph formats, PROV, audit bundles.

The orchestration the CLI and the API share: read the lineage graph and the
events from the store, sign or reuse a checkpoint, prove each event, and
hand everything to the pure builders of :mod:`ledger.exports`. Files are the
caller's business (the CLI writes the directory and the zip).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from ledger.asof import Point
from ledger.errors import BadRequest, NotFound
from ledger.events import Event
from ledger.exports import bundle, report
from ledger.exports.lineage_formats import GRAPH_FORMATS, render_lineage
from ledger.exports.scope import Scope, parse_scope, scope_lineage, scope_subjects
from ledger.lineage_cache import shared_cache
from ledger.projections.lineage import Direction, LineageGraph
from ledger.service import Ledger
from ledger.service_review import ProjectionReader
from ledger.service_review import lineage as lineage_of
from ledger.store.protocol import StoredCheckpoint

__all__ = ["EXPORT_FORMATS", "BundleBuild", "build_bundle", "export_lineage", "model_prov"]

EXPORT_FORMATS = (*GRAPH_FORMATS, "prov-json")
"""What ``lineage-export --format`` and GraphQL ``lineageExport`` write."""

_PAGE = 1000
_CHUNK = 500


def _reader(ledger: Ledger) -> ProjectionReader:
    # Both stores offer the projection reads; EventStore only declares what appends need.
    return cast(ProjectionReader, ledger.store)


def _graph(ledger: Ledger, as_of: Point | None) -> tuple[LineageGraph, int]:
    """The shared lineage graph and the greatest seq a query as of ``as_of`` may see."""
    snap = shared_cache(_reader(ledger)).snapshot()
    cutoff = snap.graph.cutoff(
        snap.bound(as_of.seq if as_of else None), as_of.time if as_of else None
    )
    return snap.graph, snap.seq if cutoff is None else cutoff


def _events_about(
    ledger: Ledger,
    scope: Scope,
    subjects: Iterable[str],
    until_seq: int,
    until_time: str | None = None,
) -> list[Event]:
    """Every event whose subject is in ``subjects``, up to a seq (and time), in seq order.

    Raises:
        NotFound: none is about the scope itself, so there is nothing to export.
    """
    store, wanted = _reader(ledger), sorted(subjects)
    found: list[Event] = []
    # Chunks keep each query under the SQL parameter limits, however wide the scope.
    for start in range(0, len(wanted), _CHUNK):
        chunk, after = wanted[start : start + _CHUNK], 0
        while True:
            batch = store.find_events(
                subjects=chunk, after_seq=after, until_seq=until_seq, limit=_PAGE
            )
            found += [e for e in batch if until_time is None or e.recorded_at <= until_time]
            if len(batch) < _PAGE:
                break
            after = batch[-1].seq
    found.sort(key=lambda e: e.seq)
    versions = f"{scope.ref}@"  # a model's versions count as its own events
    if not any(e.subject == scope.ref or e.subject.startswith(versions) for e in found):
        raise NotFound(f"{scope.ref}: no events about it; nothing to export", field="ref")
    return found


def _prov_json(model: str, events: list[Event]) -> str:
    # Imported here: `prov` takes a tenth of a second to load, and most commands never need it.
    from ledger.exports.provenance import prov_json

    return prov_json(model, events)


def model_prov(ledger: Ledger, model: str, as_of: Point | None = None) -> str:
    """PROV-JSON of ``model:{model}`` as of a moment (default: now).

    Raises:
        NotFound: no event is about the model (as of that moment).
    """
    scope = parse_scope(f"model:{model}")
    graph, cutoff = _graph(ledger, as_of)
    subjects = scope_subjects(scope, graph, as_of_seq=cutoff)
    until = ledger.head().seq if as_of is None or as_of.seq is None else as_of.seq
    events = _events_about(ledger, scope, subjects, until, as_of.time if as_of else None)
    return _prov_json(model, events)


def export_lineage(
    ledger: Ledger,
    ref: str,
    fmt: str,
    direction: Direction = "both",
    depth: int = 3,
    as_of: Point | None = None,
) -> str:
    """The lineage around ``ref`` in ``fmt`` (:data:`EXPORT_FORMATS`).

    ``prov-json`` is a model's provenance and needs ``model:NAME``; ``direction``
    and ``depth`` do not apply to it.

    Raises:
        BadRequest: an unknown format, a bad ref or depth, or ``prov-json`` of
            something other than an unversioned model.
    """
    if fmt == "prov-json":
        scope = parse_scope(ref)
        if scope.kind != "model":
            raise BadRequest(f"prov-json: give model:NAME, not {ref!r}", field="ref")
        return model_prov(ledger, scope.name, as_of)
    if fmt not in GRAPH_FORMATS:
        raise BadRequest(
            f"format: {fmt!r} is not one of {', '.join(EXPORT_FORMATS)}", field="format"
        )
    nodes, edges = lineage_of(_reader(ledger), ref, direction, depth, as_of)
    try:
        return render_lineage(fmt, nodes, edges)
    except ValueError as exc:
        raise BadRequest(str(exc), field="ref") from None


@dataclass(frozen=True, slots=True)
class BundleBuild:
    """A bundle's files, and what they prove."""

    scope: Scope
    files: dict[str, bytes]
    events: int
    checkpoint: StoredCheckpoint


def _checkpoint(ledger: Ledger) -> StoredCheckpoint:
    """The latest signed checkpoint if it covers the whole ledger, else a fresh one."""
    latest = ledger.store.latest_checkpoint()
    if latest is not None and latest.size == ledger.head().seq:
        return latest
    ledger.checkpoint()  # signs and keeps the current tree head
    signed = ledger.store.latest_checkpoint()
    assert signed is not None
    return signed


def build_bundle(ledger: Ledger, ref: str, name: str) -> BundleBuild:
    """An audit bundle of ``model:NAME`` or ``incident:ID`` (:mod:`ledger.exports.bundle`).

    Every event is proven against one signed checkpoint: the latest stored one
    when it covers the ledger's head, else a new one (which is kept, as
    ``rollout-ledger checkpoint`` keeps it). The bundle is reproducible: the
    same ledger state gives the same bytes.

    Args:
        ledger: a ledger with its signing key.
        ref: ``model:NAME`` or ``incident:ID``.
        name: the bundle's name as its reader will type it (``VERIFY.txt``).

    Raises:
        BadRequest: ``ref`` is not a model or an incident.
        NotFound: no signing key, or nothing is known about ``ref``.
    """
    scope = parse_scope(ref)
    if ledger.signer is None:
        raise NotFound("no signing key; run `rollout-ledger init` or pass --key-dir")
    key = ledger.signer.verifier_key()
    signed = _checkpoint(ledger)
    graph, _ = _graph(ledger, Point(seq=signed.size))
    subjects = scope_subjects(scope, graph, as_of_seq=signed.size)
    events = _events_about(ledger, scope, subjects, signed.size)
    proofs = [ledger.inclusion_proof(e.seq, signed.size) for e in events]
    files = bundle.evidence_files(events, proofs, signed.note, key)
    nodes, edges = scope_lineage(scope, subjects, graph, as_of_seq=signed.size)
    extra: dict[str, bytes] = {"lineage.mmd": render_lineage("mermaid", nodes, edges).encode()}
    if scope.kind == "model":
        extra["provenance.json"] = _prov_json(scope.name, events).encode()
    shown = report.ReportInput(
        scope=scope.ref,
        events=events,
        origin=ledger.origin,
        tree_size=signed.size,
        root_hex=signed.root_hash.hex(),
        key=key,
        nodes=nodes,
        edges=edges,
        bundle=name,
        created_at=signed.created_at,
        files=sorted(extra),
    )
    files.update(extra)
    files["report.md"] = report.report_markdown(shown).encode()
    files["report.html"] = report.report_html(shown).encode()
    files["VERIFY.txt"] = report.verify_instructions(name, key).encode()
    return BundleBuild(scope, dict(sorted(files.items())), len(events), signed)
