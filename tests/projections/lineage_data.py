"""A synthetic, layered lineage graph for sizing tests and benchmarks.

Shaped like an ML platform's lineage: datasets and their versions derived
from one another, features, models and their versions trained and evaluated
on dataset versions, deployments serving versions, incidents affecting
deployments. Edges come in seq order, one seq per edge, times one second apart.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from ledger.projections.base import Edge

__all__ = ["layered_lineage"]

_START = datetime(2026, 1, 1, tzinfo=UTC)


def layered_lineage(nodes: int = 100_000, edges: int = 300_000, seed: int = 7) -> list[Edge]:
    """About ``nodes`` entities joined by exactly ``edges`` distinct edges."""
    rng = random.Random(seed)
    n = {
        "dataset": nodes * 5 // 100,
        "dsv": nodes * 35 // 100,
        "feature": nodes * 10 // 100,
        "model": nodes * 3 // 100,
        "mv": nodes * 27 // 100,
        "run": nodes * 10 // 100,
        "deployment": nodes * 5 // 100,
        "incident": nodes * 5 // 100,
    }
    datasets = [f"dataset:ds-{i}" for i in range(n["dataset"])]
    dsvs = [f"dataset:ds-{i % n['dataset']}@v{i}" for i in range(n["dsv"])]
    features = [f"feature:f-{i}" for i in range(n["feature"])]
    models = [f"model:m-{i}" for i in range(n["model"])]
    mvs = [f"model:m-{i % n['model']}@{i}" for i in range(n["mv"])]
    runs = [f"run:airflow/{i}" for i in range(n["run"])]
    deployments = [f"deployment:m-{i % n['model']}/env{i}" for i in range(n["deployment"])]
    incidents = [f"incident:INC-{i}" for i in range(n["incident"])]
    triples: dict[tuple[str, str, str], None] = {}

    def link(source: str, target: str, relation: str) -> None:
        if len(triples) < edges and source != target:
            triples.setdefault((source, target, relation))

    def earlier(items: list[str], index: int, pool: int) -> str:
        return items[max(0, index - rng.randrange(1, pool + 1))]

    for i, dsv in enumerate(dsvs):
        link(dsv, datasets[i % n["dataset"]], "version_of")
        link(dsv, runs[rng.randrange(n["run"])], "produced_by")
        if i > 10:
            link(dsv, earlier(dsvs, i, 2000), "derived_from")
    for feature in features:
        link(feature, dsvs[rng.randrange(n["dsv"])], "derived_from")
    for i, mv in enumerate(mvs):
        link(mv, models[i % n["model"]], "version_of")
        link(mv, dsvs[rng.randrange(n["dsv"])], "evaluated_on")
        link(features[rng.randrange(n["feature"])], mv, "feature_of")
    for deployment in deployments:
        for _ in range(4):
            link(deployment, mvs[rng.randrange(n["mv"])], "serves")
    for incident in incidents:
        link(incident, deployments[rng.randrange(n["deployment"])], "affects")
    while len(triples) < edges:  # the rest: training data, the bulk of real lineage
        link(mvs[rng.randrange(n["mv"])], dsvs[rng.randrange(n["dsv"])], "trained_on")
    return [
        Edge(s, t, r, seq, (_START + timedelta(seconds=seq)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        for seq, (s, t, r) in enumerate(triples, start=1)
    ]
