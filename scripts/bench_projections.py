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
   the 1M ledger for random T, plus the same by seq, and two candidate
   rewrites of the query measured on the same data.

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

Nothing here is a test: the numbers go to docs/bench_projections_results.md.
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
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

import ledger.projecting as projecting  # noqa: E402
import ledger.service as service  # noqa: E402
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
from lineage_data import layered_lineage  # noqa: E402

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

Draft3 = tuple[str, str, dict[str, Any]]


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
    data: dict[str, Any]
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
                    yield StreamEvent(seq, now, action.actor, action.role, kind, subject, data,
                                      request)
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
                    edge(train, "derived_from", self.raw[spec.domain], f"run:airflow/{spec.name}-0"),
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
            backfill = [
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
                drafts.append(edge(ref, "derived_from", self.raw[domain], f"run:airflow/raw-{tick}"))
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
        yield Emit(*OPERATOR, [("rollout.stage.changed", f"deployment:{name}/staging",
                                _full(v, "Staging deploy of the release candidate."))])
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
                yield Emit(who, "approver", [("approval.revoked", v, {
                    "approval_seq": granted[0],
                    "environment": "prod",
                    "approver_role": role,
                    "justification": "Granted on the wrong evidence; re-reviewing.",
                })])
                yield Wait(rng.uniform(0.5, 2))
                again = yield Emit(who, "approver", [self._approval(v, role, evidence)])
                assert again is not None
                approvals[-1] = again[0]
        dep = f"deployment:{name}/prod"
        plan = STAGE_PLANS[spec.tier]
        if spec.shadow:
            yield Wait(rng.uniform(0.5, 2))
            yield Emit(*OPERATOR, [("rollout.stage.changed", dep, {
                "version": v,
                "strategy": "shadow",
                "exposure_percent": 0,
                "mirror_percent": 100,
                "reason": "Mirror prod traffic before any live exposure.",
            })])
            yield Wait(rng.uniform(12, 30))
            yield Emit(*CANARY, [self._test(v, "shadow", f"run:argo/{name}-{number}-shadow",
                                            rng, None, env="prod")])
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
            yield Emit(rng.choice(RELEASE_MANAGERS), "approver", [("deployment.decided", v, {
                "environment": "prod",
                "decision": "abort",
                "justification": "The business owner asked to wait for the next version.",
            })])
            return
        yield Wait(rng.uniform(0.5, 1))
        rollback_at = rng.randrange(len(plan) - 1) if rng.random() < 0.06 else None
        for index, exposure in enumerate(plan):
            strategy = "full" if exposure >= 100 else "canary"
            yield Emit(*OPERATOR, [("rollout.stage.changed", dep, {
                "version": v,
                "strategy": strategy,
                "exposure_percent": exposure,
                **({"cohort": "region=eu-west"} if exposure < 25 else {}),
                **({"exit_criteria": [{"metric": "error_rate", "comparator": "lte",
                                       "value": 0.01, "window_minutes": 60}]}
                   if exposure < 100 else {}),
                "reason": f"Stage {index + 1} of {len(plan)}.",
            })])
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
            yield Emit(*CANARY, [self._test(v, "canary_analysis", f"run:argo/{name}-{number}-c{index}",
                                            rng, None, env="prod")])
            yield Wait(rng.uniform(0.5, 1))
        self.prod[name] = v
        if spec.eu:
            yield Wait(rng.uniform(2, 6))
            yield Emit(*OPERATOR, [("rollout.stage.changed", f"deployment:{name}/eu-prod",
                                    _full(v, "Follows prod once it is fully rolled out."))])
        yield Emit(*ci, [edge(v, "replaces", stable, run),
                         edge(v, "deployed_as", dep, run)])

    def _rollback(self, spec: ModelSpec, v: str, rng: random.Random) -> Proc:
        """The canary crosses the error-rate rollback threshold: incident, rollback, review."""
        dep = f"deployment:{spec.name}/prod"
        stable = self.prod[spec.name]
        alert_id = f"{spec.name}-err-{rng.randrange(16**8):08x}"
        yield Emit(*MONITOR, [("alert.raised", dep, {
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
        })])
        self.incidents += 1
        incident = f"incident:INC-{self.incidents}"
        yield Wait(rng.uniform(0.1, 0.3))
        yield Emit(*OPERATOR, [("incident.opened", incident, {
            "severity": "sev2",
            "summary": f"Error rate on the {spec.name} canary above the rollback threshold.",
            "affected": [dep, v],
            "alert_ids": [alert_id],
            "commander": OPERATOR[0],
        })])
        yield Wait(rng.uniform(0.1, 0.5))
        done = yield Emit(*OPERATOR, [("rollback.executed", dep, {
            "from_version": v,
            "to_version": stable,
            "reason": "Error-rate rollback threshold crossed.",
            "trigger": "alert",
            "alert_id": alert_id,
            "incident": incident,
        })])
        assert done is not None
        yield Wait(rng.uniform(0.3, 1))
        yield Emit(*OPERATOR, [("rollback.verified", dep, {
            "from_version": v,
            "to_version": stable,
            "rollback_seq": done[0],
            "passed": True,
            "checks": [{"name": "error-rate-back-to-baseline", "passed": True,
                        "metric": "error_rate", "observed": 0.004}],
            "incident": incident,
        })])
        yield Emit(*MONITOR, [("alert.resolved", dep, {
            "alert_id": alert_id,
            "metric": "error_rate",
            "observed": 0.004,
            "threshold": 0.05,
            "severity": "critical",
            "version": v,
            "resolution": "Rolled back.",
        })])
        yield Wait(rng.uniform(1, 4))
        yield Emit(*OPERATOR, [("incident.resolved", incident, {
            "summary": "Rolled back to the stable version; error rate at baseline.",
            "root_cause": "A feature the new version reads was not backfilled in one region.",
        })])
        yield Wait(rng.uniform(12, 48))
        yield Emit(*OPERATOR, [("review.recorded", incident, {
            "findings": ["The canary caught the regression at limited exposure."],
            "actions": [{"summary": "Check feature backfills before a rollout.",
                         "owner": spec.team}],
        })])
        yield Emit(*RETRAIN, [("retraining.triggered", f"model:{spec.name}", {
            "signal": "incident",
            "metric": "error_rate",
            "version": v,
            "incident": incident,
            "reason": "Retrain with the backfilled feature.",
        })])

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
            "parameters": {"max_depth": rng.randrange(4, 12), "lr": round(rng.uniform(1e-4, 0.1), 5)},
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
        metrics = {
            "unit": ({"tests_failed": 0 if passed else 3}, {"tests_failed": {"max": 0}}),
            "integration": ({"contract_violations": 0 if passed else 1},
                            {"contract_violations": {"max": 0}}),
            "evaluation": ({"auc": round(rng.uniform(0.85, 0.95), 4),
                            "recall_at_1pct_fpr": round(rng.uniform(0.5, 0.7), 4)},
                           {"auc": {"min": 0.85 if passed else 0.99}}),
            "fairness": ({"demographic_parity_gap": round(rng.uniform(0.005, 0.03), 4)},
                         {"demographic_parity_gap": {"max": 0.03 if passed else 0.001}}),
            "latency": ({"latency_p99_ms": round(rng.uniform(20, 120), 1)},
                        {"latency_p99_ms": {"max": 150 if passed else 10}}),
            "load": ({"throughput_rps": round(rng.uniform(800, 5000), 1)},
                     {"throughput_rps": {"min": 500}}),
            "end_to_end": ({"journeys_failed": 0}, {"journeys_failed": {"max": 0}}),
            "shadow": ({"score_agreement": round(rng.uniform(0.95, 0.99), 4),
                        "requests": rng.randrange(10**6, 10**8)},
                       {"score_agreement": {"min": 0.95}}),
            "canary_analysis": ({"error_rate": round(rng.uniform(0.001, 0.009), 5),
                                 "latency_p99_ms": round(rng.uniform(30, 90), 1)},
                                {"error_rate": {"max": 0.01}}),
        }[kind]
        extra: dict[str, Any] = {}
        if env is not None:
            extra["environment"] = env
        if evaluated_on is not None and kind == "evaluation":
            extra["evaluated_on"] = evaluated_on
        kind_, subject, data = suite_result(
            v, f"{kind.replace('_', '-')}-suite", kind, metrics[0], metrics[1],
            run=run, passed=passed, **extra
        )
        return kind_, subject, dict(data)

    @staticmethod
    def _approval(v: str, role: str, evidence: list[dict[str, Any]]) -> Draft3:
        return ("approval.granted", v, {
            "environment": "prod",
            "approver_role": role,
            "justification": "Tests pass on the exact version; evidence reviewed.",
            "evidence": evidence,
        })


def _full(version: str, reason: str = "Backfilled: live on all traffic before the ledger.") -> dict[str, Any]:
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
        draft = EventDraft.create(e.type, e.subject, e.data, id=_event_id(e.seq),
                                  occurred_at=when)
        if e.request != last:
            requests.append((e.actor, e.role, []))
            last = e.request
        requests[-1][2].append(draft)
    recorded = START + timedelta(hours=events[-1].hours, microseconds=1)
    return Batch(events[0].seq, recorded, requests, [e.type for e in events])


def batches(stream: Iterator[StreamEvent], count: int) -> Iterator[list[StreamEvent]]:
    """``count`` events of ``stream`` in lists of ``BATCH``."""
    taken = 0
    chunk: list[StreamEvent] = []
    for event in stream:
        chunk.append(event)
        taken += 1
        if len(chunk) == BATCH or taken == count:
            yield chunk
            chunk = []
        if taken == count:
            return
