"""Day 0: the team adopts the ledger.

The datasets and versions already serving production are registered and their
current prod state is backfilled (one ``full`` stage each), then the platform
admin defines one rollout policy per risk tier. The backfill comes first on
purpose: a policy would refuse a jump from 0% to 100%, and these versions
went live before the ledger existed.
"""

from __future__ import annotations

from datetime import datetime

from ledger._demo.base import (
    ADMIN,
    CI_CREDIT,
    CI_FRAUD,
    CI_RECS,
    DATA,
    ONCALL,
    Chapter,
    Step,
    dataset,
    digest,
    keyed,
)

__all__ = ["FIRST_KEY", "chapter", "low_risk_policy"]

FIRST_KEY = "onboard-datasets/0"
"""The story's first draft; its ``occurred_at`` is the story's start."""

_WINDOW_10 = 10


def _threshold(metric: str, comparator: str, value: float, window: int | None = None) -> object:
    out: dict[str, object] = {"metric": metric, "comparator": comparator, "value": value}
    if window is not None:
        out["window_minutes"] = window
    return out


def _staging(*tests: str) -> dict[str, object]:
    return {
        "required_tests": list(tests),
        "required_approvals": {"count": 0},
        "min_minutes_per_stage": 0,
        "max_exposure_step": 100,
    }


def low_risk_policy(version: int) -> dict[str, object]:
    """``policy:low-risk``; version 2 is the change the INC-2291 review asked for."""
    prod_tests = ["unit", "integration", "evaluation", "latency"]
    if version >= 2:
        prod_tests.append("shadow")
    error_window = 5 if version >= 2 else _WINDOW_10
    return {
        "policy_version": version,
        "scope": {"risk_tiers": ["low", "medium"]},
        "description": (
            "Low and medium risk: automated tests, one ML lead approval, a canary before full."
            + (" v2: a shadow run on prod traffic first (INC-2291)." if version >= 2 else "")
        ),
        "environments": {
            "staging": _staging("unit", "evaluation"),
            "prod": {
                "required_tests": prod_tests,
                "required_approvals": {"count": 1, "roles": ["ml_lead"]},
                "min_minutes_per_stage": 30,
                "blocking_alert_severity": "critical",
                "max_exposure_step": 50,
                "allowed_strategies": ["shadow", "canary", "feature_flag", "full"],
                "rollback_thresholds": [
                    _threshold("error_rate", "gt", 0.05, error_window),
                    _threshold("latency_p99_ms", "gt", 150, 5),
                ],
            },
        },
    }


def _high_risk_policy() -> dict[str, object]:
    return {
        "policy_version": 1,
        "scope": {"risk_tiers": ["high"]},
        "description": (
            "High risk: fairness evidence, a shadow run on prod traffic, an ML lead and a "
            "model-risk approval, at least one canary stage before full."
        ),
        "environments": {
            "staging": _staging("unit", "integration", "evaluation"),
            "prod": {
                "required_tests": [
                    "unit",
                    "integration",
                    "evaluation",
                    "fairness",
                    "latency",
                    "shadow",
                ],
                "required_approvals": {
                    "count": 2,
                    "roles": ["ml_lead", "model_risk"],
                    "distinct_people": True,
                    "exclude_author": True,
                },
                "min_minutes_per_stage": 60,
                "blocking_alert_severity": "critical",
                "max_exposure_step": 75,
                "stage_ttl_minutes": 2880,
                "allowed_strategies": ["shadow", "canary", "full"],
                "rollback_thresholds": [
                    _threshold("error_rate", "gt", 0.02, _WINDOW_10),
                    _threshold("latency_p99_ms", "gt", 250, 5),
                    _threshold("false_decline_rate", "gt", 0.015, 30),
                ],
            },
        },
    }


def _critical_risk_policy() -> dict[str, object]:
    return {
        "policy_version": 1,
        "scope": {"risk_tiers": ["critical"]},
        "description": (
            "Critical risk (credit decisions, regulated): fairness evidence, a shadow run, "
            "ML lead, model-risk and compliance approvals, canary steps of at most 25 points."
        ),
        "environments": {
            "staging": _staging("unit", "integration", "evaluation"),
            "prod": {
                "required_tests": [
                    "unit",
                    "integration",
                    "evaluation",
                    "fairness",
                    "latency",
                    "shadow",
                ],
                "required_approvals": {
                    "count": 3,
                    "roles": ["ml_lead", "model_risk", "compliance"],
                    "distinct_people": True,
                    "exclude_author": True,
                },
                "min_minutes_per_stage": 120,
                "blocking_alert_severity": "warning",
                "max_exposure_step": 25,
                "stage_ttl_minutes": 4320,
                "allowed_strategies": ["shadow", "canary", "full"],
                "rollback_thresholds": [
                    _threshold("error_rate", "gt", 0.01, _WINDOW_10),
                    _threshold("latency_p99_ms", "gt", 300, 5),
                    _threshold("adverse_impact_ratio", "lt", 0.8, 1440),
                ],
            },
        },
    }


def _model(
    owner: str, tier: str, process: str, description: str, task: str, tags: list[str]
) -> dict[str, object]:
    return {
        "owner": owner,
        "risk_tier": tier,
        "business_process": process,
        "description": description,
        "task": task,
        "contact": f"#{owner}-oncall",
        "tags": tags,
    }


def _version(
    repo: str, commit: str, run: str, author: str, framework: str, trained_on: list[str]
) -> dict[str, object]:
    return {
        "artifact_digest": digest(f"{repo}@{commit}"),
        "artifact_uri": f"s3://acme-ml-artifacts/{repo}/{commit}/model.bin",
        "training_run": run,
        "code_ref": f"git+https://git.acme.example/{repo}@{commit}",
        "author": author,
        "framework": framework,
        "trained_on": trained_on,
    }


def _full(version: str, since: str) -> dict[str, object]:
    return {
        "version": version,
        "strategy": "full",
        "exposure_percent": 100,
        "reason": (
            f"Backfilled when the team adopted the ledger: live on all prod traffic since {since}."
        ),
    }


def chapter(start: datetime) -> list[Step]:
    """The onboarding steps, timed from ``start`` (the first one is at ``start``)."""
    ch = Chapter(start)
    cards = f"dataset:card-transactions@{ch.date(-45)}"
    clicks = f"dataset:click-sessions@{ch.date(-32)}"
    credit = f"dataset:credit-applications@{ch.date(-75)}"
    ch.step(
        "onboard-datasets",
        DATA,
        ch.at(0, 0),
        dataset(
            cards,
            rows=412_873_105,
            schema="schema-registry:card-transactions/6",
            covers=(ch.stamp(-410), ch.stamp(-45)),
            pii=True,
            description="Authorised and declined card transactions with chargeback labels.",
        ),
        dataset(
            clicks,
            rows=2_093_448_770,
            schema="schema-registry:click-sessions/11",
            covers=(ch.stamp(-122), ch.stamp(-32)),
            pii=False,
            description="Sessionised storefront clicks, add-to-carts and purchases.",
        ),
        dataset(
            credit,
            rows=3_870_412,
            schema="schema-registry:credit-applications/3",
            covers=(ch.stamp(-1170), ch.stamp(-75)),
            pii=True,
            description="Credit-line applications with 12-month repayment outcomes.",
        ),
    )
    ch.step(
        "onboard-fraud",
        CI_FRAUD,
        ch.at(0, 0, 20),
        (
            "model.registered",
            "model:fraud-detector",
            _model(
                "fraud-ml",
                "high",
                "card-payment-authorisation",
                "Scores card transactions for fraud before authorisation.",
                "binary_classification",
                ["payments", "pci"],
            ),
        ),
        (
            "model.version.registered",
            "model:fraud-detector@1.3.2",
            _version(
                "fraud-models",
                "9b2d4e1",
                "run:mlflow/1a7e93c0d2",
                "alice",
                "xgboost 2.0.3",
                [cards],
            ),
        ),
    )
    ch.step(
        "onboard-recs",
        CI_RECS,
        ch.at(0, 0, 25),
        (
            "model.registered",
            "model:product-recommender",
            _model(
                "recs-ml",
                "low",
                "storefront-recommendations",
                "Ranks products for the home page and product-detail carousels.",
                "ranking",
                ["storefront"],
            ),
        ),
        (
            "model.version.registered",
            "model:product-recommender@2.3.0",
            _version("recs", "5e0f7aa", "run:mlflow/77c2e019ab", "marco", "torch 2.3.1", [clicks]),
        ),
    )
    ch.step(
        "onboard-credit",
        CI_CREDIT,
        ch.at(0, 0, 30),
        (
            "model.registered",
            "model:credit-limits",
            _model(
                "credit-risk-ml",
                "critical",
                "consumer-credit-line-assignment",
                "Sets the initial credit limit offered to approved card applicants.",
                "regression",
                ["credit", "regulated", "ecoa"],
            ),
        ),
        (
            "model.version.registered",
            "model:credit-limits@3.1.0",
            _version(
                "credit-models",
                "c41d09b",
                "run:mlflow/0be5d2c4f1",
                "priya",
                "lightgbm 4.3.0",
                [credit],
            ),
        ),
    )
    ch.step(
        "onboard-prod-state",
        ONCALL,
        ch.at(0, 1),
        (
            "rollout.stage.changed",
            "deployment:fraud-detector/prod",
            _full("model:fraud-detector@1.3.2", ch.date(-38)),
        ),
        (
            "rollout.stage.changed",
            "deployment:product-recommender/prod",
            _full("model:product-recommender@2.3.0", ch.date(-25)),
        ),
        (
            "rollout.stage.changed",
            "deployment:credit-limits/prod",
            _full("model:credit-limits@3.1.0", ch.date(-70)),
        ),
    )
    ch.step(
        "policies",
        ADMIN,
        ch.at(0, 2),
        keyed("policy-low-risk-v1", "policy.defined", "policy:low-risk", low_risk_policy(1)),
        keyed("policy-high-risk-v1", "policy.defined", "policy:high-risk", _high_risk_policy()),
        keyed(
            "policy-critical-risk-v1",
            "policy.defined",
            "policy:critical-risk",
            _critical_risk_policy(),
        ),
    )
    return ch.steps
