"""The vocabulary the story is written in: principals, steps, drafts and placeholders.

A story is an ordered list of :class:`Step`: one append call by one principal
at one simulated moment. Payloads may hold placeholders for facts only the
ledger knows once earlier steps are in (:class:`Cite` for evidence,
:class:`SeqOf` for a seq); :func:`ledger.demo.resolve` fills them in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

__all__ = [
    "ADMIN",
    "ANA",
    "BEN",
    "CANARY",
    "CI_CREDIT",
    "CI_FRAUD",
    "CI_RECS",
    "DATA",
    "KOFI",
    "LI",
    "MAYA",
    "MONITOR",
    "ONCALL",
    "RETRAIN",
    "SAM",
    "Chapter",
    "Cite",
    "Draft",
    "DraftSpec",
    "Principal",
    "SeqOf",
    "Step",
    "dataset",
    "digest",
    "edge",
    "keyed",
    "suite_result",
]


Draft = tuple[str, str, Mapping[str, object]]
"""``(type, subject, data)`` of a draft keyed by its step."""


class Principal(NamedTuple):
    """Who appends a step, and the token role they would hold."""

    name: str
    role: str


ADMIN = Principal("platform-admin", "admin")
DATA = Principal("airflow-data", "pipeline")
CI_FRAUD = Principal("ci-fraud", "pipeline")
CI_RECS = Principal("ci-recs", "pipeline")
CI_CREDIT = Principal("ci-credit", "pipeline")
CANARY = Principal("canary-analyzer", "pipeline")
MONITOR = Principal("prometheus-alerts", "pipeline")
RETRAIN = Principal("retrain-scheduler", "pipeline")
BEN = Principal("ml-lead-ben", "approver")
MAYA = Principal("recs-lead-maya", "approver")
KOFI = Principal("credit-lead-kofi", "approver")
ANA = Principal("risk-officer-ana", "approver")
LI = Principal("compliance-li", "approver")
SAM = Principal("release-manager-sam", "approver")
ONCALL = Principal("mlops-oncall", "operator")


@dataclass(frozen=True, slots=True)
class Cite:
    """An evidence item ``{seq, hash, note}`` naming the event of an earlier draft."""

    key: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class SeqOf:
    """The seq of the event an earlier draft became."""

    key: str


@dataclass(frozen=True, slots=True)
class DraftSpec:
    """A draft before its placeholders are filled: ``key`` is unique in the story and
    fixes the event id (uuid5), so loading the story twice appends nothing new."""

    key: str
    type: str
    subject: str
    data: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Step:
    """One append call: ``principal`` (with token ``role``) appends ``drafts`` at ``at``.

    ``at`` is both the drafts' ``occurred_at`` and the simulated clock's reading
    (so ``recorded_at``). ``expect_denied`` marks the attempt the rollout policy
    must refuse; the ledger then records a ``policy.denied`` event instead.
    """

    name: str
    principal: str
    role: str
    at: datetime
    drafts: tuple[DraftSpec, ...]
    expect_denied: bool = False


def digest(label: str) -> str:
    """A stable, realistic-looking ``sha256:`` digest for a made-up artifact."""
    return "sha256:" + hashlib.sha256(label.encode()).hexdigest()


@dataclass
class Chapter:
    """Collects the steps of one part of the story, timed from the story's start."""

    start: datetime
    steps: list[Step] = field(default_factory=list)

    def at(self, day: int, hour: int, minute: int = 0) -> datetime:
        """The moment ``day`` days, ``hour`` hours and ``minute`` minutes into the story."""
        return self.start + timedelta(days=day, hours=hour, minutes=minute)

    def date(self, days: float) -> str:
        """The ISO date ``days`` after the start (negative: before it)."""
        return (self.start + timedelta(days=days)).date().isoformat()

    def stamp(self, days: float) -> str:
        """An RFC 3339 UTC midnight ``days`` after the start, for payload times."""
        return f"{self.date(days)}T00:00:00Z"

    def iso(self, moment: datetime) -> str:
        """``moment`` as an RFC 3339 UTC string, for payload times."""
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def step(
        self,
        name: str,
        who: Principal,
        when: datetime,
        *drafts: Draft | DraftSpec,
        expect_denied: bool = False,
    ) -> None:
        """Add a step of ``drafts``: ``(type, subject, data)`` or a :class:`DraftSpec`.

        A tuple is keyed by the step's name when it is the step's only draft,
        else ``<name>/<index>``; cite a draft of a bigger step by giving it a
        key (:func:`keyed`).
        """
        specs = tuple(
            d
            if isinstance(d, DraftSpec)
            else DraftSpec(name if len(drafts) == 1 else f"{name}/{i}", *d)
            for i, d in enumerate(drafts)
        )
        self.steps.append(Step(name, who.name, who.role, when, specs, expect_denied))


def keyed(key: str, kind: str, subject: str, data: Mapping[str, object]) -> DraftSpec:
    """A draft with its own key, so later steps can cite it."""
    return DraftSpec(key, kind, subject, data)


def dataset(
    ref: str,
    *,
    rows: int,
    schema: str,
    covers: tuple[str, str],
    pii: bool,
    description: str,
) -> Draft:
    """A ``dataset.version.registered`` draft for ``dataset:<name>@<snapshot>``."""
    name, _, snapshot = ref.removeprefix("dataset:").partition("@")
    data: dict[str, object] = {
        "digest": digest(ref),
        "source": f"s3://acme-lake/{name}/snapshot={snapshot}/",
        "schema_ref": schema,
        "row_count": rows,
        "size_bytes": rows * 212,
        "format": "parquet",
        "time_range": {"start": covers[0], "end": covers[1]},
        "contains_pii": pii,
        "description": description,
    }
    return ("dataset.version.registered", ref, data)


def edge(source: str, relation: str, target: str, run: str) -> Draft:
    """A ``lineage.edge.recorded`` draft ``source <relation> target``, as OpenLineage reports it."""
    data: dict[str, object] = {
        "target": target,
        "relation": relation,
        "run": run,
        "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.24.2/integration/airflow",
    }
    return ("lineage.edge.recorded", source, data)


def suite_result(
    subject: str,
    suite: str,
    kind: str,
    metrics: Mapping[str, float],
    thresholds: Mapping[str, Mapping[str, float]],
    *,
    run: str,
    passed: bool = True,
    **extra: object,
) -> Draft:
    """A ``test.result.recorded`` draft; ``extra`` adds environment, evaluated_on, ..."""
    number = run.rsplit("/", 1)[-1]
    data: dict[str, object] = {
        "suite": suite,
        "kind": kind,
        "passed": passed,
        "metrics": dict(metrics),
        "thresholds": {k: dict(v) for k, v in thresholds.items()},
        "run": run,
        "evidence_uri": f"https://ci.acme.example/runs/{number}/{suite}",
        **extra,
    }
    return ("test.result.recorded", subject, data)
