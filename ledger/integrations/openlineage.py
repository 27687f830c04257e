"""OpenLineage events -> ledger drafts (pure translation, no I/O).

One received event becomes, all or nothing:

1. ``openlineage.event.recorded``: the event verbatim in ``data.event``, about
   ``run:<runId>`` (RunEvent), ``dataset:<namespace>/<name>`` (DatasetEvent) or
   ``job:<namespace>/<name>`` (JobEvent). Its id is a UUIDv5 of the event's
   identity (kind, eventTime, runId, eventType, job), so a retried event is
   acknowledged, not appended again.
2. ``lineage.edge.recorded`` per input (``dataset -consumed_by-> run``) and per
   output (``dataset -produced_by-> run``); a JobEvent links the datasets to the
   job instead. A dataset with a ``version`` facet is referred to as
   ``dataset:<namespace>/<name>@<datasetVersion>``.
3. Column-level edges and data-quality results from facets
   (:mod:`ledger.integrations._openlineage_facets`).

Derived drafts have content-derived ids, so a fact repeated by the START and
the COMPLETE event of a run is appended once; lineage edges therefore carry
no ``occurred_at`` of their own (they take the ledger's time of the first
event that showed them). See docs/integrations.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ledger.errors import InvalidEvent
from ledger.events import EventDraft
from ledger.integrations import _openlineage_facets as facets
from ledger.integrations._common import (
    Translation,
    as_object,
    content_draft,
    optional_text,
    ref_part,
    safe_ref,
    stable_id,
    text,
    to_time,
)
from ledger.integrations._elide import fit

__all__ = [
    "RUN_STATES",
    "TERMINAL_STATES",
    "RunState",
    "dataset_ref",
    "event_kind",
    "furthest_state",
    "job_ref",
    "run_ref",
    "translate",
]

RUN_STATES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
"""Every RunEvent ``eventType`` the spec defines."""

TERMINAL_STATES = frozenset({"COMPLETE", "ABORT", "FAIL"})
"""States after which a run does nothing more."""

_RANK = {"START": 1, "RUNNING": 2, "COMPLETE": 3, "ABORT": 3, "FAIL": 3}
_SPEC = re.compile(r"/spec/(\d+)-(\d+)-(\d+)/", re.ASCII)
_MAX_URI = 2048


def dataset_ref(
    namespace: str, name: str, *, version: str | None = None, column: str | None = None
) -> str:
    """``dataset:<namespace>/<name>[#<column>][@<version>]``, each part escaped (see ref_part)."""
    base = f"dataset:{ref_part(namespace)}/{ref_part(name)}"
    if column is not None:
        base += f"#{ref_part(column)}"
    suffix = f"@{ref_part(version)}" if version else ""
    return safe_ref(base, suffix)


def job_ref(namespace: str, name: str) -> str:
    """``job:<namespace>/<name>``."""
    return safe_ref(f"job:{ref_part(namespace)}/{ref_part(name)}")


def run_ref(run_id: str) -> str:
    """``run:<runId>``."""
    return safe_ref(f"run:{ref_part(run_id)}")


def event_kind(event: Mapping[str, object]) -> str:
    """``run``, ``dataset`` or ``job``: which of the three event shapes ``event`` has.

    Raises:
        InvalidEvent: it has none of ``run``, ``dataset`` and ``job``.
    """
    if "run" in event:
        return "run"
    if "dataset" in event:
        return "dataset"
    if "job" in event:
        return "job"
    raise InvalidEvent(
        "body: not an OpenLineage event (a RunEvent has run and job, a DatasetEvent dataset, "
        "a JobEvent job)",
        field="body",
    )


@dataclass(frozen=True, slots=True)
class RunState:
    """Where a run got to: the furthest state seen, and when the producer saw it."""

    state: str
    event_time: str
    seq: int


def furthest_state(observations: Iterable[tuple[str | None, str, int]]) -> RunState | None:
    """Fold ``(eventType, eventTime, seq)`` observations of one run into its state.

    START < RUNNING < a terminal state (COMPLETE, ABORT, FAIL); OTHER and
    unknown types never change the state. Among states of equal rank the later
    ``eventTime`` wins, then the later ``seq``. The result does not depend on the
    order the events arrived in, so a late START never moves a completed run
    back.
    """
    best: tuple[int, str, int, str] | None = None
    for event_type, event_time, seq in observations:
        rank = _RANK.get(event_type or "")
        if rank is None:
            continue
        key = (rank, event_time, seq, event_type or "")
        if best is None or key[:3] > best[:3]:
            best = key
    return None if best is None else RunState(best[3], best[1], best[2])


def _check_spec(schema_url: str | None) -> None:
    match = _SPEC.search(schema_url or "")
    if match is not None and int(match.group(1)) > 2:
        raise InvalidEvent(
            f"schemaURL: spec {match.group(1)}-{match.group(2)}-{match.group(3)} is not "
            "supported; this ledger reads OpenLineage spec 1-x and 2-x",
            field="schemaURL",
        )


def _uri_or_none(value: str | None) -> str | None:
    return value if value and ":" in value and len(value) <= _MAX_URI and " " not in value else None


def _named(value: object, field: str) -> tuple[str, str]:
    obj = as_object(value, field)
    return text(obj.get("namespace"), f"{field}.namespace"), text(obj.get("name"), f"{field}.name")


def _datasets(event: Mapping[str, object], key: str) -> list[facets.Dataset]:
    value = event.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidEvent(f"{key}: expected a list of datasets", field=key)
    out = []
    for index, item in enumerate(value):
        namespace, name = _named(item, f"{key}[{index}]")
        assert isinstance(item, dict)
        version = facets.dataset_version(item)
        out.append(
            facets.Dataset(
                namespace,
                name,
                item,
                dataset_ref(namespace, name, version=version),
                dataset_ref(namespace, name),
            )
        )
    return out


def translate(event: object, *, actor: str) -> Translation:
    """The drafts one OpenLineage event becomes (see the module docstring).

    Args:
        event: the parsed JSON body.
        actor: the principal's name; salts the ids of derived facts so two
            producers reporting the same fact never conflict.

    Raises:
        BadRequest: the body is not an object, or a required field is missing.
        InvalidEvent: not an OpenLineage event, or a spec major version above 2.
        PayloadTooLarge: the event is too large even with its facets elided.
    """
    raw = as_object(event, "body")
    kind = event_kind(raw)
    event_time = to_time(raw.get("eventTime"), "eventTime")
    producer = optional_text(raw.get("producer"), "producer")
    schema_url = optional_text(raw.get("schemaURL"), "schemaURL")
    _check_spec(schema_url)
    data: dict[str, object] = {"kind": kind, "event_time": event_time}
    job = run = None
    if kind in ("run", "job"):
        job = job_ref(*_named(raw.get("job"), "job"))
        data["job"] = job
    if kind == "run":
        run_obj = as_object(raw.get("run"), "run")
        run_id = text(run_obj.get("runId"), "run.runId")
        run = run_ref(run_id)
        data["run"] = run
        event_type = raw.get("eventType")
        if event_type is not None:
            if event_type not in RUN_STATES:
                raise InvalidEvent(
                    f"eventType: {event_type!r} is not one of {', '.join(RUN_STATES)}",
                    field="eventType",
                )
            data["event_type"] = event_type
        subject, identity = run, [run_id, str(event_type or ""), job or ""]
    elif kind == "dataset":
        namespace, name = _named(raw.get("dataset"), "dataset")
        subject = identity_ref = dataset_ref(namespace, name)
        identity = [identity_ref]
    else:
        assert job is not None
        subject, identity = job, [job]
    if producer is not None and len(producer) <= _MAX_URI:
        data["producer"] = producer
    if schema_url is not None and len(schema_url) <= _MAX_URI:
        data["schema_url"] = schema_url
    data["event"] = raw
    record = EventDraft.create(
        "openlineage.event.recorded",
        subject,
        fit(data),
        id=stable_id("openlineage", kind, event_time, *identity),
        occurred_at=event_time,
    )
    drafts = [record]
    if job is not None:
        context = facets.Context(run or job, run, job, _uri_or_none(producer), actor, event_time)
        inputs, outputs = _datasets(raw, "inputs"), _datasets(raw, "outputs")
        drafts += _edges(context, inputs, "consumed_by")
        drafts += _edges(context, outputs, "produced_by")
        drafts += facets.column_edges(context, outputs)
        drafts += facets.quality_results(context, [*inputs, *outputs], raw)
    return Translation(_unique(drafts))


def _edges(
    context: facets.Context, datasets: list[facets.Dataset], relation: str
) -> list[EventDraft]:
    drafts = []
    for dataset in datasets:
        data: dict[str, object] = {"target": context.node, "relation": relation}
        if context.run is not None:
            data["run"] = context.run
        if context.producer is not None:
            data["producer"] = context.producer
        data["facets"] = {
            "job": context.job,
            "dataset": {"namespace": dataset.namespace, "name": dataset.name},
        }
        drafts.append(content_draft("lineage.edge.recorded", dataset.ref, data, salt=context.actor))
    return drafts


def _unique(drafts: list[EventDraft]) -> list[EventDraft]:
    """Drop repeats of a derived draft (same id, so the same content) within one event."""
    seen: set[str | None] = set()
    out = []
    for draft in drafts:
        if draft.id not in seen:
            seen.add(draft.id)
            out.append(draft)
    return out
