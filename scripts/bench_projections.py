# ruff: noqa: E501
"""Benchmark the rollout domain's projections against their limits (issue 4, "Speed").

Usage::

    python scripts/bench_projections.py                  # full run: 1M-event ledger
    python scripts/bench_projections.py --quick          # 100k events, fewer queries
    python scripts/bench_projections.py --events 300000 --append-events 100000
    python scripts/bench_projections.py --only lineage   # one part: append, rebuild,
                                                         # lineage or registry
    python scripts/bench_projections.py --out-json r.json --keep --workdir /tmp/bp

What one run measures (each part prints its conditions):

1. ``append``: the same realistic event stream appended to two fresh ledgers,
   one projecting (registry documents, status intervals, lineage edges, and
   the rollout policy judging every promote and exposure raise) and one with
   ``project=False``; 1,000 events per durable transaction, the two ledgers
   fed side by side in chunks, ABBA order, only the append calls timed. The
   same comparison is repeated on top of the 1M ledger (``--at-scale``
   events). An instrumented pass then splits the projecting ledger's extra
   time per event type (fetch, ``keys_for``, ``project``, policy check) and
   per document kind (JSON encoding, writes), and cProfile passes give the
   hottest functions.
2. ``rebuild``: ``Ledger.rebuild_projections`` over the whole ledger (built
   with ``project=False``), in events/s, with the peak RSS; the rebuilt state
   is checked equal to the incremental state at the first ``--append-events``.
3. ``lineage``: ``LineageGraph`` over the synthetic layered graph of
   tests/projections/lineage_data.py (100,000 nodes, 300,000 edges):
   upstream/downstream depth 3, the same as of a random seq and a random
   time, impact; medians over random start nodes; memory by tracemalloc and
   RSS.
4. ``registry``: ``store.status_intervals(environment="prod", at_time=T)`` on
   the 1M ledger for random T, plus the same by seq; then "what served prod
   at T" (``statuses=`` the serving statuses, read from the R*Tree), checked
   equal to the plain read filtered to those statuses, and the serving filter
   through the ``(environment, time)`` index alone for reference.

The event stream (see :class:`Stream`) reuses the demo's shapes
(``ledger/_demo``) and its three rollout policies: hundreds of models of
four risk tiers release version after version (datasets, lineage, CI tests,
staging, approvals by distinct people, shadow, canary steps, full, an
ungoverned ``eu-prod``), with monitoring results and alerts while a version
serves, rollbacks with incidents, reviews and retraining, and a few
retirements. Every payload is valid against schema/events/*.json
(``--validate`` checks every draft with the catalogue) and every gated draft
meets its policy on the simulated clock, so nothing is denied: a denial
stops the run. Steps are append requests by their principal (pipelines,
approvers, the operator); a transaction holds 1,000 events, so the
requests of the steps it covers share one commit (``Ledger.append_group``,
the path ``Ledger.append`` and the API's group commit use).

Nothing here is a test: the numbers go to docs/benchmarks-projections.md.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import heapq
import io
import json
import math
import os
import platform
import pstats
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(ROOT))

import ledger.projecting as projecting  # noqa: E402
from ledger import policy as policy_mod  # noqa: E402
from ledger._demo.base import dataset, digest, edge, suite_result  # noqa: E402
from ledger._demo.onboarding import (  # noqa: E402
    _critical_risk_policy,
    _high_risk_policy,
    low_risk_policy,
)
from ledger.appending import AppendRequest  # noqa: E402
from ledger.events import EventDraft  # noqa: E402
from ledger.projecting import BatchProjector  # noqa: E402
from ledger.projections.base import Edge  # noqa: E402
from ledger.projections.lineage import LineageGraph  # noqa: E402
from ledger.service import Ledger  # noqa: E402
from ledger.store.sqlite import SQLiteStore  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "projections"))
from lineage_data import layered_lineage  # type: ignore[import-not-found]  # noqa: E402

__all__ = ["Stream", "main"]

BATCH = 1_000
SEED = 20260412
START = datetime(2025, 1, 6, tzinfo=UTC)
TARGETS = {
    "append_ratio": 0.50,
    "lineage_walk_ms": 20.0,
    "lineage_impact_ms": 100.0,
    "registry_asof_ms": 5.0,
}

# ---- the event stream ----------------------------------------------------------------

TIERS = (("low", 0.40), ("medium", 0.20), ("high", 0.28), ("critical", 0.12))
APPROVAL_ROLES = {
    "low": ("ml_lead",),
    "medium": ("ml_lead",),
    "high": ("ml_lead", "model_risk"),
    "critical": ("ml_lead", "model_risk", "compliance"),
}
# Prod exposure plans within each tier's max_exposure_step (50 / 75 / 25 points).
STAGE_PLANS = {
    "low": (10, 50, 100),
    "medium": (10, 50, 100),
    "high": (5, 25, 100),
    "critical": (5, 25, 50, 75, 100),
}
DOMAINS = (
    "payments",
    "credit",
    "storefront",
    "search",
    "ads",
    "support",
    "logistics",
    "pricing",
    "identity",
    "marketing",
    "risk",
    "content",
)
TASKS = ("binary_classification", "ranking", "regression", "forecasting", "embedding")
FRAMEWORKS = ("xgboost 2.0.3", "torch 2.4.0", "lightgbm 4.3.0", "sklearn 1.5.1", "jax 0.4.30")
NOISE_METRICS = ("feature_drift_psi", "queue_depth", "cpu_utilisation", "cache_miss_rate")
MODEL_RISK = ("risk-officer-ana", "risk-officer-raj", "risk-officer-lin")
COMPLIANCE = ("compliance-li", "compliance-oz")
RELEASE_MANAGERS = ("release-manager-sam", "release-manager-kim")
OPERATOR = ("mlops-oncall", "operator")
DATA = ("airflow-data", "pipeline")
CANARY = ("canary-analyzer", "pipeline")
MONITOR = ("prometheus-alerts", "pipeline")
RETRAIN = ("retrain-scheduler", "pipeline")
ADMIN = ("platform-admin", "admin")

Draft3 = tuple[str, str, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Emit:
    """One append request of a process: a principal's drafts at the current moment."""

    actor: str
    role: str
    drafts: list[Draft3]


@dataclass(frozen=True, slots=True)
class Wait:
    hours: float


Proc = Generator["Emit | Wait", "list[int] | None", None]


@dataclass(slots=True)
class StreamEvent:
    seq: int
    hours: float
    actor: str
    role: str
    type: str
    subject: str
    data: Mapping[str, Any]
    request: int  # consecutive events of one principal share it (one append request)


@dataclass
class ModelSpec:
    name: str
    domain: str
    team: str
    tier: str
    eu: bool
    release_days: float
    shadow: bool


class Stream:
    """A deterministic, realistic event stream, generated lazily in seq order.

    A discrete-event simulation: a bootstrap process (models, their versions
    already in production, backfilled before the policies exist, then the
    three policies of the demo), a data platform registering raw dataset
    snapshots, and one process per model looping release after release.
    """

    def __init__(self, models: int = 1000, seed: int = SEED, monitor_hours: float = 4.0) -> None:
        self.rng = random.Random(seed)
        self.monitor_hours = monitor_hours
        self.models: list[ModelSpec] = []
        for i in range(models):
            domain = DOMAINS[i % len(DOMAINS)]
            r, tier = self.rng.random(), "low"
            acc = 0.0
            for name, share in TIERS:
                acc += share
                if r < acc:
                    tier = name
                    break
            self.models.append(
                ModelSpec(
                    name=f"{domain}-{self.rng.choice(TASKS).split('_')[0]}-{i:03d}",
                    domain=domain,
                    team=f"{domain}-ml-{i % 3}",
                    tier=tier,
                    eu=self.rng.random() < 0.2,
                    release_days=self.rng.choice((1.5, 2.5, 3.5, 5.0, 7.0)),
                    shadow=tier in ("high", "critical") or self.rng.random() < 0.4,
                )
            )
        self.counts: Counter[str] = Counter()
        self.incidents = 0
        self.raw: dict[str, str] = {}  # domain -> latest raw dataset version ref
        self.prod: dict[str, str] = {}  # model -> version serving 100% of prod
        self.now = 0.0  # hours since START, of the step being run

    # -- the driver --

    def events(self) -> Iterator[StreamEvent]:
        """Every event, in seq order (an endless stream; take what you need)."""
        heap: list[tuple[float, int, Proc, list[int] | None]] = []
        counter = 0

        def push(at: float, proc: Proc, value: list[int] | None = None) -> None:
            nonlocal counter
            counter += 1
            heapq.heappush(heap, (at, counter, proc, value))

        boot = self._bootstrap()
        push(0.0, boot)
        seq = 0
        request = 0
        last_principal: tuple[str, str] | None = None
        while heap:
            now, _, proc, value = heapq.heappop(heap)
            self.now = now
            while True:
                try:
                    action = proc.send(value)
                except StopIteration:
                    if proc is boot:  # the models and the data platform start after it
                        push(now + 1.0, self._data_platform())
                        for spec in self.models:
                            push(now + 1.0 + self.rng.uniform(0, 72), self._model(spec))
                    break
                if isinstance(action, Wait):
                    push(now + action.hours, proc)
                    break
                if (action.actor, action.role) != last_principal:
                    request += 1
                    last_principal = (action.actor, action.role)
                seqs = []
                for kind, subject, data in action.drafts:
                    seq += 1
                    self.counts[kind] += 1
                    seqs.append(seq)
                    yield StreamEvent(
                        seq, now, action.actor, action.role, kind, subject, data, request
                    )
                value = seqs

    # -- processes --

    def _bootstrap(self) -> Proc:
        rng = self.rng
        for domain in DOMAINS:
            ref = f"dataset:{domain}-events@{self._date(-1)}"
            self.raw[domain] = ref
            yield Emit(*DATA, [self._dataset(ref, rng)])
        for spec in self.models:
            train = f"dataset:{spec.name}-training@{self._date(-30)}"
            version = f"model:{spec.name}@1.0.0"
            yield Emit(
                f"ci-{spec.team}",
                "pipeline",
                [
                    self._dataset(train, rng),
                    edge(
                        train, "derived_from", self.raw[spec.domain], f"run:airflow/{spec.name}-0"
                    ),
                    (
                        "model.registered",
                        f"model:{spec.name}",
                        {
                            "owner": spec.team,
                            "risk_tier": spec.tier,
                            "business_process": f"{spec.domain}-decisions",
                            "description": f"The {spec.domain} team's {spec.name} model.",
                            "task": rng.choice(TASKS),
                            "contact": f"#{spec.team}-oncall",
                            "tags": [spec.domain],
                        },
                    ),
                    ("model.version.registered", version, self._version_data(spec, "1.0.0", train)),
                ],
            )
            backfill: list[Draft3] = [
                ("rollout.stage.changed", f"deployment:{spec.name}/{env}", _full(version))
                for env in ("staging", "prod", *(("eu-prod",) if spec.eu else ()))
            ]
            yield Emit(*OPERATOR, backfill)
            self.prod[spec.name] = version
        yield Emit(
            *ADMIN,
            [
                ("policy.defined", "policy:low-risk", low_risk_policy(1)),
                ("policy.defined", "policy:high-risk", _high_risk_policy()),
                ("policy.defined", "policy:critical-risk", _critical_risk_policy()),
            ],
        )

    def _data_platform(self) -> Proc:
        """Raw snapshots every 6 hours per domain, each derived from the previous one."""
        rng = self.rng
        tick = 0
        while True:
            tick += 1
            drafts: list[Draft3] = []
            for domain in DOMAINS:
                ref = f"dataset:{domain}-events@{self._stamp()}"
                drafts.append(self._dataset(ref, rng))
                drafts.append(
                    edge(ref, "derived_from", self.raw[domain], f"run:airflow/raw-{tick}")
                )
                self.raw[domain] = ref
            yield Emit(*DATA, drafts)
            yield Wait(6.0)

    def _model(self, spec: ModelSpec) -> Proc:
        rng = self.rng
        major, minor = 1, 0
        retire_at = rng.uniform(60, 400) * 24 if rng.random() < 0.03 else None
        clock = 0.0  # hours this process has waited, for the retirement
        while True:
            minor += 1
            if minor > 9:
                major, minor = major + 1, 0
            number = f"{major}.{minor}.0"
            yield from self._release(spec, number)
            # serve: monitoring results and noise alerts until the next release
            serve = rng.expovariate(1 / spec.release_days) * 24 + 12
            waited = 0.0
            while waited < serve:
                step = self.monitor_hours * rng.uniform(0.8, 1.2)
                yield Wait(step)
                waited += step
                yield from self._monitor(spec, rng)
            clock += waited
            if retire_at is not None and clock > retire_at:
                yield Emit(
                    rng.choice(MODEL_RISK),
                    "approver",
                    [
                        (
                            "model.retired",
                            f"model:{spec.name}",
                            {"reason": "Replaced by the consolidated model of the domain."},
                        )
                    ],
                )
                return

    def _monitor(self, spec: ModelSpec, rng: random.Random) -> Proc:
        serving = self.prod[spec.name]
        run = f"run:argo/{spec.name}-mon-{rng.randrange(10**9)}"
        yield Emit(
            *CANARY,
            [
                suite_result(
                    serving,
                    "online-eval",
                    "evaluation",
                    {"auc": round(rng.uniform(0.8, 0.95), 4), "requests": rng.randrange(10**6)},
                    {"auc": {"min": 0.75}},
                    run=run,
                    passed=rng.random() > 0.02,
                    environment="prod",
                )
            ],
        )
        if rng.random() < 0.2:
            yield from self._noise_alert(spec, serving, "prod", rng)

    def _noise_alert(self, spec: ModelSpec, version: str, env: str, rng: random.Random) -> Proc:
        """An alert that crosses no rollback threshold, resolved within the hour."""
        dep = f"deployment:{spec.name}/{env}"
        alert_id = f"{spec.name}-{rng.randrange(16**8):08x}"
        metric = rng.choice(NOISE_METRICS)
        threshold = round(rng.uniform(0.2, 0.8), 3)
        severity = rng.choice(("info", "warning", "warning"))
        raised = {
            "alert_id": alert_id,
            "metric": metric,
            "observed": round(threshold * rng.uniform(1.05, 1.5), 4),
            "threshold": threshold,
            "comparator": "gt",
            "severity": severity,
            "version": version,
            "window_minutes": 5,
            "source": "prometheus",
            "summary": f"{metric} above {threshold} on {dep}.",
        }
        yield Emit(*MONITOR, [("alert.raised", dep, raised)])
        yield Wait(rng.uniform(0.2, 1.0))
        resolved = {
            "alert_id": alert_id,
            "metric": metric,
            "observed": round(threshold * 0.5, 4),
            "threshold": threshold,
            "severity": severity,
            "version": version,
            "resolution": "Back under the threshold.",
        }
        yield Emit(*MONITOR, [("alert.resolved", dep, resolved)])

    def _release(self, spec: ModelSpec, number: str) -> Proc:
        rng = self.rng
        name, v = spec.name, f"model:{spec.name}@{number}"
        ci = (f"ci-{spec.team}", "pipeline")
        stable = self.prod[name]
        train = f"dataset:{name}-training@{self._stamp()}"
        run = f"run:airflow/{name}-{number}"
        yield Emit(
            *DATA,
            [
                self._dataset(train, rng),
                edge(train, "derived_from", self.raw[spec.domain], run),
            ],
        )
        yield Wait(rng.uniform(0.5, 2))
        registration: list[Draft3] = [
            ("model.version.registered", v, self._version_data(spec, number, train))
        ]
        for f in rng.sample(range(40), 3):
            registration.append(edge(f"feature:{spec.domain}/f{f}", "feature_of", v, run))
        registration.append(edge(v, "derived_from", stable, run))
        yield Emit(*ci, registration)
        yield Wait(rng.uniform(0.3, 1.0))
        # CI
        kinds = ["unit", "integration", "evaluation", "latency"]
        if spec.tier in ("high", "critical") or rng.random() < 0.3:
            kinds.append("fairness")
        if rng.random() < 0.3:
            kinds.append("load")
        failing = rng.choice(kinds) if rng.random() < 0.05 else None
        holdout = f"dataset:{name}-holdout@{self._date(-7)}"
        ci_run = f"run:github-actions/{name}-{number}-{rng.randrange(10**6)}"
        results = [self._test(v, k, ci_run, rng, holdout, passed=k != failing) for k in kinds]
        seqs = yield Emit(*ci, results)
        assert seqs is not None
        evidence = [{"seq": s, "note": k} for s, k in zip(seqs, kinds, strict=True)]
        if failing is not None:
            if rng.random() < 0.4:
                return  # the version is abandoned; the model keeps serving the old one
            yield Wait(rng.uniform(1, 3))
            rerun = yield Emit(*ci, [self._test(v, failing, ci_run + "-r", rng, holdout)])
            assert rerun is not None
            evidence.append({"seq": rerun[0], "note": f"{failing} rerun"})
        yield Wait(rng.uniform(0.5, 2))
        yield Emit(
            *OPERATOR,
            [
                (
                    "rollout.stage.changed",
                    f"deployment:{name}/staging",
                    _full(v, "Staging deploy of the release candidate."),
                )
            ],
        )
        yield Wait(rng.uniform(1, 4))
        e2e = yield Emit(*ci, [self._test(v, "end_to_end", ci_run, rng, None, env="staging")])
        assert e2e is not None
        # approvals for prod, each by a different person, none the author
        approvals: list[int] = []
        for role in APPROVAL_ROLES[spec.tier]:
            yield Wait(rng.uniform(0.5, 6))
            who = {
                "ml_lead": f"ml-lead-{spec.team}",
                "model_risk": rng.choice(MODEL_RISK),
                "compliance": rng.choice(COMPLIANCE),
            }[role]
            granted = yield Emit(who, "approver", [self._approval(v, role, evidence)])
            assert granted is not None
            approvals.append(granted[0])
            if rng.random() < 0.01:  # revoked by mistake, granted again
                yield Wait(rng.uniform(0.2, 1))
                yield Emit(
                    who,
                    "approver",
                    [
                        (
                            "approval.revoked",
                            v,
                            {
                                "approval_seq": granted[0],
                                "environment": "prod",
                                "approver_role": role,
                                "justification": "Granted on the wrong evidence; re-reviewing.",
                            },
                        )
                    ],
                )
                yield Wait(rng.uniform(0.5, 2))
                again = yield Emit(who, "approver", [self._approval(v, role, evidence)])
                assert again is not None
                approvals[-1] = again[0]
        dep = f"deployment:{name}/prod"
        plan = STAGE_PLANS[spec.tier]
        if spec.shadow:
            yield Wait(rng.uniform(0.5, 2))
            yield Emit(
                *OPERATOR,
                [
                    (
                        "rollout.stage.changed",
                        dep,
                        {
                            "version": v,
                            "strategy": "shadow",
                            "exposure_percent": 0,
                            "mirror_percent": 100,
                            "reason": "Mirror prod traffic before any live exposure.",
                        },
                    )
                ],
            )
            yield Wait(rng.uniform(12, 30))
            yield Emit(
                *CANARY,
                [
                    self._test(
                        v, "shadow", f"run:argo/{name}-{number}-shadow", rng, None, env="prod"
                    )
                ],
            )
        yield Wait(rng.uniform(0.5, 2))
        decision = {
            "environment": "prod",
            "decision": "promote",
            "target_exposure": plan[0],
            "strategy": "canary",
            "justification": "Required tests pass and the approvals are in place.",
            "evidence": [{"seq": s} for s in approvals],
        }
        yield Emit(rng.choice(RELEASE_MANAGERS), "approver", [("deployment.decided", v, decision)])
        if not spec.shadow and rng.random() < 0.03:
            yield Wait(rng.uniform(1, 4))
            yield Emit(
                rng.choice(RELEASE_MANAGERS),
                "approver",
                [
                    (
                        "deployment.decided",
                        v,
                        {
                            "environment": "prod",
                            "decision": "abort",
                            "justification": "The business owner asked to wait for the next version.",
                        },
                    )
                ],
            )
            return
        yield Wait(rng.uniform(0.5, 1))
        rollback_at = rng.randrange(len(plan) - 1) if rng.random() < 0.06 else None
        for index, exposure in enumerate(plan):
            strategy = "full" if exposure >= 100 else "canary"
            yield Emit(
                *OPERATOR,
                [
                    (
                        "rollout.stage.changed",
                        dep,
                        {
                            "version": v,
                            "strategy": strategy,
                            "exposure_percent": exposure,
                            **({"cohort": "region=eu-west"} if exposure < 25 else {}),
                            **(
                                {
                                    "exit_criteria": [
                                        {
                                            "metric": "error_rate",
                                            "comparator": "lte",
                                            "value": 0.01,
                                            "window_minutes": 60,
                                        }
                                    ]
                                }
                                if exposure < 100
                                else {}
                            ),
                            "reason": f"Stage {index + 1} of {len(plan)}.",
                        },
                    )
                ],
            )
            if exposure >= 100:
                break
            length = rng.uniform(12, 30)
            yield Wait(rng.uniform(0.5, 2.5))
            if index == rollback_at:
                yield from self._rollback(spec, v, rng)
                return
            if rng.random() < 0.5:
                yield from self._noise_alert(spec, v, "prod", rng)
            yield Wait(length - 4)
            yield Emit(
                *CANARY,
                [
                    self._test(
                        v,
                        "canary_analysis",
                        f"run:argo/{name}-{number}-c{index}",
                        rng,
                        None,
                        env="prod",
                    )
                ],
            )
            yield Wait(rng.uniform(0.5, 1))
        self.prod[name] = v
        if spec.eu:
            yield Wait(rng.uniform(2, 6))
            yield Emit(
                *OPERATOR,
                [
                    (
                        "rollout.stage.changed",
                        f"deployment:{name}/eu-prod",
                        _full(v, "Follows prod once it is fully rolled out."),
                    )
                ],
            )
        yield Emit(*ci, [edge(v, "replaces", stable, run), edge(v, "deployed_as", dep, run)])

    def _rollback(self, spec: ModelSpec, v: str, rng: random.Random) -> Proc:
        """The canary crosses the error-rate rollback threshold: incident, rollback, review."""
        dep = f"deployment:{spec.name}/prod"
        stable = self.prod[spec.name]
        alert_id = f"{spec.name}-err-{rng.randrange(16**8):08x}"
        yield Emit(
            *MONITOR,
            [
                (
                    "alert.raised",
                    dep,
                    {
                        "alert_id": alert_id,
                        "metric": "error_rate",
                        "observed": round(rng.uniform(0.06, 0.2), 4),
                        "threshold": 0.05,
                        "comparator": "gt",
                        "severity": "critical",
                        "version": v,
                        "window_minutes": 5,
                        "source": "prometheus",
                        "summary": f"5xx rate on the canary of {v}.",
                    },
                )
            ],
        )
        self.incidents += 1
        incident = f"incident:INC-{self.incidents}"
        yield Wait(rng.uniform(0.1, 0.3))
        yield Emit(
            *OPERATOR,
            [
                (
                    "incident.opened",
                    incident,
                    {
                        "severity": "sev2",
                        "summary": f"Error rate on the {spec.name} canary above the rollback threshold.",
                        "affected": [dep, v],
                        "alert_ids": [alert_id],
                        "commander": OPERATOR[0],
                    },
                )
            ],
        )
        yield Wait(rng.uniform(0.1, 0.5))
        done = yield Emit(
            *OPERATOR,
            [
                (
                    "rollback.executed",
                    dep,
                    {
                        "from_version": v,
                        "to_version": stable,
                        "reason": "Error-rate rollback threshold crossed.",
                        "trigger": "alert",
                        "alert_id": alert_id,
                        "incident": incident,
                    },
                )
            ],
        )
        assert done is not None
        yield Wait(rng.uniform(0.3, 1))
        yield Emit(
            *OPERATOR,
            [
                (
                    "rollback.verified",
                    dep,
                    {
                        "from_version": v,
                        "to_version": stable,
                        "rollback_seq": done[0],
                        "passed": True,
                        "checks": [
                            {
                                "name": "error-rate-back-to-baseline",
                                "passed": True,
                                "metric": "error_rate",
                                "observed": 0.004,
                            }
                        ],
                        "incident": incident,
                    },
                )
            ],
        )
        yield Emit(
            *MONITOR,
            [
                (
                    "alert.resolved",
                    dep,
                    {
                        "alert_id": alert_id,
                        "metric": "error_rate",
                        "observed": 0.004,
                        "threshold": 0.05,
                        "severity": "critical",
                        "version": v,
                        "resolution": "Rolled back.",
                    },
                )
            ],
        )
        yield Wait(rng.uniform(1, 4))
        yield Emit(
            *OPERATOR,
            [
                (
                    "incident.resolved",
                    incident,
                    {
                        "summary": "Rolled back to the stable version; error rate at baseline.",
                        "root_cause": "A feature the new version reads was not backfilled in one region.",
                    },
                )
            ],
        )
        yield Wait(rng.uniform(12, 48))
        yield Emit(
            *OPERATOR,
            [
                (
                    "review.recorded",
                    incident,
                    {
                        "findings": ["The canary caught the regression at limited exposure."],
                        "actions": [
                            {
                                "summary": "Check feature backfills before a rollout.",
                                "owner": spec.team,
                            }
                        ],
                    },
                )
            ],
        )
        yield Emit(
            *RETRAIN,
            [
                (
                    "retraining.triggered",
                    f"model:{spec.name}",
                    {
                        "signal": "incident",
                        "metric": "error_rate",
                        "version": v,
                        "incident": incident,
                        "reason": "Retrain with the backfilled feature.",
                    },
                )
            ],
        )

    # -- payloads --

    def _date(self, days: float) -> str:
        return (START + timedelta(days=days)).date().isoformat()

    def _stamp(self) -> str:
        """The current moment as a snapshot name: ``2025-01-09T0630``."""
        return (START + timedelta(hours=self.now)).strftime("%Y-%m-%dT%H%M%S")

    @staticmethod
    def _dataset(ref: str, rng: random.Random) -> Draft3:
        rows = rng.randrange(10**5, 10**9)
        kind, subject, data = dataset(
            ref,
            rows=rows,
            schema=f"schema-registry:{ref.split(':', 1)[1].split('@')[0]}/{rng.randrange(1, 12)}",
            covers=("2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
            pii=rng.random() < 0.3,
            description="A snapshot registered by the data platform.",
        )
        return kind, subject, dict(data)

    def _version_data(self, spec: ModelSpec, number: str, train: str) -> dict[str, Any]:
        rng = self.rng
        commit = f"{rng.randrange(16**7):07x}"
        return {
            "artifact_digest": digest(f"{spec.name}@{number}"),
            "artifact_uri": f"s3://acme-ml-artifacts/{spec.name}/{commit}/model.bin",
            "training_run": f"run:mlflow/{spec.name}-{number}",
            "code_ref": f"git+https://git.acme.example/{spec.team}@{commit}",
            "author": f"eng-{spec.team}-{rng.randrange(5)}",
            "framework": rng.choice(FRAMEWORKS),
            "parameters": {
                "max_depth": rng.randrange(4, 12),
                "lr": round(rng.uniform(1e-4, 0.1), 5),
            },
            "trained_on": [train],
        }

    @staticmethod
    def _test(
        v: str,
        kind: str,
        run: str,
        rng: random.Random,
        evaluated_on: str | None,
        *,
        passed: bool = True,
        env: str | None = None,
    ) -> Draft3:
        table: dict[str, tuple[dict[str, float], dict[str, dict[str, float]]]] = {
            "unit": ({"tests_failed": 0 if passed else 3}, {"tests_failed": {"max": 0}}),
            "integration": (
                {"contract_violations": 0 if passed else 1},
                {"contract_violations": {"max": 0}},
            ),
            "evaluation": (
                {
                    "auc": round(rng.uniform(0.85, 0.95), 4),
                    "recall_at_1pct_fpr": round(rng.uniform(0.5, 0.7), 4),
                },
                {"auc": {"min": 0.85 if passed else 0.99}},
            ),
            "fairness": (
                {"demographic_parity_gap": round(rng.uniform(0.005, 0.03), 4)},
                {"demographic_parity_gap": {"max": 0.03 if passed else 0.001}},
            ),
            "latency": (
                {"latency_p99_ms": round(rng.uniform(20, 120), 1)},
                {"latency_p99_ms": {"max": 150 if passed else 10}},
            ),
            "load": (
                {"throughput_rps": round(rng.uniform(800, 5000), 1)},
                {"throughput_rps": {"min": 500}},
            ),
            "end_to_end": ({"journeys_failed": 0}, {"journeys_failed": {"max": 0}}),
            "shadow": (
                {
                    "score_agreement": round(rng.uniform(0.95, 0.99), 4),
                    "requests": rng.randrange(10**6, 10**8),
                },
                {"score_agreement": {"min": 0.95}},
            ),
            "canary_analysis": (
                {
                    "error_rate": round(rng.uniform(0.001, 0.009), 5),
                    "latency_p99_ms": round(rng.uniform(30, 90), 1),
                },
                {"error_rate": {"max": 0.01}},
            ),
        }
        metrics = table[kind]
        extra: dict[str, Any] = {}
        if env is not None:
            extra["environment"] = env
        if evaluated_on is not None and kind == "evaluation":
            extra["evaluated_on"] = evaluated_on
        kind_, subject, data = suite_result(
            v,
            f"{kind.replace('_', '-')}-suite",
            kind,
            metrics[0],
            metrics[1],
            run=run,
            passed=passed,
            **extra,
        )
        return kind_, subject, dict(data)

    @staticmethod
    def _approval(v: str, role: str, evidence: list[dict[str, Any]]) -> Draft3:
        return (
            "approval.granted",
            v,
            {
                "environment": "prod",
                "approver_role": role,
                "justification": "Tests pass on the exact version; evidence reviewed.",
                "evidence": evidence,
            },
        )


def _full(
    version: str, reason: str = "Backfilled: live on all traffic before the ledger."
) -> dict[str, Any]:
    return {"version": version, "strategy": "full", "exposure_percent": 100, "reason": reason}


# ---- batches -------------------------------------------------------------------------


@dataclass(slots=True)
class Batch:
    """1,000 consecutive events: one transaction, one request per step (principal)."""

    first_seq: int
    recorded_at: datetime
    requests: list[tuple[str, str, list[EventDraft]]]
    types: list[str]

    @property
    def size(self) -> int:
        return len(self.types)


def _event_id(seq: int) -> str:
    return str(uuid.UUID(int=(SEED << 64) ^ (seq * 0x9E3779B97F4A7C15), version=4))


def make_batch(events: Sequence[StreamEvent]) -> Batch:
    requests: list[tuple[str, str, list[EventDraft]]] = []
    last = None
    for e in events:
        when = (START + timedelta(hours=e.hours)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        draft = EventDraft.create(e.type, e.subject, e.data, id=_event_id(e.seq), occurred_at=when)
        if e.request != last:
            requests.append((e.actor, e.role, []))
            last = e.request
        requests[-1][2].append(draft)
    recorded = START + timedelta(hours=events[-1].hours, microseconds=1)
    return Batch(events[0].seq, recorded, requests, [e.type for e in events])


def batches(stream: Iterator[StreamEvent], count: int) -> Iterator[list[StreamEvent]]:
    """``count`` events of ``stream`` in lists of ``BATCH``."""
    chunk: list[StreamEvent] = []
    for taken, event in enumerate(stream, start=1):
        chunk.append(event)
        if len(chunk) == BATCH or taken == count:
            yield chunk
            chunk = []
        if taken == count:
            return


# ---- small helpers -------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "n/a"


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def rss_mb() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False if not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def written_bytes() -> int:
    """Bytes this process passed to write() so far (WAL frames, checkpoints)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("wchar:"):
                return int(line.split()[1])
    return 0


def drop_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


def db_size(path: Path) -> int:
    return sum(os.path.getsize(f"{path}{s}") for s in ("", "-wal") if os.path.exists(f"{path}{s}"))


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def med(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def code_state() -> dict[str, str]:
    """Which product code was measured: a hash of the files on the append/projection path."""
    import hashlib

    files = sorted(
        [ROOT / "ledger" / n for n in ("projecting.py", "appending.py", "service.py", "policy.py")]
        + list((ROOT / "ledger" / "projections").glob("*.py"))
        + list((ROOT / "ledger" / "store").glob("sqlite*.py"))
    )
    h = hashlib.sha256()
    newest = 0.0
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
        newest = max(newest, f.stat().st_mtime)
    return {
        "sha256_16": h.hexdigest()[:16],
        "newest_mtime": datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


class SimClock:
    """The ledger's clock: the simulated moment of the batch being appended."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Side:
    name: str
    path: Path
    ledger: Ledger
    clock: SimClock
    batch_s: list[float] = field(default_factory=list)
    wrote: int = 0  # bytes written during this side's appends

    @property
    def store(self) -> SQLiteStore:
        store = self.ledger.store
        assert isinstance(store, SQLiteStore)
        return store

    @classmethod
    def open(cls, name: str, path: Path, *, project: bool) -> Side:
        clock = SimClock()
        return cls(name, path, Ledger(SQLiteStore(path), project=project, clock=clock), clock)

    def set_project(self, project: bool) -> None:
        self.ledger = Ledger(self.ledger.store, project=project, clock=self.clock)

    def append(self, batch: Batch) -> float:
        self.clock.now = batch.recorded_at
        requests = [AppendRequest(drafts, actor) for actor, _role, drafts in batch.requests]
        w0 = written_bytes()
        t0 = time.perf_counter()
        outcomes = self.ledger.append_group(requests)
        dt = time.perf_counter() - t0
        self.wrote += written_bytes() - w0
        for outcome in outcomes:
            if outcome.error is not None:
                raise RuntimeError(f"{self.name}: batch at seq {batch.first_seq}: {outcome.error}")
        return dt


class Feed:
    """The one stream, consumed in order, as prepared batches (drafts built outside timing)."""

    def __init__(self, models: int, monitor_hours: float, validator: Ledger | None) -> None:
        self.stream = Stream(models=models, monitor_hours=monitor_hours)
        self._events = self.stream.events()
        self.seq = 0
        self.mix: Counter[str] = Counter()
        self.requests = 0
        self.validator = validator
        self.validated = 0
        self.first_time: datetime | None = None
        self.last_time: datetime | None = None

    def take(self, count: int) -> Iterator[Batch]:
        for chunk in batches(self._events, count):
            batch = make_batch(chunk)
            self.seq = chunk[-1].seq
            self.mix.update(batch.types)
            self.requests += len(batch.requests)
            self.first_time = self.first_time or batch.recorded_at
            self.last_time = batch.recorded_at
            if self.validator is not None:
                for _actor, role, drafts in batch.requests:
                    self.validator.validate(drafts, role)
                    self.validated += len(drafts)
            yield batch

    def chunks(self, count: int, per_chunk: int) -> Iterator[list[Batch]]:
        out: list[Batch] = []
        for batch in self.take(count):
            out.append(batch)
            if len(out) * BATCH >= per_chunk:
                yield out
                out = []
        if out:
            yield out


# ---- instrumentation -----------------------------------------------------------------


def doc_kind(key: str) -> str:
    if ":" not in key:
        return key  # the policy index
    prefix = key.split(":", 1)[0]
    if prefix == "model":
        return "version" if "@" in key else "model"
    return prefix


def sql_kind(sql: str) -> str:
    s = " ".join(sql.split())[:60].upper()
    for needle, name in (
        ("COMMIT", "COMMIT"),
        ("BEGIN", "BEGIN"),
        ("INTO EVENTS", "insert events"),
        ("FROM EVENTS", "read events"),
        ("MERKLE_NODES", "merkle nodes"),
        ("FROM PROJ_DOCS", "get docs"),
        ("INTO PROJ_DOCS", "put docs"),
        ("PROJ_STATUS", "status intervals"),
        ("PROJ_EDGES", "lineage edges"),
        ("PROJ_HISTORY", "history rows"),
        ("META", "meta"),
    ):
        if needle in s:
            return name
    return s[:30]


class Probe:
    """Accumulates seconds, counts and bytes by label."""

    def __init__(self) -> None:
        self.s: defaultdict[tuple[str, ...], float] = defaultdict(float)
        self.n: Counter[tuple[str, ...]] = Counter()
        self.bytes: Counter[tuple[str, ...]] = Counter()
        self.phase: list[tuple[str, str]] = [("batch", "-")]  # (phase, event type)

    def add(self, key: tuple[str, ...], seconds: float, n: int = 1) -> None:
        self.s[key] += seconds
        self.n[key] += n


class TimedConn:
    """A sqlite3 connection proxy that times statements by kind."""

    def __init__(self, conn: sqlite3.Connection, probe: Probe) -> None:
        self._conn = conn
        self._probe = probe

    def execute(self, sql: str, *args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self._conn.execute(sql, *args)
        finally:
            self._probe.add(("sql", sql_kind(sql)), time.perf_counter() - t0)

    def executemany(self, sql: str, rows: Any) -> Any:
        rows = list(rows)
        t0 = time.perf_counter()
        try:
            return self._conn.executemany(sql, rows)
        finally:
            self._probe.add(("sql", sql_kind(sql)), time.perf_counter() - t0, len(rows))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@contextlib.contextmanager
def instrumented(store: SQLiteStore, probe: Probe) -> Iterator[list[str]]:
    """Wrap the projection path's seams (whatever of them exists) with timers."""
    import ledger.appending as appending
    import ledger.store.sqlite as sqlite_mod

    undo: list[tuple[object, str, object]] = []
    patched: list[str] = []

    def patch(owner: object, name: str, make: Callable[[Any], Any], label: str) -> None:
        original = (
            owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        )
        if original is None:
            return
        undo.append((owner, name, original))
        setattr(owner, name, make(original))
        patched.append(label)

    def phase(name: str, typed: Callable[..., str]) -> Callable[[Any], Any]:
        def make(original: Any) -> Any:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                kind = typed(*args)
                probe.phase.append((name, kind))
                t0 = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    probe.add((name, kind), time.perf_counter() - t0)
                    probe.phase.pop()

            return wrapper

        return make

    def inner(name: str) -> Callable[[Any], Any]:
        def make(original: Any) -> Any:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                outer, kind = probe.phase[-1]
                t0 = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    probe.add((outer, kind, name), time.perf_counter() - t0)

            return wrapper

        return make

    def get_docs(original: Any) -> Any:
        def wrapper(self: Any, keys: Sequence[str]) -> dict[str, bytes]:
            outer, kind = probe.phase[-1]
            t0 = time.perf_counter()
            found: dict[str, bytes] = original(self, keys)
            probe.add((outer, kind, "get_docs SQL"), time.perf_counter() - t0)
            for key, blob in found.items():
                probe.bytes[("fetched", doc_kind(key))] += len(blob)
                probe.n[("fetched", doc_kind(key))] += 1
            probe.n[("asked", "keys")] += len(keys)
            return found

        return wrapper

    def write_projection(original: Any) -> Any:
        def wrapper(
            self: Any, docs: Sequence[tuple[str, bytes, int]], *args: Any, **kw: Any
        ) -> Any:
            for key, blob, _seq in docs:
                probe.bytes[("written", doc_kind(key))] += len(blob)
                probe.n[("written", doc_kind(key))] += 1
            t0 = time.perf_counter()
            try:
                return original(self, docs, *args, **kw)
            finally:
                probe.add(("flush", "-", "write_projection SQL"), time.perf_counter() - t0)

        return wrapper

    untyped: Callable[..., str] = lambda *a: "-"  # noqa: E731
    patch(BatchProjector, "apply", phase("apply", lambda self, view, *a: view["type"]), "apply")
    patch(BatchProjector, "check", phase("check", lambda self, draft, *a: draft["type"]), "check")
    patch(BatchProjector, "prefetch", phase("prefetch", untyped), "prefetch")
    patch(BatchProjector, "flush", phase("flush", untyped), "flush")
    patch(BatchProjector, "snapshot", phase("snapshot", untyped), "snapshot")
    patch(BatchProjector, "_fetch", inner("fetch"), "_fetch")
    patch(projecting, "keys_for", inner("keys_for"), "keys_for")
    patch(projecting, "project", inner("project"), "project")
    patch(policy_mod, "check", inner("policy.check"), "policy.check")
    patch(policy_mod, "policy_keys_for", inner("policy_keys_for"), "policy_keys_for")
    if hasattr(appending, "keys_for"):
        patch(appending, "keys_for", inner("keys_for"), "appending.keys_for")
    if hasattr(appending, "policy_keys_for"):
        patch(appending, "policy_keys_for", inner("policy_keys_for"), "appending.policy_keys_for")
    # the write transaction moved to ledger.store.sqlite_rows when the store was split
    import ledger.store.sqlite_rows as sqlite_rows

    tx_class = getattr(sqlite_mod, "_Tx", None) or sqlite_rows.SQLiteTransaction
    patch(tx_class, "get_docs", get_docs, "_Tx.get_docs")
    patch(tx_class, "write_projection", write_projection, "_Tx.write_projection")
    conn = store._conn
    store._conn = TimedConn(conn, probe)  # type: ignore[assignment]
    try:
        yield patched
    finally:
        store._conn = conn
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)


def breakdown(probe: Probe, events: int, mix: Counter[str], total_s: float) -> dict[str, Any]:
    """Per event type and per batch-level phase, in microseconds per event."""
    per_type: dict[str, dict[str, float]] = {}
    for (phase, kind, *sub), seconds in probe.s.items():
        if phase not in ("apply", "check") or kind == "-":
            continue
        row = per_type.setdefault(kind, {"count": mix.get(kind, 0)})
        label = f"{phase}" if not sub else f"{phase}.{sub[0]}"
        row[label] = row.get(label, 0.0) + seconds
    for row in per_type.values():
        count = max(1, int(row["count"]))
        for label in list(row):
            if label != "count":
                row[label] = row[label] / count * 1e6
    batch: dict[str, float] = {}
    for (phase, kind, *sub), seconds in probe.s.items():
        if phase in ("apply", "check"):
            continue
        label = phase if not sub else f"{phase}.{sub[0]}"
        if phase == "sql":
            label = f"sql.{kind}"
        batch[label] = batch.get(label, 0.0) + seconds / events * 1e6
    sums = {
        "apply": sum(s for (p, k, *sub), s in probe.s.items() if p == "apply" and not sub),
        "check": sum(s for (p, k, *sub), s in probe.s.items() if p == "check" and not sub),
    }
    docs = {
        kind: {
            "fetched": probe.n[("fetched", kind)],
            "fetched_mean_b": probe.bytes[("fetched", kind)] / max(1, probe.n[("fetched", kind)]),
            "written": probe.n[("written", kind)],
            "written_mean_b": probe.bytes[("written", kind)] / max(1, probe.n[("written", kind)]),
            "written_total_mb": probe.bytes[("written", kind)] / 1e6,
            "fetched_total_mb": probe.bytes[("fetched", kind)] / 1e6,
        }
        for kind in sorted({k for (what, k) in probe.bytes})
    }
    return {
        "events": events,
        "total_us_per_event": total_s / events * 1e6,
        "apply_us_per_event": sums["apply"] / events * 1e6,
        "check_us_per_event": sums["check"] / events * 1e6,
        "per_type_us": per_type,
        "batch_us_per_event": dict(sorted(batch.items(), key=lambda kv: -kv[1])),
        "docs": docs,
        "keys_asked": probe.n[("asked", "keys")],
    }


def profile_top(prof: cProfile.Profile, limit: int = 25) -> str:
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(limit)
    text = out.getvalue()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(
        r"ledger/(projecting|appending|service|policy|projections|store)", limit
    )
    return text + "\n" + out.getvalue()


# ---- 1. append with and without projections ------------------------------------------


def compare(feed: Feed, a: Side, b: Side, count: int, per_chunk: int, label: str) -> dict[str, Any]:
    """Append ``count`` events to both sides, ABBA by chunk; only append calls timed."""
    a.batch_s.clear()
    b.batch_s.clear()
    a.wrote = b.wrote = 0
    chunk_ratios = []
    t_start = time.time()
    for index, chunk in enumerate(feed.chunks(count, per_chunk)):
        order = (a, b) if index % 2 == 0 else (b, a)
        took = {}
        for side in order:
            seconds = [side.append(batch) for batch in chunk]
            side.batch_s += seconds
            took[side.name] = sum(seconds)
        chunk_ratios.append(took[b.name] / took[a.name])
        done = sum(batch.size for batch in chunk)
        log(
            f"{label}: chunk {index + 1}: {done} events, projecting {done / took[a.name]:,.0f} ev/s,"
            f" plain {done / took[b.name]:,.0f} ev/s, ratio {chunk_ratios[-1]:.1%} (load {loadavg()})"
        )
    events = len(a.batch_s) * BATCH
    a_s, b_s = sum(a.batch_s), sum(b.batch_s)
    half = len(a.batch_s) // 2
    return {
        "events": events,
        "projecting_s": a_s,
        "plain_s": b_s,
        "projecting_eps": events / a_s,
        "plain_eps": events / b_s,
        "projecting_us": a_s / events * 1e6,
        "plain_us": b_s / events * 1e6,
        "ratio": b_s / a_s,
        "chunk_ratio_median": med(chunk_ratios),
        "chunk_ratio_min": min(chunk_ratios),
        "chunk_ratio_max": max(chunk_ratios),
        "first_half_ratio": sum(b.batch_s[:half]) / sum(a.batch_s[:half]) if half else None,
        "second_half_ratio": sum(b.batch_s[half:]) / sum(a.batch_s[half:]) if half else None,
        "batch_ms_projecting_median": med(a.batch_s) * 1e3,
        "batch_ms_projecting_p99": pct(a.batch_s, 0.99) * 1e3,
        "batch_ms_plain_median": med(b.batch_s) * 1e3,
        "wall_s": time.time() - t_start,
        "projecting_written_b_per_event": a.wrote / events,
        "plain_written_b_per_event": b.wrote / events,
    }


def instrumented_pass(feed: Feed, side: Side, others: Sequence[Side], count: int) -> dict[str, Any]:
    """Append ``count`` events to ``side`` with timers on the projection seams.

    The other sides get the same batches with only their SQL timed, so the
    statement costs (COMMIT above all) can be compared with a plain ledger's.
    """
    probe = Probe()
    plain = Probe()
    mix: Counter[str] = Counter()
    total = 0.0
    other_total = 0.0
    events = 0
    side.wrote = 0
    for other in others:
        other.wrote = 0
    conns = [(o.store, o.store._conn) for o in others]
    for store, conn in conns:
        store._conn = TimedConn(conn, plain)  # type: ignore[assignment]
    try:
        with instrumented(side.store, probe) as patched:
            for batch in feed.take(count):
                mix.update(batch.types)
                total += side.append(batch)
                events += batch.size
                for other in others:
                    other_total += other.append(batch)
    finally:
        for store, conn in conns:
            store._conn = conn
    out = breakdown(probe, events, mix, total)
    out["patched"] = patched
    out["written_b_per_event"] = side.wrote / events
    if others:
        out["plain_us_per_event"] = other_total / events / len(others) * 1e6
        out["plain_written_b_per_event"] = sum(o.wrote for o in others) / events / len(others)
        out["plain_sql_us_per_event"] = {
            kind: seconds / events / len(others) * 1e6
            for (_, kind), seconds in sorted(plain.s.items(), key=lambda kv: -kv[1])
        }
    return out


def profiled_pass(feed: Feed, side: Side, others: Sequence[Side], count: int, path: Path) -> str:
    prof = cProfile.Profile()
    for batch in feed.take(count):
        prof.enable()
        side.append(batch)
        prof.disable()
        for other in others:
            other.append(batch)
    prof.dump_stats(str(path))
    return profile_top(prof)


def plain_fill(feed: Feed, side: Side, count: int, label: str) -> dict[str, Any]:
    t_append = 0.0
    t0 = time.time()
    n = 0
    for batch in feed.take(count):
        t_append += side.append(batch)
        n += batch.size
        if n % 100_000 == 0:
            log(f"{label}: {n:,} events ({n / t_append:,.0f} ev/s appending, load {loadavg()})")
    return {
        "events": n,
        "append_s": t_append,
        "eps": n / t_append if n else None,
        "wall_s": time.time() - t0,
    }


# ---- 2. rebuild ----------------------------------------------------------------------


def timed_rebuild(side: Side) -> dict[str, Any]:
    gc.collect()
    reset = reset_peak_rss()
    before = rss_mb()
    t0 = time.perf_counter()
    count = side.ledger.rebuild_projections()
    seconds = time.perf_counter() - t0
    return {
        "events": count,
        "seconds": seconds,
        "eps": count / seconds,
        "rss_before_mb": before,
        "peak_rss_mb": peak_rss_mb(),
        "peak_is_this_rebuild": reset,
    }


def wal_pages(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Pages each table or index dirties per 1,000-event transaction, with and without projections.

    A ledger of ``--events`` is filled plain and rebuilt, then ``--pages-events``
    more go into two copies of it with the WAL never checkpointed, so every
    frame a commit writes stays in the WAL; each frame's page is named after
    the table or index that owns it (``dbstat``) once both are done. A page
    dirtied by a transaction is written once per transaction, so frames per
    transaction are the distinct pages it dirtied.
    """
    import struct

    from ledger.store import sqlite as sqlite_store
    from ledger.store import sqlite_rows

    feed = Feed(args.models, args.monitor_hours, None)
    base = work / "pages-base.db"
    drop_db(base)
    side = Side.open("base", base, project=False)
    plain_fill(feed, side, args.events, "pages: fill")
    side.ledger.rebuild_projections()
    side.ledger.store.close()
    batches = list(feed.take(args.pages_events))
    # No checkpoint may reset the WAL while frames are being counted.
    saved = sqlite_store.BACKGROUND_CHECKPOINT_EVENTS, sqlite_rows.WAL_PAGES_LARGE_BATCH
    sqlite_store.BACKGROUND_CHECKPOINT_EVENTS, sqlite_rows.WAL_PAGES_LARGE_BATCH = 10**12, 0
    out: dict[str, Any] = {"events": len(batches) * BATCH, "base_events": args.events}
    try:
        for name, project in (("projecting", True), ("plain", False)):
            path = work / f"pages-{name}.db"
            drop_db(path)
            src, dst = sqlite3.connect(base), sqlite3.connect(path)
            src.backup(dst)
            src.close()
            dst.close()
            side = Side.open(name, path, project=project)
            conn = side.store._conn
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
            wal, offset, frames = Path(f"{path}-wal"), 32, []
            for batch in batches:
                side.append(batch)
                with open(wal, "rb") as f:
                    f.seek(offset)
                    data = f.read()
                step = 24 + page_size
                usable = len(data) - len(data) % step
                frames += [struct.unpack(">I", data[i : i + 4])[0] for i in range(0, usable, step)]
                offset += usable
            owner = dict(sqlite3.connect(path).execute("SELECT pageno, name FROM dbstat"))
            side.ledger.store.close()
            counts = Counter(owner.get(page, "(freed)") for page in frames)
            txns = len(batches)
            out[name] = {
                "pages_per_txn": len(frames) / txns,
                "kb_per_event": len(frames) * page_size / (txns * BATCH) / 1024,
                "by_table": {t: c / txns for t, c in counts.most_common()},
            }
            log(f"pages: {name}: {len(frames) / txns:,.0f} pages per transaction")
            for table, per_txn in out[name]["by_table"].items():
                log(f"pages:   {table:32s} {per_txn:8.1f}")
            drop_db(path)
    finally:
        sqlite_store.BACKGROUND_CHECKPOINT_EVENTS, sqlite_rows.WAL_PAGES_LARGE_BATCH = saved
        drop_db(base)
    return out


def table_digests(path: Path) -> dict[str, tuple[int, str]]:
    import hashlib

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'proj_%' ORDER BY name"
            )
        ]
        out = {}
        for table in tables:
            if table == "proj_tests":
                continue  # no longer written or read (round 5); a rebuild drops it
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            h = hashlib.sha256()
            n = 0
            order = ", ".join(cols)
            for row in conn.execute(f"SELECT {order} FROM {table} ORDER BY {order}"):
                h.update(repr(row).encode())
                n += 1
            out[table] = (n, h.hexdigest()[:16])
        meta = conn.execute("SELECT value FROM meta WHERE key = 'projection_seq'").fetchone()
        out["meta.projection_seq"] = (int(meta[0]) if meta else 0, "")
        # Test results as the stores answer them (read from the events).
        from ledger.store import sqlite_projections

        subjects = conn.execute(
            "SELECT DISTINCT subject FROM events WHERE type = 'test.result.recorded'"
        )
        found = sqlite_projections.get_docs(conn, [f"tests:{s}" for (s,) in subjects])
        h = hashlib.sha256()
        for key in sorted(found):
            h.update(key.encode() + b"\0" + found[key])
        out["tests:"] = (len(found), h.hexdigest()[:16])
        return out
    finally:
        conn.close()


def doc_sizes(path: Path) -> dict[str, dict[str, float]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        sizes: defaultdict[str, list[int]] = defaultdict(list)
        for key, n in conn.execute("SELECT key, length(doc) FROM proj_docs"):
            sizes[doc_kind(key)].append(n)
        return {
            kind: {
                "count": len(v),
                "mean_b": statistics.fmean(v),
                "p99_b": pct(v, 0.99),
                "max_b": max(v),
                "total_mb": sum(v) / 1e6,
            }
            for kind, v in sorted(sizes.items())
        }
    finally:
        conn.close()


def rebuild_profile(path: Path, out: Path) -> str:
    """cProfile of ``rebuild_projections`` on a copy of a ledger."""
    copy = out.with_suffix(".db")
    drop_db(copy)
    src = sqlite3.connect(path)
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.close()
    led = Ledger(SQLiteStore(copy), project=False)
    prof = cProfile.Profile()
    prof.enable()
    led.rebuild_projections()
    prof.disable()
    prof.dump_stats(str(out))
    led.store.close()
    drop_db(copy)
    return profile_top(prof)


def pyspy_rebuild(path: Path, out: Path) -> dict[str, Any]:
    """Sample a rebuild of a copy of the ledger with py-spy; fold stacks by frame."""
    import subprocess

    spy = Path(sys.executable).parent / "py-spy"
    if not spy.exists():
        return {"error": "py-spy not installed"}
    copy = out.with_suffix(".db")
    drop_db(copy)
    shutil.copyfile(path, copy)
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from ledger.service import Ledger\nfrom ledger.store.sqlite import SQLiteStore\n"
        f"Ledger(SQLiteStore({str(copy)!r}), project=False).rebuild_projections()\n"
    )
    raw = out.with_suffix(".folded")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            str(spy),
            "record",
            "-r",
            "100",
            "-f",
            "raw",
            "-o",
            str(raw),
            "--",
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    drop_db(copy)
    if proc.returncode != 0 or not raw.exists():
        return {"error": proc.stderr[-2000:]}
    return {"seconds": seconds, **fold_stacks(raw)}


def fold_stacks(raw: Path) -> dict[str, Any]:
    """Inclusive and self share of samples per frame, from py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].split("/")[-1] + ")"
            if " (" in f
            else f
            for f in stack.split(";")
        ]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    return {
        "samples": total,
        "inclusive": [(f, n / total) for f, n in inclusive.most_common(40)],
        "self": [(f, n / total) for f, n in own.most_common(25)],
    }


# ---- 3. lineage ----------------------------------------------------------------------


def bench_lineage(queries: int, impact_queries: int, seed: int = SEED) -> dict[str, Any]:
    t0 = time.perf_counter()
    edges = layered_lineage(100_000, 300_000)
    gen_s = time.perf_counter() - t0
    gc.collect()
    rss0 = rss_mb()
    t0 = time.perf_counter()
    graph = LineageGraph(edges)
    build_s = time.perf_counter() - t0
    gc.collect()
    rss_graph = rss_mb() - rss0
    tracemalloc.start()
    probe = LineageGraph(edges)
    traced, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del probe
    gc.collect()
    tracemalloc.start()
    edges_copy = [Edge(e.source, e.target, e.relation, e.seq, e.time) for e in edges]
    edges_traced, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del edges_copy
    rng = random.Random(seed)
    nodes = sorted(graph.graph.nodes)
    first, last = edges[0], edges[-1]
    t_first = datetime.strptime(first.time, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    span = datetime.strptime(last.time, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC) - t_first

    results: dict[str, dict[str, float]] = {}
    Query = Callable[..., "Sequence[object] | None"]

    def run(name: str, pick: Callable[[], tuple[Any, ...]], query: Query, n: int) -> None:
        """``query(*pick())`` n times; only the query is timed, the arguments are drawn before."""
        for _ in range(min(50, n)):  # warm-up
            query(*pick())
        ms, sizes = [], []
        for _ in range(n):
            arguments = pick()
            t = time.perf_counter()
            found = query(*arguments)
            ms.append((time.perf_counter() - t) * 1e3)
            sizes.append(len(found or ()))
        results[name] = {
            "n": n,
            "median_ms": med(ms),
            "p95_ms": pct(ms, 0.95),
            "max_ms": max(ms),
            "median_size": med(sizes),
            "max_size": max(sizes),
        }
        log(
            f"lineage {name}: median {med(ms):.3f} ms, p95 {pct(ms, 0.95):.3f} ms,"
            f" result size median {med(sizes)}"
        )

    def at() -> str:
        moment = t_first + span * rng.random()
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    dsvs = [n for n in nodes if n.startswith("dataset:") and "@" in n]
    one = lambda: (rng.choice(nodes),)  # noqa: E731
    with_seq = lambda: (rng.choice(nodes), rng.randint(1, last.seq))  # noqa: E731
    with_time = lambda: (rng.choice(nodes), at())  # noqa: E731
    run("upstream depth 3", one, lambda n: graph.upstream(n, 3), queries)
    run("downstream depth 3", one, lambda n: graph.downstream(n, 3), queries)
    run(
        "upstream depth 3 as of seq",
        with_seq,
        lambda n, s: graph.upstream(n, 3, as_of_seq=s),
        queries,
    )
    run(
        "downstream depth 3 as of seq",
        with_seq,
        lambda n, s: graph.downstream(n, 3, as_of_seq=s),
        queries,
    )
    run(
        "upstream depth 3 as of time",
        with_time,
        lambda n, t: graph.upstream(n, 3, as_of_time=t),
        queries,
    )
    run(
        "downstream depth 3 as of time",
        with_time,
        lambda n, t: graph.downstream(n, 3, as_of_time=t),
        queries,
    )
    run("neighbourhood both depth 1", one, lambda n: graph.neighbourhood(n, "both", 1)[1], queries)
    run(
        "path (random pair)",
        lambda: (rng.choice(nodes), rng.choice(nodes)),
        lambda a, b: graph.path(a, b),
        impact_queries,
    )
    run("impact (random node)", one, lambda n: graph.impact(n), impact_queries)
    run(
        "impact (random dataset version)",
        lambda: (rng.choice(dsvs),),
        lambda n: graph.impact(n),
        impact_queries,
    )
    run(
        "impact as of time (random dataset version)",
        lambda: (rng.choice(dsvs), at()),
        lambda n, t: graph.impact(n, as_of_time=t),
        impact_queries,
    )
    return {
        "nodes": graph.node_count,
        "edges": graph.edge_count,
        "generate_s": gen_s,
        "build_s": build_s,
        "rss_delta_mb": rss_graph,
        "tracemalloc_graph_mb": traced / 1e6,
        "tracemalloc_peak_mb": traced_peak / 1e6,
        "tracemalloc_edges_mb": edges_traced / 1e6,
        "queries": results,
    }


# ---- 4. registry as of a time --------------------------------------------------------


def bench_registry(path: Path, queries: int, seed: int = SEED) -> dict[str, Any]:
    store = SQLiteStore(path)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rng = random.Random(seed)
    total = conn.execute("SELECT count(*) FROM proj_status").fetchone()[0]
    by_env = dict(conn.execute("SELECT environment, count(*) FROM proj_status GROUP BY 1"))
    by_status = dict(
        conn.execute(
            "SELECT status, count(*) FROM proj_status WHERE environment = 'prod' GROUP BY 1"
        )
    )
    lo, hi, lo_seq, hi_seq = conn.execute(
        "SELECT min(time), max(time), min(seq), max(seq) FROM proj_status WHERE environment='prod'"
    ).fetchone()
    versions = conn.execute(
        "SELECT count(DISTINCT model || '@' || version) FROM proj_status WHERE environment='prod'"
    ).fetchone()[0]
    events = conn.execute("SELECT max(seq) FROM events").fetchone()[0]

    def parse(text: str) -> datetime:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

    t_lo, t_hi = parse(lo), parse(hi)
    times = [
        (t_lo + (t_hi - t_lo) * rng.random()).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        for _ in range(queries)
    ]
    seqs = [rng.randint(lo_seq, hi_seq) for _ in range(queries)]
    serving = ("canary", "production")

    def measure(fn: Callable[[Any], Sequence[Any]], args: Sequence[Any]) -> dict[str, float]:
        for arg in args[:20]:
            fn(arg)
        ms, rows, live = [], [], []
        for arg in args:
            t0 = time.perf_counter()
            result = fn(arg)
            ms.append((time.perf_counter() - t0) * 1e3)
            rows.append(len(result))
            live.append(sum(1 for r in result if r[3] in serving))
        return {
            "median_ms": med(ms),
            "p95_ms": pct(ms, 0.95),
            "max_ms": max(ms),
            "median_rows": med(rows),
            "max_rows": max(rows),
            "median_serving_rows": med(live),
        }

    out: dict[str, Any] = {
        "events": events,
        "intervals": total,
        "intervals_by_env": by_env,
        "prod_intervals_by_status": by_status,
        "prod_versions": versions,
        "span": f"{lo} .. {hi}",
    }
    log(f"registry: {total:,} intervals ({by_env}), prod by status {by_status}")
    out["status_intervals(prod, at_time)"] = measure(
        lambda t: store.status_intervals(environment="prod", at_time=t), times
    )
    out["status_intervals(prod, at_seq)"] = measure(
        lambda s: store.status_intervals(environment="prod", at_seq=s), seqs
    )
    # by how early T is: the scan grows with the intervals that began before T
    order = sorted(times)
    out["status_intervals(prod, at_time) first decile T"] = measure(
        lambda t: store.status_intervals(environment="prod", at_time=t), order[: queries // 10]
    )
    out["status_intervals(prod, at_time) last decile T"] = measure(
        lambda t: store.status_intervals(environment="prod", at_time=t), order[-(queries // 10) :]
    )
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT model, version, environment, status, exposure, strategy, seq,"
        " time, end_seq, end_time FROM proj_status WHERE environment = ? AND time <= ? AND"
        " (end_time IS NULL OR end_time > ?) ORDER BY seq, id",
        ("prod", times[0], times[0]),
    ).fetchall()
    out["plan"] = [r[-1] for r in plan]
    # "what served prod at T": the product's indexed read (R*Tree over serving intervals)
    out["status_intervals(prod, at_time, serving)"] = measure(
        lambda t: store.status_intervals(environment="prod", at_time=t, statuses=serving), times
    )
    out["status_intervals(prod, at_seq, serving)"] = measure(
        lambda s: store.status_intervals(environment="prod", at_seq=s, statuses=serving), seqs
    )
    out["status_intervals(prod, at_time, serving) first decile T"] = measure(
        lambda t: store.status_intervals(environment="prod", at_time=t, statuses=serving),
        order[: queries // 10],
    )
    out["status_intervals(prod, at_time, serving) last decile T"] = measure(
        lambda t: store.status_intervals(environment="prod", at_time=t, statuses=serving),
        order[-(queries // 10) :],
    )
    # reference: the serving statuses through the (environment, time) index, no tree
    cols = "model, version, environment, status, exposure, strategy, seq, time, end_seq, end_time"
    q1 = (
        f"SELECT {cols} FROM proj_status WHERE environment = ? AND status IN ('canary',"
        " 'production') AND time <= ? AND (end_time IS NULL OR end_time > ?) ORDER BY seq, id"
    )
    out["reference: serving statuses, (environment, time) index"] = measure(
        lambda t: conn.execute(q1, ("prod", t, t)).fetchall(), times
    )
    out["serving rows in the R*Tree"] = conn.execute(
        "SELECT count(*) FROM proj_serving"
    ).fetchone()[0]
    # the indexed read must give the plain read's rows, filtered to the serving statuses
    out["indexed read agrees (checked T)"] = 0
    for t in times[:100]:
        want = [
            tuple(r)
            for r in store.status_intervals(environment="prod", at_time=t)
            if r[3] in serving
        ]
        got = [
            tuple(r)
            for r in store.status_intervals(environment="prod", at_time=t, statuses=serving)
        ]
        if want != got:
            out["indexed read mismatch at"] = t
            break
        out["indexed read agrees (checked T)"] += 1
    conn.close()
    store.close()
    return out


# ---- what-if prototypes (scratch processes only) -------------------------------------

WHAT_IF = {
    "plain": "project=False",
    "as-is": "the product as it is",
    "cpu": "parse_ref LRU cache + parsed Policy cache by (ref, seq) + parsed documents"
    " kept across transactions",
    "storage": "proj_history rows dropped + proj_docs as a rowid table (UNIQUE key)",
    "cpu+storage": "both",
    "tests-as-rows": "test.result.recorded no longer rewrites the version document: the latest"
    " result per (version, kind, suite, environment) is UPSERTed into a proj_tests row, and the"
    " policy reads those (in this prototype from memory: a gated draft would read a few rows)",
    "tests-as-rows+cpu": "both",
    "history-touch": "alert.raised/resolved, retraining.triggered and rollback.verified stop"
    " fetching and rewriting a version document they only name for its history (this"
    " prototype drops those history rows; a fix would still add the row, not the document)",
    "all": "cpu + tests-as-rows + history-touch",
}


def what_if_child(variant: str, count: int) -> None:
    """Run one variant in this (child) process: patch, append ``count`` events, print JSON.

    The patches prototype proposals; they touch nothing on disk but the scratch ledger.
    """
    import functools

    parts = set(variant.split("+"))
    if "all" in parts:
        parts |= {"cpu", "tests-as-rows", "history-touch"}
    if "history-touch" in parts:
        _history_touch()
    if "cpu" in parts:
        import ledger.projections._catalog as catalog
        import ledger.projections._rollout as rollout
        import ledger.projections.keys as keys
        import ledger.refs as refs
        from ledger.projections.rules import Policy

        cached = functools.lru_cache(maxsize=1 << 17)(refs.parse_ref)
        for module in (refs, keys, catalog, rollout):
            module.parse_ref = cached  # type: ignore[attr-defined]
        original = Policy.from_definition.__func__  # type: ignore[attr-defined]
        memo: dict[tuple[str, int], Any] = {}

        def from_definition(cls: Any, ref: str, data: Any, seq: int = 0) -> Any:
            if not seq:
                return original(cls, ref, data, seq)
            found = memo.get((ref, seq))
            if found is None:
                found = memo[(ref, seq)] = original(cls, ref, data, seq)
            return found

        Policy.from_definition = classmethod(from_definition)  # type: ignore[assignment]
        docs: dict[str, Any] = {}  # parsed documents, valid across transactions (one writer)
        fetch, flush = BatchProjector._fetch, BatchProjector.flush

        def _fetch(self: Any, wanted: Any) -> Any:
            wanted = list(dict.fromkeys(wanted))
            for key in wanted:
                if key not in self._docs and key in docs:
                    self._docs[key] = docs[key]
            found = fetch(self, wanted)
            for key in wanted:
                docs.setdefault(key, self._docs[key])
            return found

        def _flush(self: Any) -> None:
            for key in self._changed:
                docs[key] = self._docs[key]
            flush(self)

        setattr(BatchProjector, "_fetch", _fetch)  # noqa: B010
        setattr(BatchProjector, "flush", _flush)  # noqa: B010
    if "tests-as-rows" in parts:
        _tests_as_rows()
    prepared = [make_batch(chunk) for chunk in batches(Stream().events(), count)]
    path = Path(tempfile.mkdtemp(prefix="bench-what-if-")) / "ledger.db"
    if "tests-as-rows" in parts:
        conn = sqlite3.connect(path)
        conn.execute(
            "CREATE TABLE proj_tests (version TEXT NOT NULL, kind TEXT NOT NULL, suite TEXT NOT"
            " NULL, environment TEXT NOT NULL, seq INTEGER NOT NULL, passed INTEGER NOT NULL,"
            " time TEXT NOT NULL, hash TEXT NOT NULL,"
            " PRIMARY KEY (version, kind, suite, environment)) WITHOUT ROWID"
        )
        conn.commit()
        conn.close()
    if "storage" in parts:
        conn = sqlite3.connect(path)
        conn.execute("CREATE VIEW proj_history AS SELECT '' AS key, 0 AS seq WHERE 0")
        conn.execute(
            "CREATE TRIGGER proj_history_noop INSTEAD OF INSERT ON proj_history BEGIN SELECT 1; END"
        )
        conn.execute(
            "CREATE TABLE proj_docs (key TEXT NOT NULL UNIQUE, doc BLOB NOT NULL,"
            " seq INTEGER NOT NULL)"
        )
        conn.commit()
        conn.close()
    side = Side.open(variant, path, project=variant != "plain")
    gc_s = [0.0, 0.0]

    def on_gc(phase: str, _info: Any) -> None:
        if phase == "start":
            gc_s[1] = time.perf_counter()
        else:
            gc_s[0] += time.perf_counter() - gc_s[1]

    gc.callbacks.append(on_gc)
    total = sum(side.append(batch) for batch in prepared)
    gc.callbacks.remove(on_gc)
    side.ledger.store.close()
    shutil.rmtree(path.parent, ignore_errors=True)
    print(
        json.dumps(
            {
                "variant": variant,
                "events": count,
                "us_per_event": total / count * 1e6,
                "gc_us_per_event": gc_s[0] / count * 1e6,
                "written_b_per_event": side.wrote / count,
                "load": loadavg(),
            }
        )
    )


def _history_touch() -> None:
    """Prototype: no version-document rewrite for history only (see WHAT_IF)."""
    import ledger.appending as appending
    import ledger.projections._catalog as catalog
    import ledger.projections._rollout as rollout
    import ledger.projections.registry as registry

    only_history = {"alert.raised", "alert.resolved", "retraining.triggered", "rollback.verified"}
    write_version = catalog.write_version

    def maybe_write(ctx: Any, model: str, version: str) -> Any:
        if ctx.event["type"] in only_history:
            return catalog.new_version(model, version)  # a throwaway: nothing is written
        return write_version(ctx, model, version)

    keys_for = getattr(projecting, "keys_for", registry.keys_for)

    def keys_without_versions(event: Any) -> list[str]:
        keys = keys_for(event)
        if event["type"] in ("alert.raised", "alert.resolved", "retraining.triggered"):
            return [k for k in keys if not (k.startswith("model:") and "@" in k)]
        return keys

    setattr(rollout, "write_version", maybe_write)  # noqa: B010
    setattr(catalog, "write_version", maybe_write)  # noqa: B010
    setattr(projecting, "keys_for", keys_without_versions)  # noqa: B010
    if hasattr(appending, "keys_for"):
        setattr(appending, "keys_for", keys_without_versions)  # noqa: B010


def _tests_as_rows() -> None:
    """Prototype: test results as rows (see WHAT_IF["tests-as-rows"])."""
    import ledger.appending as appending
    import ledger.policy as policy_module
    import ledger.projections.registry as registry
    import ledger.store.sqlite as sqlite_module
    from ledger.projections._json import get_bool, get_str
    from ledger.projections.rules import EnvironmentRules, Violation

    pending: list[tuple[str, str, str, str, int, bool, str, str]] = []
    latest: dict[str, dict[tuple[str, str, str], tuple[int, bool]]] = {}
    keys_for = getattr(projecting, "keys_for", registry.keys_for)

    def keys_for_rows(event: Any) -> list[str]:
        return [] if event["type"] == "test.result.recorded" else keys_for(event)

    def handler(ctx: Any) -> None:
        d = ctx.data
        kind, suite = get_str(d, "kind") or "", get_str(d, "suite") or ""
        env, passed = get_str(d, "environment") or "", bool(get_bool(d, "passed"))
        pending.append(
            (ctx.event["subject"], kind, suite, env, ctx.seq, passed, ctx.time, ctx.event["hash"])
        )
        latest.setdefault(ctx.event["subject"], {})[(kind, suite, env)] = (ctx.seq, passed)

    def unmet_tests(rules: EnvironmentRules, _version: Any, ref: str, env: str) -> list[Violation]:
        rows = latest.get(ref, {})
        out = []
        for kind in rules.required_tests:
            found = [p for (k, _s, e), (_q, p) in rows.items() if k == kind and e in ("", env)]
            if not found or not all(found):
                out.append(Violation("test_missing", f"{env} requires a passing {kind} on {ref}"))
        return out

    write_projection = sqlite_module._Tx.write_projection

    def write_with_tests(self: Any, *args: Any, **kwargs: Any) -> None:
        write_projection(self, *args, **kwargs)
        self._conn.executemany(
            "INSERT INTO proj_tests VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (version, kind, suite,"
            " environment) DO UPDATE SET seq = excluded.seq, passed = excluded.passed,"
            " time = excluded.time, hash = excluded.hash",
            pending,
        )
        pending.clear()

    registry._HANDLERS["test.result.recorded"] = handler
    setattr(projecting, "keys_for", keys_for_rows)  # noqa: B010
    if hasattr(appending, "keys_for"):
        setattr(appending, "keys_for", keys_for_rows)  # noqa: B010
    setattr(policy_module, "unmet_tests", unmet_tests)  # noqa: B010
    setattr(sqlite_module._Tx, "write_projection", write_with_tests)  # noqa: B010


def what_if(count: int, repeats: int) -> dict[str, Any]:
    """Each variant in its own process, the list repeated (ABC..ABC..), medians per variant."""
    import subprocess

    runs: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for _ in range(repeats):
        for variant in WHAT_IF:
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--what-if-child",
                    variant,
                    "--append-events",
                    str(count),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            runs[variant].append(row)
            log(f"what-if {variant}: {row['us_per_event']:.0f} us/event (load {row['load']})")
    out: dict[str, Any] = {"events": count, "repeats": repeats, "variants": {}}
    plain = med([r["us_per_event"] for r in runs["plain"]])
    for variant, rows in runs.items():
        us = med([r["us_per_event"] for r in rows])
        out["variants"][variant] = {
            "what": WHAT_IF[variant],
            "us_per_event": us,
            "ratio_to_plain": plain / us,
            "gc_us_per_event": med([r["gc_us_per_event"] for r in rows]),
            "written_b_per_event": med([r["written_b_per_event"] for r in rows]),
            "runs_us": [round(r["us_per_event"], 1) for r in rows],
        }
    return out


# ---- the run -------------------------------------------------------------------------


def conditions(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "load_at_start": loadavg(),
        "events": args.events,
        "append_events": args.append_events,
        "at_scale_events": args.at_scale,
        "models": args.models,
        "monitor_hours": args.monitor_hours,
        "batch": BATCH,
        "code": code_state(),
    }


def fmt_mix(mix: Counter[str]) -> str:
    total = sum(mix.values())
    return ", ".join(f"{k} {v / total:.1%}" for k, v in mix.most_common())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events",
        type=int,
        default=1_000_000,
        help="ledger size for rebuild and the registry as-of query",
    )
    parser.add_argument(
        "--append-events",
        type=int,
        default=200_000,
        help="events in the with/without-projections comparison from empty",
    )
    parser.add_argument(
        "--at-scale",
        type=int,
        default=20_000,
        help="events in the comparison on top of the big ledger (0: skip)",
    )
    parser.add_argument("--breakdown-events", type=int, default=20_000)
    parser.add_argument(
        "--pages-events",
        type=int,
        default=10_000,
        help="events appended on top of --events to count WAL pages per table (--only pages)",
    )
    parser.add_argument("--profile-events", type=int, default=10_000)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--monitor-hours", type=float, default=4.0)
    parser.add_argument("--chunk", type=int, default=25_000, help="events per ABBA chunk")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--impact-queries", type=int, default=300)
    parser.add_argument("--registry-queries", type=int, default=500)
    parser.add_argument(
        "--quick", action="store_true", help="100k-event ledger, 30k compared, fewer queries"
    )
    parser.add_argument(
        "--only",
        choices=("append", "rebuild", "lineage", "registry", "what-if", "pages"),
        action="append",
        help="run only these parts (repeatable); rebuild and registry need the big ledger,"
        " which append-free runs still build; what-if (with --what-if N) runs only the prototypes",
    )
    parser.add_argument(
        "--validate",
        action="store_true",
        help="check every draft of the compared events against the catalogue",
    )
    parser.add_argument("--pyspy", action="store_true", help="also sample a full rebuild")
    parser.add_argument(
        "--what-if",
        type=int,
        default=0,
        metavar="N",
        help="also time prototypes of the proposals on N events from empty"
        " (each variant in its own process, repeated twice)",
    )
    parser.add_argument("--what-if-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the ledgers in --workdir")
    parser.add_argument("--out-json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.what_if_child:
        what_if_child(args.what_if_child, args.append_events)
        return 0
    if args.quick:
        args.events, args.append_events, args.at_scale = 100_000, 30_000, 5_000
        args.breakdown_events, args.profile_events, args.chunk = 10_000, 5_000, 10_000
        args.queries, args.impact_queries, args.registry_queries = 300, 100, 200
    parts = set(args.only or ("append", "rebuild", "lineage", "registry"))
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-projections-"))
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"conditions": conditions(args)}
    c = result["conditions"]
    print(
        f"conditions: nproc {c['nproc']} ({c['usable_cpus']} usable), {c['cpu']}; Python "
        f"{c['python']}; SQLite {c['sqlite']}; load {c['load_at_start']}; code "
        f"{c['code']['sha256_16']} (newest file {c['code']['newest_mtime']})",
        flush=True,
    )
    try:
        if "lineage" in parts:
            log("lineage: 100k nodes / 300k edges")
            result["lineage"] = bench_lineage(args.queries, args.impact_queries)
        if parts & {"append", "rebuild", "registry"}:
            run_ledgers(args, parts, work, result)
        if "pages" in parts:
            log(f"pages: WAL pages per table, {args.pages_events:,} events on {args.events:,}")
            result["pages"] = wal_pages(args, work)
        if args.what_if:
            log(f"what-if prototypes on {args.what_if:,} events")
            result["what_if"] = what_if(args.what_if, 2)
    finally:
        result["conditions"]["load_at_end"] = loadavg()
        if args.out_json:
            args.out_json.write_text(json.dumps(result, indent=2, default=str))
        print_summary(result)
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def run_ledgers(
    args: argparse.Namespace, parts: set[str], work: Path, result: dict[str, Any]
) -> None:
    validator = None
    if args.validate:
        from ledger.schema_files import load_catalogue

        validator = Ledger(SQLiteStore(":memory:"), catalogue=load_catalogue())
    feed = Feed(args.models, args.monitor_hours, validator)
    a_path, b_path, c_path = work / "projecting.db", work / "plain.db", work / "plain-copy.db"
    for p in (a_path, b_path, c_path):
        drop_db(p)
    b = Side.open("plain", b_path, project=False)
    if "append" in parts:
        a = Side.open("projecting", a_path, project=True)
        log(f"append: {args.append_events:,} events into both ledgers, ABBA by {args.chunk:,}")
        result["append"] = compare(feed, a, b, args.append_events, args.chunk, "append 0->N")
        result["append"]["mix"] = dict(feed.mix)
        result["append"]["requests_per_batch"] = feed.requests / (feed.seq / BATCH)
        result["append"]["validated"] = feed.validated
        result["append"]["span"] = f"{feed.first_time} .. {feed.last_time}"
        feed.validator = None
        # rebuilt == incremental
        log("rebuild at the comparison size, checked against the incremental projections")
        result["rebuild_small"] = timed_rebuild(b)
        want, got = table_digests(a_path), table_digests(b_path)
        result["rebuild_small"]["equal_to_incremental"] = want == got
        result["rebuild_small"]["tables"] = {k: v[0] for k, v in want.items()}
        if want != got:
            result["rebuild_small"]["diff"] = {
                k: (want.get(k), got.get(k))
                for k in set(want) | set(got)
                if want.get(k) != got.get(k)
            }
        result["doc_sizes_small"] = doc_sizes(a_path)
        result["rebuild_small"]["profile"] = rebuild_profile(b_path, work / "rebuild-small.prof")
        log("instrumented pass (per event type) on the projecting ledger")
        result["breakdown_small"] = instrumented_pass(feed, a, [b], args.breakdown_events)
        log("cProfile pass on the projecting ledger")
        result["profile_small"] = profiled_pass(
            feed, a, [b], args.profile_events, work / "append-small.prof"
        )
        a.ledger.store.close()
        if not args.keep:
            drop_db(a_path)
    if not parts & {"rebuild", "registry"}:
        return
    left = args.events - feed.seq
    if left > 0:
        log(f"filling the plain ledger to {args.events:,} events (project=False)")
        result["fill"] = plain_fill(feed, b, left, "fill")
    result["ledger"] = {
        "events": feed.seq,
        "mix": dict(feed.mix),
        "mix_text": fmt_mix(feed.mix),
        "span": f"{feed.first_time} .. {feed.last_time}",
        "requests_per_batch": feed.requests / (feed.seq / BATCH),
        "models": args.models,
        "versions": feed.mix.get("model.version.registered", 0),
        "incidents": feed.stream.incidents,
        "file_mb_before_rebuild": db_size(b_path) / 1e6,
    }
    log(f"rebuild_projections over {feed.seq:,} events")
    result["rebuild"] = timed_rebuild(b)
    result["ledger"]["file_mb_after_rebuild"] = db_size(b_path) / 1e6
    result["doc_sizes"] = doc_sizes(b_path)
    log(f"rebuild: {result['rebuild']['eps']:,.0f} events/s")
    if args.pyspy:
        log("py-spy: sampling a second full rebuild (on a copy)")
        result["rebuild_pyspy"] = pyspy_rebuild(b_path, work / "rebuild-1m")
    if "registry" in parts:
        log("registry as-of queries")
        result["registry"] = bench_registry(b_path, args.registry_queries)
    if "append" in parts and args.at_scale:
        b.ledger.store.close()
        drop_db(c_path)
        src, dst = sqlite3.connect(b_path), sqlite3.connect(c_path)
        src.backup(dst)
        src.close()
        dst.close()
        big = Side.open("projecting@big", b_path, project=True)
        copy = Side.open("plain@big", c_path, project=False)
        big.clock.now = copy.clock.now = b.clock.now
        log(f"append on top of the {feed.seq:,}-event ledger: {args.at_scale:,} events, ABBA")
        result["append_at_scale"] = compare(
            feed, big, copy, args.at_scale, max(BATCH, args.at_scale // 4), "append at scale"
        )
        log("instrumented pass at scale")
        result["breakdown_at_scale"] = instrumented_pass(feed, big, [copy], args.breakdown_events)
        log("cProfile pass at scale")
        result["profile_at_scale"] = profiled_pass(
            feed, big, [copy], args.profile_events, work / "append-big.prof"
        )
        result["doc_sizes_at_scale"] = doc_sizes(b_path)
        big.ledger.store.close()
        copy.ledger.store.close()
    else:
        b.ledger.store.close()


def print_summary(result: dict[str, Any]) -> None:
    print("\n==== summary ====")
    c = result["conditions"]
    print(
        f"nproc {c['nproc']}, Python {c['python']}, SQLite {c['sqlite']}, load {c['load_at_start']}"
        f" -> {c.get('load_at_end')}, code {c['code']}"
    )
    ap = result.get("append")
    rows: list[tuple[str, str, str, str]] = []
    if ap:
        rows.append(
            (
                f"append with projections+policy vs without, {ap['events']:,} events from empty",
                f"{ap['ratio']:.1%} ({ap['projecting_eps']:,.0f} vs {ap['plain_eps']:,.0f} ev/s;"
                f" {ap['projecting_us']:.0f} vs {ap['plain_us']:.0f} us/event)",
                ">= 50%",
                "yes" if ap["ratio"] >= TARGETS["append_ratio"] else "NO",
            )
        )
    for key in ("append", "append_at_scale"):
        if key in result:
            x = result[key]
            print(
                f"{key}: bytes written per event projecting {x['projecting_written_b_per_event']:,.0f},"
                f" plain {x['plain_written_b_per_event']:,.0f}; chunk ratios median"
                f" {x['chunk_ratio_median']:.1%} ({x['chunk_ratio_min']:.1%}..{x['chunk_ratio_max']:.1%});"
                f" halves {x['first_half_ratio']}, {x['second_half_ratio']};"
                f" requests/batch {x.get('requests_per_batch')}"
            )
    at = result.get("append_at_scale")
    if at:
        rows.append(
            (
                f"same, {at['events']:,} events on top of the big ledger",
                f"{at['ratio']:.1%} ({at['projecting_eps']:,.0f} vs {at['plain_eps']:,.0f} ev/s)",
                ">= 50%",
                "yes" if at["ratio"] >= TARGETS["append_ratio"] else "NO",
            )
        )
    rb = result.get("rebuild")
    if rb:
        rows.append(
            (
                f"rebuild_projections, {rb['events']:,} events",
                f"{rb['eps']:,.0f} events/s ({rb['seconds']:.1f} s, peak RSS {rb['peak_rss_mb']:.0f} MB)",
                "reported",
                "-",
            )
        )
    rs = result.get("rebuild_small")
    if rs:
        rows.append(
            (
                f"rebuild at {rs['events']:,} events == incremental projections",
                f"{rs['equal_to_incremental']} ({rs['eps']:,.0f} events/s)",
                "equal",
                "yes" if rs["equal_to_incremental"] else "NO",
            )
        )
    ln = result.get("lineage")
    if ln:
        for name, q in ln["queries"].items():
            target = (
                TARGETS["lineage_impact_ms"]
                if name.startswith("impact")
                else (TARGETS["lineage_walk_ms"] if "depth 3" in name else None)
            )
            rows.append(
                (
                    f"lineage {name}",
                    f"median {q['median_ms']:.3f} ms (p95 {q['p95_ms']:.3f},"
                    f" result median {q['median_size']:g})",
                    f"< {target:g} ms" if target else "-",
                    "-" if target is None else ("yes" if q["median_ms"] < target else "NO"),
                )
            )
        rows.append(
            (
                "lineage graph memory",
                f"{ln['tracemalloc_graph_mb']:.0f} MB traced "
                f"(+{ln['tracemalloc_edges_mb']:.0f} MB Edge objects), RSS +{ln['rss_delta_mb']:.0f} MB,"
                f" build {ln['build_s']:.1f} s",
                "reported",
                "-",
            )
        )
    rg = result.get("registry")
    if rg:
        for name, q in rg.items():
            if isinstance(q, dict) and "median_ms" in q:
                # the target is "what was in production at T": the serving read
                goal = "< 5 ms" if name == "status_intervals(prod, at_time, serving)" else "-"
                met = "-" if goal == "-" else ("yes" if q["median_ms"] < 5 else "NO")
                rows.append(
                    (
                        f"registry {name}",
                        f"median {q['median_ms']:.2f} ms (p95 {q['p95_ms']:.2f};"
                        f" rows median {q['median_rows']:g}, serving {q['median_serving_rows']:g})",
                        goal,
                        met,
                    )
                )
    print("| measure | value | target | met? |\n|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    wi = result.get("what_if")
    if wi:
        print(
            f"\n-- what-if prototypes, {wi['events']:,} events from empty, median of {wi['repeats']}:"
        )
        for name, v in wi["variants"].items():
            print(
                f"{name}: {v['us_per_event']:.0f} us/event, plain/this {v['ratio_to_plain']:.1%},"
                f" GC {v['gc_us_per_event']:.0f} us/event, written {v['written_b_per_event']:,.0f}"
                f" B/event, runs {v['runs_us']} ({v['what']})"
            )
    for key in ("breakdown_small", "breakdown_at_scale"):
        bd = result.get(key)
        if not bd:
            continue
        print(
            f"\n-- {key}: {bd['events']:,} events, {bd['total_us_per_event']:.0f} us/event appended,"
            f" apply {bd['apply_us_per_event']:.0f}, check {bd['check_us_per_event']:.0f} us/event"
        )
        print(
            "type | count | apply us | (fetch | keys_for | project) | check us | (fetch | policy.check)"
        )
        for kind, row in sorted(bd["per_type_us"].items(), key=lambda kv: -kv[1]["count"]):
            print(
                f"{kind} | {int(row['count'])} | {row.get('apply', 0):.1f} | ({row.get('apply.fetch', 0):.1f}"
                f" | {row.get('apply.keys_for', 0):.1f} | {row.get('apply.project', 0):.1f}) |"
                f" {row.get('check', 0):.1f} | ({row.get('check.fetch', 0):.1f} | {row.get('check.policy.check', 0):.1f})"
            )
        print(
            "batch-level, us per event: "
            + ", ".join(f"{k} {v:.1f}" for k, v in bd["batch_us_per_event"].items())
        )
        if "plain_sql_us_per_event" in bd:
            print(
                f"plain ledger, same batches: {bd['plain_us_per_event']:.0f} us/event; SQL: "
                + ", ".join(f"{k} {v:.1f}" for k, v in bd["plain_sql_us_per_event"].items())
            )
            print(
                f"bytes written per event: projecting {bd['written_b_per_event']:,.0f},"
                f" plain {bd['plain_written_b_per_event']:,.0f}"
            )
        print(
            "docs: "
            + "; ".join(
                f"{k}: fetched {v['fetched']} x {v['fetched_mean_b']:.0f} B, written {v['written']}"
                f" x {v['written_mean_b']:.0f} B"
                for k, v in bd["docs"].items()
            )
        )
    for key in ("doc_sizes_small", "doc_sizes", "doc_sizes_at_scale"):
        if key in result:
            print(
                f"\n-- {key}: "
                + "; ".join(
                    f"{k}: {v['count']} docs, mean {v['mean_b']:.0f} B, p99 {v['p99_b']}"
                    f" B, max {v['max_b']} B"
                    for k, v in result[key].items()
                )
            )
    if "ledger" in result:
        print(f"\n-- ledger: {result['ledger']}")
    if rg:
        print(
            f"\n-- registry: intervals {rg['intervals']}, by env {rg['intervals_by_env']}, prod by status"
            f" {rg['prod_intervals_by_status']}, plan {rg['plan']}"
        )
    for key in ("profile_small", "profile_at_scale"):
        if key in result:
            print(f"\n-- {key} --\n{result[key]}")
    if rs and "profile" in rs:
        print(f"\n-- rebuild profile (at {rs['events']:,}) --\n{rs['profile']}")
    if "rebuild_pyspy" in result:
        spy = result["rebuild_pyspy"]
        print("\n-- py-spy, full rebuild --")
        if "error" in spy:
            print(spy["error"])
        else:
            print("inclusive: " + "\n  ".join(f"{s:.1%} {f}" for f, s in spy["inclusive"]))
            print("self: " + "\n  ".join(f"{s:.1%} {f}" for f, s in spy["self"]))


if __name__ == "__main__":
    sys.exit(main())
