"""What OpenLineage facets add: dataset versions, column lineage, data-quality results.

Facets are looked up on a dataset in ``facets``, then ``inputFacets``, then
``outputFacets`` (producers disagree on where some belong); a facet marked
``_deleted`` is ignored. Malformed entries inside a facet are skipped, never
fatal: the raw event is recorded whole anyway.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ledger.events import EventDraft
from ledger.integrations._common import content_draft, ref_part, safe_ref

__all__ = [
    "FACET_KEYS",
    "MAX_CHECKS",
    "Context",
    "Dataset",
    "column_edges",
    "dataset_version",
    "facet",
    "quality_results",
]

MAX_CHECKS = 1000
"""Most checks one ``data_quality.result.recorded`` holds; more are counted as truncated."""

FACET_KEYS = ("facets", "inputFacets", "outputFacets")
"""Where a dataset object keeps facets."""


@dataclass(frozen=True, slots=True)
class Context:
    """What every derived draft of one event shares."""

    node: str  # run:<id> for a RunEvent, job:<ns>/<name> for a JobEvent
    run: str | None
    job: str
    producer: str | None
    actor: str
    event_time: str


@dataclass(frozen=True, slots=True)
class Dataset:
    """An input or output dataset of an event, with its references."""

    namespace: str
    name: str
    raw: dict[str, object]
    ref: str  # versioned when a version facet names one
    base_ref: str  # never versioned


def facet(dataset: Mapping[str, object], name: str) -> dict[str, object] | None:
    """The facet ``name`` of a dataset object, wherever the producer put it."""
    for key in FACET_KEYS:
        group = dataset.get(key)
        value = group.get(name) if isinstance(group, dict) else None
        if isinstance(value, dict) and value.get("_deleted") is not True:
            return value
    return None


def dataset_version(dataset: Mapping[str, object]) -> str | None:
    """``facets.version.datasetVersion``, when given as a non-empty string."""
    version = (facet(dataset, "version") or {}).get("datasetVersion")
    return version if isinstance(version, str) and version.strip() else None


def _column_ref(namespace: str, name: str, column: str) -> str:
    return safe_ref(f"dataset:{ref_part(namespace)}/{ref_part(name)}#{ref_part(column)}")


def _input_fields(value: object) -> Iterator[tuple[str, str, str, object]]:
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict):
            continue
        namespace, name, field = item.get("namespace"), item.get("name"), item.get("field")
        if all(isinstance(v, str) and v for v in (namespace, name, field)):
            yield str(namespace), str(name), str(field), item.get("transformations")


def _edge(context: Context, subject: str, target: str, extra: dict[str, object]) -> EventDraft:
    data: dict[str, object] = {"target": target, "relation": "derived_from"}
    if context.run is not None:
        data["run"] = context.run
    if context.producer is not None:
        data["producer"] = context.producer
    data["facets"] = {"job": context.job, **extra}
    return content_draft("lineage.edge.recorded", subject, data, salt=context.actor)


def column_edges(context: Context, outputs: list[Dataset]) -> list[EventDraft]:
    """``dataset:<ns>/<out>#<col> -derived_from-> dataset:<ns>/<in>#<col>`` per input field.

    Column references are never versioned: a column's lineage is told by the
    edges' seq and time. Inputs that affect the whole output (the facet's
    ``dataset`` list: filters, joins, sorts) become edges from the output
    dataset itself, with ``facets.scope`` = ``dataset``.
    """
    drafts = []
    for output in outputs:
        lineage = facet(output.raw, "columnLineage") or {}
        fields = lineage.get("fields")
        for column, spec in (fields if isinstance(fields, dict) else {}).items():
            if not isinstance(spec, dict) or not column:
                continue
            subject = _column_ref(output.namespace, output.name, column)
            legacy = {
                k: spec[k]
                for k in ("transformationType", "transformationDescription")
                if isinstance(spec.get(k), str)
            }
            for namespace, name, field, how in _input_fields(spec.get("inputFields")):
                extra = {**legacy, **({"transformations": how} if how else {})}
                target = _column_ref(namespace, name, field)
                drafts.append(_edge(context, subject, target, extra))
        for namespace, name, field, how in _input_fields(lineage.get("dataset")):
            extra = {"scope": "dataset", **({"transformations": how} if how else {})}
            target = _column_ref(namespace, name, field)
            drafts.append(_edge(context, output.base_ref, target, extra))
    return drafts


def _short(value: object, limit: int) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = value if isinstance(value, str) else str(value).lower()
    return text[:limit] if text else None


def _check(item: object, *, test_facet: bool) -> dict[str, object] | None:
    if not isinstance(item, dict):
        return None
    if test_facet:
        status = item.get("status")
        assertion = item.get("type")
    else:
        success = item.get("success")
        status = None if not isinstance(success, bool) else "pass" if success else "fail"
        assertion = item.get("assertion")
    if status not in ("pass", "fail", "skip"):
        return None
    name = _short(item.get("name"), 500) or _short(assertion, 500)
    if name is None:
        return None
    check: dict[str, object] = {"name": name, "status": status}
    for key, source, limit in (
        ("assertion", assertion, 500),
        ("column", item.get("column"), 500),
        ("severity", item.get("severity"), 100),
        ("expected", item.get("expected"), 4000),
        ("actual", item.get("actual"), 4000),
        ("description", item.get("description"), 4000),
    ):
        value = _short(source, limit)
        if value is not None:
            check[key] = value
    return check


def _metrics(value: Mapping[str, object] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    if not value:
        return out
    for key in ("rowCount", "bytes", "fileCount"):
        number = value.get(key)
        if isinstance(number, int | float) and not isinstance(number, bool):
            out[key] = number
    columns = value.get("columnMetrics")
    for column, stats in (columns if isinstance(columns, dict) else {}).items():
        for key, number in (stats if isinstance(stats, dict) else {}).items():
            name = f"{column}.{key}"[:200]
            if isinstance(number, int | float) and not isinstance(number, bool):
                out[name] = number
            if len(out) >= 500:
                return out
    return out


def _result(
    context: Context,
    subject: str,
    source: str,
    items: object,
    *,
    test_facet: bool,
    metrics: dict[str, float],
) -> EventDraft | None:
    checks = [c for c in map(lambda i: _check(i, test_facet=test_facet), _list(items)) if c]
    if not checks:
        return None
    data: dict[str, object] = {
        "source": f"openlineage:{source}",
        "passed": all(c["status"] != "fail" for c in checks),
        "checks": checks[:MAX_CHECKS],
    }
    if len(checks) > MAX_CHECKS:
        data["truncated"] = True
    if metrics:
        data["metrics"] = metrics
    if context.run is not None:
        data["run"] = context.run
    data["job"] = context.job
    if context.producer is not None:
        data["producer"] = context.producer
    return content_draft(
        "data_quality.result.recorded",
        subject,
        data,
        salt=context.actor,
        occurred_at=context.event_time,
    )


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def quality_results(
    context: Context, datasets: list[Dataset], event: Mapping[str, object]
) -> list[EventDraft]:
    """``data_quality.result.recorded`` per dataset with ``dataQualityAssertions``, and one
    for the run's ``test`` facet (TestRunFacet), about the run."""
    drafts = []
    for dataset in datasets:
        assertions = facet(dataset.raw, "dataQualityAssertions")
        if assertions is None:
            continue
        metrics = _metrics(facet(dataset.raw, "dataQualityMetrics"))
        draft = _result(
            context,
            dataset.ref,
            "dataQualityAssertions",
            assertions.get("assertions"),
            test_facet=False,
            metrics=metrics,
        )
        if draft is not None:
            drafts.append(draft)
    run = event.get("run")
    run_facets = run.get("facets") if isinstance(run, dict) else None
    tests = run_facets.get("test") if isinstance(run_facets, dict) else None
    if context.run is not None and isinstance(tests, dict) and tests.get("_deleted") is not True:
        draft = _result(
            context, context.run, "test", tests.get("tests"), test_facet=True, metrics={}
        )
        if draft is not None:
            drafts.append(draft)
    return drafts
