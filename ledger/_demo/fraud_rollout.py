"""Days 2-5: fraud-detector 1.4.0 goes shadow -> canary 5% -> 25% -> full in prod.

Every gate of ``policy:high-risk`` is met on time: the required tests and
approvals (:mod:`ledger._demo.fraud`), an hour or more per stage, no jump
above 75 points, no stage past its 48-hour TTL. A latency warning during the
25% canary does not block (only critical alerts do). At 100% the stable
1.3.2 becomes ``replaced``.
"""

from __future__ import annotations

from datetime import datetime

from ledger._demo.base import (
    CANARY,
    CI_FRAUD,
    MONITOR,
    ONCALL,
    SAM,
    Chapter,
    Cite,
    Step,
    edge,
    keyed,
    suite_result,
)
from ledger._demo.fraud import OLD, PROD, V

__all__ = ["chapter"]


def _stage(strategy: str, exposure: float, reason: str, **extra: object) -> dict[str, object]:
    return {
        "version": V,
        "strategy": strategy,
        "exposure_percent": exposure,
        "reason": reason,
        **extra,
    }


_CANARY_EXIT = [
    {"metric": "error_rate", "comparator": "lte", "value": 0.01, "window_minutes": 60},
    {"metric": "false_decline_rate", "comparator": "lte", "value": 0.012, "window_minutes": 60},
    {"metric": "latency_p99_ms", "comparator": "lte", "value": 200},
]


def _rollout(ch: Chapter) -> None:
    ch.step(
        "fraud-shadow",
        ONCALL,
        ch.at(2, 13),
        (
            "rollout.stage.changed",
            PROD,
            _stage(
                "shadow",
                0,
                "Mirror all prod traffic to 1.4.0; 1.3.2 keeps deciding.",
                mirror_percent=100,
                exit_criteria=[
                    {
                        "metric": "score_agreement",
                        "comparator": "gte",
                        "value": 0.95,
                        "window_minutes": 1440,
                    }
                ],
            ),
        ),
    )
    ch.step(
        "fraud-shadow-analysis",
        CANARY,
        ch.at(3, 14),
        keyed(
            "fraud-shadow-result",
            *suite_result(
                V,
                "shadow-prod-26h",
                "shadow",
                {"score_agreement": 0.973, "latency_p99_ms": 41.0, "requests": 18_204_331},
                {"score_agreement": {"min": 0.95}, "latency_p99_ms": {"max": 200}},
                run="run:argo/fraud-shadow-0412",
                environment="prod",
            ),
        ),
    )
    ch.step(
        "fraud-promote",
        SAM,
        ch.at(3, 15),
        (
            "deployment.decided",
            V,
            {
                "environment": "prod",
                "decision": "promote",
                "target_exposure": 5,
                "strategy": "canary",
                "justification": (
                    "Shadow run clean for 26h; ML lead and model-risk approvals in place."
                ),
                "evidence": [
                    Cite("fraud-shadow-result", "shadow-prod-26h"),
                    Cite("fraud-approve-ml-lead"),
                    Cite("fraud-approve-risk"),
                ],
            },
        ),
    )
    ch.step(
        "fraud-canary-5",
        ONCALL,
        ch.at(3, 15, 30),
        (
            "rollout.stage.changed",
            PROD,
            _stage("canary", 5, "First canary step, as decided.", exit_criteria=_CANARY_EXIT),
        ),
    )
    ch.step(
        "fraud-canary-5-analysis",
        CANARY,
        ch.at(3, 18),
        keyed(
            "fraud-canary-5-result",
            *suite_result(
                V,
                "canary-analysis-5pct",
                "canary_analysis",
                {"error_rate": 0.0031, "false_decline_rate": 0.0094, "latency_p99_ms": 44.0},
                {
                    "error_rate": {"max": 0.01},
                    "false_decline_rate": {"max": 0.012},
                    "latency_p99_ms": {"max": 200},
                },
                run="run:argo/fraud-canary-0413",
                environment="prod",
            ),
        ),
    )
    ch.step(
        "fraud-canary-25",
        ONCALL,
        ch.at(4, 10),
        (
            "rollout.stage.changed",
            PROD,
            _stage(
                "canary", 25, "Canary analysis at 5% passed overnight.", exit_criteria=_CANARY_EXIT
            ),
        ),
    )
    ch.step(
        "fraud-latency-alert",
        MONITOR,
        ch.at(4, 13, 20),
        (
            "alert.raised",
            PROD,
            {
                "alert_id": "fd-latency-7c21e0",
                "metric": "latency_p99_ms",
                "observed": 212.0,
                "threshold": 200.0,
                "comparator": "gt",
                "severity": "warning",
                "version": V,
                "window_minutes": 5,
                "source": "prometheus",
                "summary": "p99 scoring latency 212 ms on the 25% canary pods (warning at 200 ms).",
                "runbook_uri": "https://runbooks.acme.example/fraud-detector/latency",
            },
        ),
    )
    ch.step(
        "fraud-latency-resolved",
        MONITOR,
        ch.at(4, 14, 5),
        (
            "alert.resolved",
            PROD,
            {
                "alert_id": "fd-latency-7c21e0",
                "metric": "latency_p99_ms",
                "observed": 61.0,
                "threshold": 200.0,
                "severity": "warning",
                "version": V,
                "resolution": "Feature-store cache warmed up on the new canary pods.",
            },
        ),
    )
    ch.step(
        "fraud-canary-25-analysis",
        CANARY,
        ch.at(5, 9),
        keyed(
            "fraud-canary-25-result",
            *suite_result(
                V,
                "canary-analysis-25pct",
                "canary_analysis",
                {"error_rate": 0.0028, "false_decline_rate": 0.0091, "latency_p99_ms": 47.0},
                {
                    "error_rate": {"max": 0.01},
                    "false_decline_rate": {"max": 0.012},
                    "latency_p99_ms": {"max": 200},
                },
                run="run:argo/fraud-canary-0414",
                environment="prod",
            ),
        ),
    )
    ch.step(
        "fraud-full",
        ONCALL,
        ch.at(5, 10),
        (
            "rollout.stage.changed",
            PROD,
            _stage(
                "full",
                100,
                "Canary analysis at 25% passed; 1.4.0 takes all "
                "traffic, 1.3.2 stays warm for rollback.",
            ),
        ),
    )
    ch.step(
        "fraud-replaces",
        CI_FRAUD,
        ch.at(5, 10, 5),
        edge(V, "replaces", OLD, "run:argo/fraud-rollout-0414"),
        edge(V, "deployed_as", PROD, "run:argo/fraud-rollout-0414"),
    )


def chapter(start: datetime) -> list[Step]:
    """The fraud-detector 1.4.0 rollout steps, timed from ``start``."""
    ch = Chapter(start)
    _rollout(ch)
    return ch.steps
