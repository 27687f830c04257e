"""Days 1-2: fraud-detector 1.4.0 (high risk) is built, tested and approved.

New snapshots and features with their lineage, the version (trained on the
features, warm-started from 1.3.2), the six test kinds ``policy:high-risk``
requires, a staging deploy, and the ML lead and model-risk approvals citing
the results. :mod:`ledger._demo.fraud_rollout` takes it to production.
"""

from __future__ import annotations

from datetime import datetime

from ledger._demo.base import (
    ANA,
    BEN,
    CI_FRAUD,
    DATA,
    ONCALL,
    Chapter,
    Cite,
    Step,
    dataset,
    edge,
    keyed,
    suite_result,
)

__all__ = ["OLD", "PROD", "V", "chapter"]

V = "model:fraud-detector@1.4.0"
OLD = "model:fraud-detector@1.3.2"
PROD = "deployment:fraud-detector/prod"
_RUN = "run:github-actions/fraud-models-5512"


def _data(ch: Chapter) -> None:
    cards, holdout = (
        f"dataset:card-transactions@{ch.date(0)}",
        f"dataset:card-transactions-holdout@{ch.date(0)}",
    )
    features = f"dataset:fraud-features@{ch.date(0)}"
    run = "run:airflow/fraud-features-daily-3184"
    ch.step(
        "fraud-data",
        DATA,
        ch.at(1, 6),
        dataset(
            cards,
            rows=448_201_977,
            schema="schema-registry:card-transactions/7",
            covers=(ch.stamp(-365), ch.stamp(0)),
            pii=True,
            description="Card transactions, 12 months to the snapshot, chargeback-labelled.",
        ),
        dataset(
            holdout,
            rows=9_812_450,
            schema="schema-registry:card-transactions/7",
            covers=(ch.stamp(-30), ch.stamp(0)),
            pii=True,
            description="Out-of-time holdout: the last 30 days, never trained on.",
        ),
        dataset(
            features,
            rows=438_389_527,
            schema="schema-registry:fraud-features/14",
            covers=(ch.stamp(-365), ch.stamp(-30)),
            pii=False,
            description="Point-in-time correct features for training (holdout window excluded).",
        ),
        edge(holdout, "derived_from", cards, run),
        edge(features, "derived_from", cards, run),
        edge("feature:merchant_risk_30d", "derived_from", cards, run),
        edge("feature:device_velocity_1h", "derived_from", cards, run),
    )


def _build(ch: Chapter) -> None:
    features, holdout = (
        f"dataset:fraud-features@{ch.date(0)}",
        f"dataset:card-transactions-holdout@{ch.date(0)}",
    )
    train = "run:mlflow/8c1b0e4f2a"
    ch.step(
        "fraud-1.4.0",
        CI_FRAUD,
        ch.at(1, 14),
        (
            "model.version.registered",
            V,
            {
                "artifact_digest": (
                    "sha256:3f9a0c2e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19"
                ),
                "artifact_uri": "s3://acme-ml-artifacts/fraud-models/4f1c2e9/model.ubj",
                "training_run": train,
                "code_ref": "git+https://git.acme.example/fraud-models@4f1c2e9",
                "author": "alice",
                "framework": "xgboost 2.1.1",
                "parameters": {
                    "max_depth": 8,
                    "eta": 0.05,
                    "n_estimators": 1400,
                    "objective": "binary:logistic",
                },
                "metrics": {"val_auc": 0.947, "val_logloss": 0.183},
                "trained_on": [features],
            },
        ),
        edge("feature:merchant_risk_30d", "feature_of", V, train),
        edge("feature:device_velocity_1h", "feature_of", V, train),
        edge(V, "derived_from", OLD, train),
    )
    ch.step(
        "fraud-ci",
        CI_FRAUD,
        ch.at(1, 14, 40),
        keyed(
            "fraud-unit",
            *suite_result(
                V,
                "unit-tests",
                "unit",
                {"tests_failed": 0, "coverage": 0.91},
                {"tests_failed": {"max": 0}},
                run=_RUN,
            ),
        ),
        keyed(
            "fraud-integration",
            *suite_result(
                V,
                "scoring-api-contract",
                "integration",
                {"contract_violations": 0},
                {"contract_violations": {"max": 0}},
                run=_RUN,
            ),
        ),
    )
    ch.step(
        "fraud-offline",
        CI_FRAUD,
        ch.at(1, 16),
        keyed(
            "fraud-eval",
            *suite_result(
                V,
                "offline-eval-holdout",
                "evaluation",
                {"auc": 0.951, "recall_at_1pct_fpr": 0.62},
                {"auc": {"min": 0.94}, "recall_at_1pct_fpr": {"min": 0.55}},
                run=_RUN,
                evaluated_on=holdout,
                finished_at=ch.iso(ch.at(1, 15, 58)),
            ),
        ),
        keyed(
            "fraud-fairness",
            *suite_result(
                V,
                "fairness-card-segments",
                "fairness",
                {"false_positive_rate_ratio": 0.93, "equal_opportunity_gap": 0.012},
                {"false_positive_rate_ratio": {"min": 0.8}, "equal_opportunity_gap": {"max": 0.03}},
                run=_RUN,
                evaluated_on=holdout,
            ),
        ),
        keyed(
            "fraud-latency",
            *suite_result(
                V,
                "scoring-latency-bench",
                "latency",
                {"latency_p50_ms": 7.4, "latency_p99_ms": 38.0},
                {"latency_p99_ms": {"max": 50}},
                run=_RUN,
            ),
        ),
    )
    ch.step(
        "fraud-staging",
        ONCALL,
        ch.at(1, 17),
        (
            "rollout.stage.changed",
            "deployment:fraud-detector/staging",
            {
                "version": V,
                "strategy": "full",
                "exposure_percent": 100,
                "reason": "Nightly staging deploy of the release candidate.",
            },
        ),
    )


def _approve(ch: Chapter) -> None:
    ch.step(
        "fraud-approve-ml-lead",
        BEN,
        ch.at(2, 10),
        (
            "approval.granted",
            V,
            {
                "environment": "prod",
                "approver_role": "ml_lead",
                "justification": (
                    "Holdout AUC 0.951 (+0.006 on 1.3.2), p99 38 ms; contract tests green."
                ),
                "evidence": [
                    Cite("fraud-eval", "offline-eval-holdout"),
                    Cite("fraud-latency", "scoring-latency-bench"),
                    Cite("fraud-integration", "scoring-api-contract"),
                ],
                "expires_at": ch.stamp(32),
            },
        ),
    )
    ch.step(
        "fraud-approve-risk",
        ANA,
        ch.at(2, 11, 30),
        (
            "approval.granted",
            V,
            {
                "environment": "prod",
                "approver_role": "model_risk",
                "justification": (
                    "False-positive-rate ratio 0.93 across card segments, within tolerance."
                ),
                "evidence": [
                    Cite("fraud-fairness", "fairness-card-segments"),
                    Cite("fraud-eval", "offline-eval-holdout"),
                ],
                "expires_at": ch.stamp(32),
            },
        ),
    )


def chapter(start: datetime) -> list[Step]:
    """The steps that build and approve fraud-detector 1.4.0, timed from ``start``."""
    ch = Chapter(start)
    _data(ch)
    _build(ch)
    _approve(ch)
    return ch.steps
