"""Days 9-13: credit-limits 3.2.0 (critical risk) is refused until its fairness evidence exists.

CI skipped the fairness suite, and the model-risk officer will not approve
without it. The release manager's first promotion is refused by
``policy:critical-risk`` and the refusal is recorded as ``policy.denied``
(the missing fairness test, the missing model-risk approval). Once the
fairness suite passes and model risk approves, the same promotion goes
through and a 5% canary starts.
"""

from __future__ import annotations

from datetime import datetime

from ledger._demo.base import (
    ANA,
    CANARY,
    CI_CREDIT,
    DATA,
    KOFI,
    LI,
    ONCALL,
    SAM,
    Chapter,
    Cite,
    Step,
    dataset,
    digest,
    edge,
    keyed,
    suite_result,
)

__all__ = ["DENIED_KEY", "chapter"]

V = "model:credit-limits@3.2.0"
OLD = "model:credit-limits@3.1.0"
PROD = "deployment:credit-limits/prod"
DENIED_KEY = "credit-promote-attempt"
"""The draft the rollout policy refuses."""
_RUN = "run:github-actions/credit-models-880"


def _build(ch: Chapter) -> None:
    apps, holdout = (
        f"dataset:credit-applications@{ch.date(8)}",
        f"dataset:credit-holdout@{ch.date(8)}",
    )
    bureau, features = (
        f"dataset:bureau-attributes@{ch.date(8)}",
        f"dataset:credit-features@{ch.date(8)}",
    )
    stress = f"dataset:credit-stress-scenarios@{ch.date(8)}"
    run = "run:airflow/credit-features-monthly-62"
    ch.step(
        "credit-data",
        DATA,
        ch.at(9, 6),
        dataset(
            apps,
            rows=4_102_377,
            schema="schema-registry:credit-applications/3",
            covers=(ch.stamp(-1100), ch.stamp(-357)),
            pii=True,
            description="Credit-line applications with 12-month repayment outcomes.",
        ),
        dataset(
            bureau,
            rows=4_102_377,
            schema="schema-registry:bureau-attributes/8",
            covers=(ch.stamp(-1100), ch.stamp(-357)),
            pii=True,
            description="Credit bureau attributes at application time.",
        ),
        dataset(
            holdout,
            rows=205_118,
            schema="schema-registry:credit-features/5",
            covers=(ch.stamp(-420), ch.stamp(-357)),
            pii=True,
            description="Out-of-time holdout: the last two application months.",
        ),
        dataset(
            features,
            rows=3_897_259,
            schema="schema-registry:credit-features/5",
            covers=(ch.stamp(-1100), ch.stamp(-420)),
            pii=True,
            description="Joined application and bureau features for training.",
        ),
        dataset(
            stress,
            rows=60_000,
            schema="schema-registry:credit-features/5",
            covers=(ch.stamp(-1100), ch.stamp(-357)),
            pii=False,
            description="Synthetic recession scenarios from model risk.",
        ),
        edge(features, "derived_from", apps, run),
        edge(features, "derived_from", bureau, run),
        edge(holdout, "derived_from", apps, run),
    )
    train = "run:mlflow/e90a4c7d13"
    ch.step(
        "credit-3.2.0",
        CI_CREDIT,
        ch.at(9, 10),
        (
            "model.version.registered",
            V,
            {
                "artifact_digest": digest("credit-models@7d3e5a2"),
                "artifact_uri": "s3://acme-ml-artifacts/credit-models/7d3e5a2/model.txt",
                "training_run": train,
                "code_ref": "git+https://git.acme.example/credit-models@7d3e5a2",
                "author": "priya",
                "framework": "lightgbm 4.5.0",
                "parameters": {
                    "num_leaves": 63,
                    "learning_rate": 0.03,
                    "monotone_constraints": "utilisation:-1",
                },
                "metrics": {"val_rmse": 412.7},
                "trained_on": [features],
            },
        ),
        edge("feature:utilisation_ratio_6m", "feature_of", V, train),
        edge("feature:bureau_score_band", "feature_of", V, train),
        edge(V, "derived_from", OLD, train),
        edge(V, "evaluated_on", stress, train),
    )
    ch.step(
        "credit-ci",
        CI_CREDIT,
        ch.at(9, 10, 45),
        keyed(
            "credit-unit",
            *suite_result(
                V, "unit-tests", "unit", {"tests_failed": 0}, {"tests_failed": {"max": 0}}, run=_RUN
            ),
        ),
        keyed(
            "credit-integration",
            *suite_result(
                V,
                "limits-api-contract",
                "integration",
                {"contract_violations": 0},
                {"contract_violations": {"max": 0}},
                run=_RUN,
            ),
        ),
        keyed(
            "credit-eval",
            *suite_result(
                V,
                "offline-eval-holdout",
                "evaluation",
                {"rmse": 398.2, "loss_rate_at_policy_limits": 0.0121},
                {"rmse": {"max": 420}, "loss_rate_at_policy_limits": {"max": 0.013}},
                run=_RUN,
                evaluated_on=holdout,
            ),
        ),
        keyed(
            "credit-latency",
            *suite_result(
                V,
                "limits-latency-bench",
                "latency",
                {"latency_p99_ms": 55.0},
                {"latency_p99_ms": {"max": 120}},
                run=_RUN,
            ),
        ),
    )
    ch.step(
        "credit-staging",
        ONCALL,
        ch.at(9, 11, 30),
        (
            "rollout.stage.changed",
            "deployment:credit-limits/staging",
            {
                "version": V,
                "strategy": "full",
                "exposure_percent": 100,
                "reason": "Staging deploy of the release candidate.",
            },
        ),
    )


def _approvals(ch: Chapter) -> None:
    ch.step(
        "credit-approve-ml-lead",
        KOFI,
        ch.at(10, 9),
        (
            "approval.granted",
            V,
            {
                "environment": "prod",
                "approver_role": "ml_lead",
                "justification": (
                    "RMSE 398 on the out-of-time holdout (3.1.0: 417); loss rate within appetite."
                ),
                "evidence": [Cite("credit-eval", "offline-eval-holdout"), Cite("credit-latency")],
            },
        ),
    )
    ch.step(
        "credit-approve-compliance",
        LI,
        ch.at(10, 9, 30),
        (
            "approval.granted",
            V,
            {
                "environment": "prod",
                "approver_role": "compliance",
                "justification": (
                    "Adverse-action reason codes unchanged; model documentation filed."
                ),
                "evidence": [Cite("credit-eval")],
            },
        ),
    )
    ch.step(
        "credit-shadow",
        ONCALL,
        ch.at(10, 10),
        (
            "rollout.stage.changed",
            PROD,
            {
                "version": V,
                "strategy": "shadow",
                "exposure_percent": 0,
                "mirror_percent": 100,
                "reason": "Shadow-score every application; 3.1.0 keeps assigning limits.",
            },
        ),
    )
    ch.step(
        "credit-shadow-analysis",
        CANARY,
        ch.at(11, 11),
        keyed(
            "credit-shadow-result",
            *suite_result(
                V,
                "shadow-prod-25h",
                "shadow",
                {"limit_delta_p50": 150.0, "limit_delta_p95": 900.0, "latency_p99_ms": 61.0},
                {"limit_delta_p95": {"max": 1500}, "latency_p99_ms": {"max": 120}},
                run="run:argo/credit-shadow-0098",
                environment="prod",
            ),
        ),
    )


def _release(ch: Chapter) -> None:
    promote: dict[str, object] = {
        "environment": "prod",
        "decision": "promote",
        "target_exposure": 5,
        "strategy": "canary",
        "justification": "Shadow run clean; quarterly limits refresh.",
        "evidence": [
            Cite("credit-shadow-result"),
            Cite("credit-approve-ml-lead"),
            Cite("credit-approve-compliance"),
        ],
    }
    ch.step(DENIED_KEY, SAM, ch.at(11, 14), ("deployment.decided", V, promote), expect_denied=True)
    ch.step(
        "credit-fairness",
        CI_CREDIT,
        ch.at(12, 9),
        keyed(
            "credit-fairness-result",
            *suite_result(
                V,
                "fairness-protected-classes",
                "fairness",
                {"adverse_impact_ratio": 0.87, "equal_opportunity_gap": 0.021},
                {"adverse_impact_ratio": {"min": 0.8}, "equal_opportunity_gap": {"max": 0.03}},
                run="run:github-actions/credit-models-884",
                evaluated_on=f"dataset:credit-holdout@{ch.date(8)}",
            ),
        ),
    )
    ch.step(
        "credit-approve-risk",
        ANA,
        ch.at(12, 11),
        (
            "approval.granted",
            V,
            {
                "environment": "prod",
                "approver_role": "model_risk",
                "justification": (
                    "Adverse impact ratio 0.87 across protected classes; stress scenarios reviewed."
                ),
                "evidence": [
                    Cite("credit-fairness-result", "fairness-protected-classes"),
                    Cite("credit-eval"),
                ],
            },
        ),
    )
    ch.step(
        "credit-promote",
        SAM,
        ch.at(12, 11, 30),
        (
            "deployment.decided",
            V,
            {
                **promote,
                "justification": (
                    "Fairness evidence in and all three approvals; quarterly limits refresh."
                ),
                "evidence": [
                    Cite("credit-fairness-result"),
                    Cite("credit-shadow-result"),
                    Cite("credit-approve-risk"),
                ],
            },
        ),
    )
    ch.step(
        "credit-canary-5",
        ONCALL,
        ch.at(12, 13),
        (
            "rollout.stage.changed",
            PROD,
            {
                "version": V,
                "strategy": "canary",
                "exposure_percent": 5,
                "cohort": "channel=web",
                "exit_criteria": [
                    {
                        "metric": "error_rate",
                        "comparator": "lte",
                        "value": 0.005,
                        "window_minutes": 60,
                    },
                    {
                        "metric": "adverse_impact_ratio",
                        "comparator": "gte",
                        "value": 0.8,
                        "window_minutes": 1440,
                    },
                ],
                "reason": "First canary step for web applications.",
            },
        ),
    )
    ch.step(
        "credit-canary-5-analysis",
        CANARY,
        ch.at(13, 9),
        suite_result(
            V,
            "canary-analysis-5pct",
            "canary_analysis",
            {"error_rate": 0.0012, "adverse_impact_ratio": 0.88, "latency_p99_ms": 58.0},
            {"error_rate": {"max": 0.005}, "adverse_impact_ratio": {"min": 0.8}},
            run="run:argo/credit-canary-0101",
            environment="prod",
        ),
    )


def chapter(start: datetime) -> list[Step]:
    """The credit-limits 3.2.0 steps, timed from ``start``."""
    ch = Chapter(start)
    _build(ch)
    _approvals(ch)
    _release(ch)
    return ch.steps
