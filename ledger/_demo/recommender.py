"""Day 6 morning: product-recommender 2.4.0 (low risk) is built and starts a 10% canary.

The training pairs and catalogue snapshot with their lineage, the version,
its tests, a staging deploy, the ML lead's approval, the release decision
and a canary on the German storefront. :mod:`ledger._demo.incident` tells
what happens next.
"""

from __future__ import annotations

from datetime import datetime

from ledger._demo.base import (
    CI_RECS,
    DATA,
    MAYA,
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

__all__ = ["PROD", "STABLE", "V", "chapter", "register_data", "version_payload"]

V = "model:product-recommender@2.4.0"
STABLE = "model:product-recommender@2.3.0"
PROD = "deployment:product-recommender/prod"
_RUN = "run:github-actions/recs-2207"


def register_data(ch: Chapter, day: int, when: datetime) -> tuple[str, str]:
    """Register the catalogue and training pairs snapshotted on ``day``; return both refs."""
    catalog = f"dataset:catalog-items@{ch.date(day)}"
    pairs = f"dataset:recs-training-pairs@{ch.date(day)}"
    clicks = f"dataset:click-sessions@{ch.date(5)}"
    run = f"run:airflow/recs-pairs-{ch.date(day)}"
    drafts = [
        dataset(
            catalog,
            rows=1_204_733 + 9_118 * day,
            schema=f"schema-registry:catalog-items/{9 if day < 8 else 10}",
            covers=(ch.stamp(day - 1), ch.stamp(day)),
            pii=False,
            description="The product catalogue with its category taxonomy.",
        ),
        dataset(
            pairs,
            rows=96_402_118 + 1_377 * day,
            schema="schema-registry:recs-training-pairs/4",
            covers=(ch.stamp(day - 90), ch.stamp(day)),
            pii=False,
            description="(session, item, label) pairs joined with catalogue features.",
        ),
        edge(pairs, "derived_from", catalog, run),
        edge(pairs, "derived_from", clicks, run),
    ]
    if day < 8:
        drafts.insert(
            0,
            dataset(
                clicks,
                rows=2_201_993_041,
                schema="schema-registry:click-sessions/11",
                covers=(ch.stamp(-85), ch.stamp(5)),
                pii=False,
                description="Sessionised storefront clicks, add-to-carts and purchases.",
            ),
        )
    ch.step(f"recs-data-{day}", DATA, when, *drafts)
    return catalog, pairs


def version_payload(commit: str, train: str, pairs: str) -> dict[str, object]:
    return {
        "artifact_digest": digest(f"recs@{commit}"),
        "artifact_uri": f"s3://acme-ml-artifacts/recs/{commit}/model.pt",
        "training_run": train,
        "code_ref": f"git+https://git.acme.example/recs@{commit}",
        "author": "marco",
        "framework": "torch 2.4.0",
        "parameters": {"embedding_dim": 128, "num_negatives": 20, "lr": 0.0005},
        "trained_on": [pairs],
    }


def _build(ch: Chapter) -> None:
    catalog, pairs = register_data(ch, 6, ch.at(6, 5))
    train = "run:mlflow/b3e1f07c58"
    ch.step(
        "recs-2.4.0",
        CI_RECS,
        ch.at(6, 8),
        ("model.version.registered", V, version_payload("a17c3e0", train, pairs)),
        edge("feature:item_category_embedding", "feature_of", V, train),
        edge("feature:item_category_embedding", "derived_from", catalog, train),
        edge(V, "trained_on", catalog, train),
        edge(V, "derived_from", STABLE, train),
    )
    clicks = f"dataset:click-sessions@{ch.date(5)}"
    ch.step(
        "recs-ci",
        CI_RECS,
        ch.at(6, 8, 40),
        keyed(
            "recs-unit",
            *suite_result(
                V, "unit-tests", "unit", {"tests_failed": 0}, {"tests_failed": {"max": 0}}, run=_RUN
            ),
        ),
        keyed(
            "recs-integration",
            *suite_result(
                V,
                "ranking-api-contract",
                "integration",
                {"contract_violations": 0},
                {"contract_violations": {"max": 0}},
                run=_RUN,
            ),
        ),
        keyed(
            "recs-eval",
            *suite_result(
                V,
                "offline-ranking-eval",
                "evaluation",
                {"ndcg_at_10": 0.412, "recall_at_50": 0.318},
                {"ndcg_at_10": {"min": 0.4}},
                run=_RUN,
                evaluated_on=clicks,
            ),
        ),
        keyed(
            "recs-latency",
            *suite_result(
                V,
                "ranking-latency-bench",
                "latency",
                {"latency_p99_ms": 31.0},
                {"latency_p99_ms": {"max": 60}},
                run=_RUN,
            ),
        ),
    )
    ch.step(
        "recs-staging",
        ONCALL,
        ch.at(6, 9, 30),
        (
            "rollout.stage.changed",
            "deployment:product-recommender/staging",
            {
                "version": V,
                "strategy": "full",
                "exposure_percent": 100,
                "reason": "Staging deploy of the release candidate.",
            },
        ),
    )


def _release(ch: Chapter) -> None:
    ch.step(
        "recs-approve",
        MAYA,
        ch.at(6, 10, 30),
        (
            "approval.granted",
            V,
            {
                "environment": "prod",
                "approver_role": "ml_lead",
                "justification": "NDCG@10 0.412 (+0.009), p99 31 ms, contract tests green.",
                "evidence": [
                    Cite("recs-eval", "offline-ranking-eval"),
                    Cite("recs-latency"),
                    Cite("recs-integration"),
                ],
            },
        ),
    )
    ch.step(
        "recs-promote",
        SAM,
        ch.at(6, 11),
        (
            "deployment.decided",
            V,
            {
                "environment": "prod",
                "decision": "promote",
                "target_exposure": 10,
                "strategy": "canary",
                "justification": (
                    "Low-risk model with ML lead approval; canary on the German storefront first."
                ),
                "evidence": [Cite("recs-approve"), Cite("recs-eval")],
            },
        ),
    )
    ch.step(
        "recs-canary-10",
        ONCALL,
        ch.at(6, 11, 40),
        (
            "rollout.stage.changed",
            PROD,
            {
                "version": V,
                "strategy": "canary",
                "exposure_percent": 10,
                "cohort": "country=de",
                "exit_criteria": [
                    {
                        "metric": "error_rate",
                        "comparator": "lte",
                        "value": 0.01,
                        "window_minutes": 30,
                    },
                    {"metric": "ctr_delta", "comparator": "gte", "value": 0, "window_minutes": 240},
                ],
                "reason": "Canary 10% of German storefront traffic.",
            },
        ),
    )


def chapter(start: datetime) -> list[Step]:
    """The product-recommender 2.4.0 release steps, timed from ``start``."""
    ch = Chapter(start)
    _build(ch)
    _release(ch)
    return ch.steps
