"""The CLI and GraphQL answer from the same service reads, so they agree on the demo story."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_graphql_models import DemoApi, demo_api

JsonRun = Callable[..., Any]


@pytest.fixture(scope="module")
def api(demo_db: Path) -> Iterator[DemoApi]:
    with demo_api(demo_db) as made:
        yield made


@pytest.mark.parametrize("as_of", [None, 66])
def test_related_timelines_agree(api: DemoApi, run_json: JsonRun, as_of: int | None) -> None:
    query = """query ($asOf: AsOf) {
      timeline(subjects: ["incident:INC-2291"], related: true, types: ["alert.*", "rollback.*",
               "test.result.recorded"], asOf: $asOf, first: 100) { subjects nodes { seq hash } }
    }"""
    graphql = api.data(query, "auditor", asOf={"seq": as_of} if as_of else None)["timeline"]
    args = ["--as-of", f"seq:{as_of}"] if as_of else []
    cli = run_json(
        "timeline",
        "--subject",
        "incident:INC-2291",
        "--related",
        "--types",
        "alert.*,rollback.*,test.result.recorded",
        *args,
    )
    assert cli["subjects"] == graphql["subjects"]
    assert [(e["seq"], e["hash"]) for e in cli["events"]] == [
        (n["seq"], n["hash"]) for n in graphql["nodes"]
    ]


def test_lineage_agrees(api: DemoApi, run_json: JsonRun) -> None:
    query = """{
      lineage(ref: "model:product-recommender@2.4.0", direction: UPSTREAM, asOf: {seq: 60})
      { nodes { ref } edges { source target relation seq } }
    }"""
    graphql = api.data(query)["lineage"]
    cli = run_json("lineage", "model:product-recommender@2.4.0", "--upstream", "--as-of", "seq:60")
    assert cli["nodes"] == [n["ref"] for n in graphql["nodes"]]
    assert cli["edges"] == graphql["edges"]


@pytest.mark.parametrize("seq", [34, 38, 64, 110])
def test_status_as_of_agrees_with_serving_at(api: DemoApi, run_json: JsonRun, seq: int) -> None:
    query = """query ($seq: Int!) { servingAt(environment: "prod", model: "fraud-detector",
                                               asOf: {seq: $seq}) { version status exposure } }"""
    graphql = api.data(query, "auditor", seq=seq)["servingAt"]
    rows = run_json("status", "fraud-detector", "--as-of", f"seq:{seq}")
    serving = [
        {"version": r["version"], "status": r["status"], "exposure": r["exposure"]}
        for r in rows
        if r["environment"] == "prod" and r["status"] in ("canary", "production")
    ]
    assert serving == graphql
