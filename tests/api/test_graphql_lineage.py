"""GraphQL lineage against the demo story: neighbourhoods, paths, impact, as of a past moment."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.api.graphql.loaders import SnapshotFlight
from ledger.lineage_cache import LineageCache, shared_cache
from ledger.projections.base import Edge
from ledger.projections.lineage import LineageGraph
from tests.api.conftest import error_codes
from tests.api.test_graphql_models import DemoApi, copy_demo, demo_api, load_demo


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return load_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def api(demo_db: Path) -> Iterator[DemoApi]:
    with demo_api(demo_db) as made:
        yield made


LINEAGE = """
query($ref: String!, $direction: Direction!, $depth: Int!, $asOf: AsOf) {
  lineage(ref: $ref, direction: $direction, depth: $depth, asOf: $asOf) {
    ref direction depth
    nodes { ref kind }
    edges { source target relation seq time }
  }
}
"""


def _lineage(api: DemoApi, ref: str, direction: str = "BOTH", depth: int = 3, **kw: object) -> dict:  # type: ignore[type-arg]
    result = api.data(LINEAGE, ref=ref, direction=direction, depth=depth, **kw)["lineage"]
    assert isinstance(result, dict)
    return result


def test_upstream_of_a_version_reaches_its_training_dataset(api: DemoApi) -> None:
    lineage = _lineage(api, "model:fraud-detector@1.4.0", "UPSTREAM", 2)
    nodes = {n["ref"]: n["kind"] for n in lineage["nodes"]}
    assert lineage["nodes"][0] == {"ref": "model:fraud-detector@1.4.0", "kind": "model"}
    assert nodes["dataset:fraud-features@2026-11-12"] == "dataset"
    # two hops: the features were derived from the raw transactions
    assert "dataset:card-transactions@2026-11-12" in nodes
    assert nodes["run:mlflow/8c1b0e4f2a"] == "run"
    assert nodes["feature:merchant_risk_30d"] == "feature"
    assert not any(ref.startswith("deployment:") for ref in nodes)
    (trained,) = [
        e
        for e in lineage["edges"]
        if e["relation"] == "trained_on" and e["source"] == "model:fraud-detector@1.4.0"
    ]
    assert trained["target"] == "dataset:fraud-features@2026-11-12"
    assert trained["seq"] > 0
    assert trained["time"].endswith("Z")
    one_hop = _lineage(api, "model:fraud-detector@1.4.0", "UPSTREAM", 1)
    assert "dataset:card-transactions@2026-11-12" not in {n["ref"] for n in one_hop["nodes"]}


def test_downstream_of_a_dataset_reaches_versions_and_deployments(api: DemoApi) -> None:
    lineage = _lineage(api, "dataset:fraud-features@2026-11-12", "DOWNSTREAM", 2)
    refs = [n["ref"] for n in lineage["nodes"]]
    assert refs[0] == "dataset:fraud-features@2026-11-12"
    assert refs[1] == "model:fraud-detector@1.4.0"
    assert "deployment:fraud-detector/prod" in refs
    assert "dataset:card-transactions@2026-11-12" not in refs
    both = _lineage(api, "dataset:fraud-features@2026-11-12", "BOTH", 2)
    assert {"dataset:card-transactions@2026-11-12", "deployment:fraud-detector/prod"} <= {
        n["ref"] for n in both["nodes"]
    }


def test_model_version_lineage_is_the_same_as_the_root_field(api: DemoApi) -> None:
    data = api.data(
        '{ modelVersion(ref: "model:credit-limits@3.2.0") '
        "{ lineage(direction: UPSTREAM, depth: 2) { nodes { ref } edges { seq } } } }"
    )
    root = _lineage(api, "model:credit-limits@3.2.0", "UPSTREAM", 2)
    assert data["modelVersion"]["lineage"]["nodes"] == [{"ref": n["ref"]} for n in root["nodes"]]
    assert "dataset:credit-features@2026-11-20" in {n["ref"] for n in root["nodes"]}


def test_lineage_as_of_a_past_seq_or_time_leaves_later_edges_out(api: DemoApi) -> None:
    now = _lineage(api, "model:fraud-detector@1.4.0", "DOWNSTREAM", 1)
    serves = [e for e in now["edges"] if e["source"] == "deployment:fraud-detector/prod"]
    (first_serve,) = [e for e in serves if e["relation"] == "serves"]
    before = _lineage(
        api, "model:fraud-detector@1.4.0", "DOWNSTREAM", 1, asOf={"seq": first_serve["seq"] - 1}
    )
    assert "deployment:fraud-detector/prod" not in {n["ref"] for n in before["nodes"]}
    assert all(e["seq"] < first_serve["seq"] for e in before["edges"])
    at = _lineage(
        api, "model:fraud-detector@1.4.0", "DOWNSTREAM", 1, asOf={"time": first_serve["time"]}
    )
    assert "deployment:fraud-detector/prod" in {n["ref"] for n in at["nodes"]}


def test_lineage_of_an_unknown_entity_is_just_the_entity(api: DemoApi) -> None:
    lineage = _lineage(api, "dataset:nowhere@1")
    assert lineage["nodes"] == [{"ref": "dataset:nowhere@1", "kind": "dataset"}]
    assert lineage["edges"] == []


@pytest.mark.parametrize("depth", [0, 11, 1000])
def test_depth_is_bounded_with_an_error_naming_it(api: DemoApi, depth: int) -> None:
    body = api.post(LINEAGE, ref="model:fraud-detector", direction="BOTH", depth=depth)
    assert error_codes(body) == ["bad_request"]
    assert body["errors"][0]["extensions"]["field"] == "depth"


def test_a_bad_reference_is_a_bad_request_naming_the_argument(api: DemoApi) -> None:
    body = api.post(LINEAGE, ref="no kind", direction="BOTH", depth=1)
    assert error_codes(body) == ["bad_request"]
    assert body["errors"][0]["extensions"]["field"] == "ref"


PATH = """
query($from: String!, $to: String!, $asOf: AsOf) {
  path(from: $from, to: $to, asOf: $asOf) {
    length nodes { ref kind } edges { source target relation }
  }
}
"""


def test_path_links_a_raw_dataset_to_the_deployment_it_feeds(api: DemoApi) -> None:
    path = api.data(
        PATH,
        **{"from": "dataset:card-transactions@2026-11-12"},
        to="deployment:fraud-detector/prod",
    )["path"]
    assert path["length"] == 3
    assert [n["ref"] for n in path["nodes"]] == [
        "dataset:card-transactions@2026-11-12",
        "dataset:fraud-features@2026-11-12",
        "model:fraud-detector@1.4.0",
        "deployment:fraud-detector/prod",
    ]
    assert [e["relation"] for e in path["edges"]] == ["derived_from", "trained_on", "serves"]
    same = api.data(PATH, **{"from": "model:fraud-detector"}, to="model:fraud-detector")["path"]
    assert same == {
        "length": 0,
        "nodes": [{"ref": "model:fraud-detector", "kind": "model"}],
        "edges": [],
    }


def test_path_is_null_when_unconnected_or_not_yet_connected(api: DemoApi) -> None:
    assert (
        api.data(PATH, **{"from": "dataset:nowhere@1"}, to="model:fraud-detector")["path"] is None
    )

    def path_at(seq: int) -> Any:
        return api.data(
            PATH,
            **{"from": "dataset:card-transactions@2026-11-12"},
            to="deployment:fraud-detector/prod",
            asOf={"seq": seq},
        )["path"]

    assert path_at(15) is None  # that dataset version was registered at seq 16
    # As of seq 20 the only way is through the dataset family to 1.3.2 (1.4.0 came at 23).
    refs = [n["ref"] for n in path_at(20)["nodes"]]
    assert "model:fraud-detector@1.3.2" in refs
    assert "model:fraud-detector@1.4.0" not in refs


IMPACT = """
query($ref: String!, $asOf: AsOf) {
  impact(ref: $ref, asOf: $asOf) {
    ref modelName environment version exposure rollbackRequired openAlerts { alertId }
    serving { version }
  }
}
"""


def test_impact_of_a_dataset_reaches_every_deployment_downstream(api: DemoApi) -> None:
    impact = api.data(IMPACT, ref="dataset:card-transactions@2026-11-12")["impact"]
    refs = [d["ref"] for d in impact]
    assert refs == ["deployment:fraud-detector/prod", "deployment:fraud-detector/staging"]
    prod = impact[0]
    assert prod["version"] == "1.4.0"
    assert prod["serving"] == [{"version": "1.4.0"}]
    recs = api.data(IMPACT, ref="dataset:catalog-items@2026-11-18")["impact"]
    assert "deployment:product-recommender/prod" in {d["ref"] for d in recs}
    assert (
        api.data(IMPACT, ref="dataset:card-transactions@2026-11-12", asOf={"seq": 20})["impact"]
        == []
    )


def test_the_lineage_cache_follows_new_edges_without_reloading(
    demo_db: Path, tmp_path: Path
) -> None:
    db = copy_demo(demo_db, tmp_path)
    with demo_api(db) as api:
        before = _lineage(api, "dataset:brand-new@1", "DOWNSTREAM", 1)
        assert len(before["nodes"]) == 1
        cache = shared_cache(api.store)  # type: ignore[arg-type]
        loaded = cache.loaded_seq
        appended = api.data(
            """mutation { appendEvents(events: [{type: "lineage.edge.recorded",
               subject: "model:fraud-detector@1.4.0",
               data: {target: "dataset:brand-new@1", relation: "evaluated_on"}}]) { seq } }""",
            "admin",
        )["appendEvents"][0]["seq"]
        after = _lineage(api, "dataset:brand-new@1", "DOWNSTREAM", 1)
        assert "model:fraud-detector@1.4.0" in {n["ref"] for n in after["nodes"]}
        assert cache.loaded_seq == appended > loaded
        assert shared_cache(api.store) is cache  # type: ignore[arg-type]


class _Rows:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, int, str]] = []
        self.calls: list[int] = []

    def edges(self, after_seq: int = 0) -> Iterator[tuple[str, str, str, int, str]]:
        self.calls.append(after_seq)
        return iter([r for r in self.rows if r[3] > after_seq])


def test_lineage_cache_reads_only_new_edges_and_caps_snapshots() -> None:
    source = _Rows()
    cache = LineageCache(source)
    source.rows.append(("model:m@1", "dataset:d@1", "trained_on", 3, "2026-11-01T00:00:00.000000Z"))
    first = cache.snapshot()
    assert first.seq == 3
    assert cache.refresh() == 0
    source.rows.append(
        ("deployment:m/prod", "model:m@1", "serves", 7, "2026-11-02T00:00:00.000000Z")
    )
    second = cache.snapshot()
    assert source.calls == [0, 3, 3]
    assert second.seq == 7
    assert second.graph is first.graph  # one growing graph
    assert first.bound(None) == 3
    assert first.bound(100) == 3
    assert second.bound(5) == 5
    graph: LineageGraph = first.graph
    assert graph.impact("dataset:d@1", as_of_seq=first.bound(None)) == []
    assert graph.impact("dataset:d@1", as_of_seq=second.bound(None)) == ["deployment:m/prod"]
    assert isinstance(graph.path("dataset:d@1", "model:m@1"), list)
    assert Edge("model:m@1", "dataset:d@1", "trained_on", 3, "2026-11-01T00:00:00.000000Z") in (
        graph.path("dataset:d@1", "model:m@1") or []
    )


class _CountingCache:
    """A LineageCache stand-in: each snapshot is numbered, and slow."""

    def __init__(self) -> None:
        self.calls = 0

    def snapshot(self) -> object:
        self.calls += 1
        number = self.calls
        time.sleep(0.05)
        return number


def test_concurrent_lineage_requests_share_refreshes_that_began_after_they_arrived() -> None:
    async def scenario() -> tuple[list[object], list[object], int]:
        cache = _CountingCache()
        flight = SnapshotFlight(cache)  # type: ignore[arg-type]
        first = [asyncio.ensure_future(flight.snapshot()) for _ in range(8)]
        await asyncio.sleep(0.02)  # the first refresh is running now
        later = [asyncio.ensure_future(flight.snapshot()) for _ in range(8)]
        return list(await asyncio.gather(*first)), list(await asyncio.gather(*later)), cache.calls

    first, later, calls = asyncio.run(scenario())
    assert first == [1] * 8
    assert later == [2] * 8  # not the refresh that was already running when they came
    assert calls == 2
