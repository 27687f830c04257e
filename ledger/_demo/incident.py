"""Days 6-8: INC-2291, the 2.4.0 canary crosses its rollback threshold and is rolled back.

Twenty-eight minutes into the 10% canary the error rate reaches 7.1%, past
the 5% rollback threshold of ``policy:low-risk``: the deployment becomes
``rollback_required``, on-call opens INC-2291, rolls back to 2.3.0 and
verifies it. The ML lead withdraws her approval, the review tightens the
policy (a shadow run becomes required) and drift on the item taxonomy
triggers a retraining, which produces 2.4.1.
"""

from __future__ import annotations

from datetime import datetime

from ledger._demo.base import (
    ADMIN,
    CI_RECS,
    MAYA,
    MONITOR,
    ONCALL,
    RETRAIN,
    Chapter,
    Cite,
    SeqOf,
    Step,
    edge,
    suite_result,
)
from ledger._demo.onboarding import low_risk_policy
from ledger._demo.recommender import PROD, STABLE, V, register_data, version_payload

__all__ = ["INCIDENT", "chapter"]

INCIDENT = "incident:INC-2291"
NEXT = "model:product-recommender@2.4.1"
_ALERT = "recs-err-4b9f12"


def _incident(ch: Chapter) -> None:
    ch.step(
        "recs-error-alert",
        MONITOR,
        ch.at(6, 12, 8),
        (
            "alert.raised",
            PROD,
            {
                "alert_id": _ALERT,
                "metric": "error_rate",
                "observed": 0.071,
                "threshold": 0.05,
                "comparator": "gt",
                "severity": "critical",
                "version": V,
                "window_minutes": 5,
                "source": "prometheus",
                "summary": (
                    "Canary error rate 7.1% over 5m (rollback "
                    "threshold 5%): HTTP 500 from the ranker."
                ),
                "runbook_uri": "https://runbooks.acme.example/product-recommender/error-rate",
            },
        ),
    )
    ch.step(
        "recs-incident",
        ONCALL,
        ch.at(6, 12, 11),
        (
            "incident.opened",
            INCIDENT,
            {
                "severity": "sev2",
                "summary": (
                    "Recommender 2.4.0 canary returns HTTP 500 for 7% "
                    "of German storefront requests."
                ),
                "affected": [PROD, V],
                "detected_at": ch.iso(ch.at(6, 12, 8)),
                "commander": "dana",
                "alert_ids": [_ALERT],
                "external_uri": "https://acme.pagerduty.example/incidents/Q7RC2291",
            },
        ),
    )
    ch.step(
        "recs-rollback",
        ONCALL,
        ch.at(6, 12, 17),
        (
            "rollback.executed",
            PROD,
            {
                "from_version": V,
                "to_version": STABLE,
                "reason": (
                    "Canary error rate 7.1% crossed the 5% rollback threshold of policy:low-risk."
                ),
                "trigger": "alert",
                "alert_id": _ALERT,
                "incident": INCIDENT,
            },
        ),
    )
    ch.step(
        "recs-error-resolved",
        MONITOR,
        ch.at(6, 12, 35),
        (
            "alert.resolved",
            PROD,
            {
                "alert_id": _ALERT,
                "metric": "error_rate",
                "observed": 0.004,
                "threshold": 0.05,
                "severity": "critical",
                "version": V,
                "resolution": "Cleared after the rollback to 2.3.0.",
            },
        ),
    )
    ch.step(
        "recs-rollback-verified",
        ONCALL,
        ch.at(6, 12, 50),
        (
            "rollback.verified",
            PROD,
            {
                "from_version": V,
                "to_version": STABLE,
                "rollback_seq": SeqOf("recs-rollback"),
                "passed": True,
                "checks": [
                    {
                        "name": "error-rate-back-to-baseline",
                        "passed": True,
                        "metric": "error_rate",
                        "observed": 0.004,
                    },
                    {"name": "all-pods-serving-2.3.0", "passed": True},
                    {
                        "name": "ctr-within-1pct-of-last-week",
                        "passed": True,
                        "metric": "ctr_delta",
                        "observed": -0.002,
                    },
                ],
                "incident": INCIDENT,
            },
        ),
    )
    ch.step(
        "recs-incident-resolved",
        ONCALL,
        ch.at(6, 15),
        (
            "incident.resolved",
            INCIDENT,
            {
                "summary": "Rolled back to 2.3.0 at 10% exposure; error rate back to 0.4%.",
                "root_cause": (
                    "2.4.0's category embeddings were built from the catalogue before the taxonomy "
                    "migration; items in 312 renamed categories had no "
                    "embedding and the lookup raised."
                ),
            },
        ),
    )
    ch.step(
        "recs-approval-revoked",
        MAYA,
        ch.at(6, 16),
        (
            "approval.revoked",
            V,
            {
                "approval_seq": SeqOf("recs-approve"),
                "environment": "prod",
                "approver_role": "ml_lead",
                "justification": (
                    "Withdrawn after INC-2291: the evaluation did not cover the new taxonomy."
                ),
                "evidence": [Cite("recs-error-alert")],
            },
        ),
    )


def _aftermath(ch: Chapter) -> None:
    ch.step(
        "policy-low-risk-v2",
        ADMIN,
        ch.at(8, 10),
        ("policy.defined", "policy:low-risk", low_risk_policy(2)),
    )
    ch.step(
        "recs-review",
        ONCALL,
        ch.at(8, 11),
        (
            "review.recorded",
            INCIDENT,
            {
                "findings": [
                    "The catalogue taxonomy migration was not in the "
                    "training pairs' snapshot of 2.4.0.",
                    "The canary's error rate crossed the 5% rollback threshold 28 minutes in; "
                    "rollback took 9 minutes from the alert and was verified 33 minutes later.",
                    "Offline evaluation ran on click sessions that predate the migration.",
                ],
                "actions": [
                    {
                        "summary": (
                            "Fail the training-pairs job when an item has no category embedding."
                        ),
                        "owner": "recs-ml",
                        "due": ch.date(15),
                    },
                    {
                        "summary": "Evaluate on sessions after the latest taxonomy change.",
                        "owner": "recs-ml",
                        "due": ch.date(15),
                    },
                ],
                "policy_changes": [
                    {
                        "policy": "policy:low-risk",
                        "summary": (
                            "Require a passing shadow run on prod traffic before any canary."
                        ),
                        "policy_seq": SeqOf("policy-low-risk-v2"),
                    }
                ],
                "document_uri": "https://wiki.acme.example/postmortems/INC-2291",
            },
        ),
    )
    ch.step(
        "recs-retrain",
        RETRAIN,
        ch.at(8, 11, 30),
        (
            "retraining.triggered",
            "model:product-recommender",
            {
                "signal": "data_drift",
                "metric": "psi_item_category_mix",
                "observed": 0.27,
                "threshold": 0.2,
                "comparator": "gt",
                "version": V,
                "incident": INCIDENT,
                "run": "run:airflow/recs-retrain-991",
                "reason": "Item category mix shifted with the taxonomy migration.",
            },
        ),
    )
    _, pairs = register_data(ch, 8, ch.at(8, 13))
    ch.step(
        "recs-2.4.1",
        CI_RECS,
        ch.at(8, 16),
        (
            "model.version.registered",
            NEXT,
            version_payload("d52b9f4", "run:airflow/recs-retrain-991", pairs),
        ),
        edge(NEXT, "derived_from", V, "run:airflow/recs-retrain-991"),
    )
    run = "run:github-actions/recs-2231"
    ch.step(
        "recs-2.4.1-ci",
        CI_RECS,
        ch.at(8, 16, 40),
        suite_result(
            NEXT, "unit-tests", "unit", {"tests_failed": 0}, {"tests_failed": {"max": 0}}, run=run
        ),
        suite_result(
            NEXT,
            "offline-ranking-eval",
            "evaluation",
            {"ndcg_at_10": 0.417, "recall_at_50": 0.322},
            {"ndcg_at_10": {"min": 0.4}},
            run=run,
            evaluated_on=pairs,
        ),
    )


def chapter(start: datetime) -> list[Step]:
    """The incident and its aftermath, timed from ``start``."""
    ch = Chapter(start)
    _incident(ch)
    _aftermath(ch)
    return ch.steps
