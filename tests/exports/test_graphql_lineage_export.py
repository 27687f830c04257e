"""GraphQL ``lineageExport``: the CLI's text, through a real GraphQL document."""

from __future__ import annotations

import io
from collections.abc import Iterator

import networkx as nx
import pytest
from prov.model import ProvDocument

from tests.api.test_graphql_models import DemoApi, demo_api
from tests.exports.conftest import Demo, ok

EXPORT = """
query($ref: String!, $format: LineageFormat!, $depth: Int!, $asOf: AsOf) {
  lineageExport(ref: $ref, format: $format, direction: UPSTREAM, depth: $depth, asOf: $asOf)
}
"""


@pytest.fixture(scope="module")
def api(demo: Demo) -> Iterator[DemoApi]:
    with demo_api(demo.db) as made:
        yield made


def test_graphml_is_what_the_cli_writes(api: DemoApi, demo: Demo) -> None:
    ref = "model:fraud-detector@1.4.0"
    text = api.data(EXPORT, ref=ref, format="GRAPHML", depth=2)["lineageExport"]
    cli = ok(
        "--db", demo.db, "lineage-export", ref, "--format", "graphml", "--upstream", "--depth", "2"
    )
    assert text == cli.stdout
    assert "dataset:fraud-features@2026-11-12" in nx.read_graphml(io.StringIO(text))


def test_prov_json_parses_back(api: DemoApi) -> None:
    text = api.data(EXPORT, ref="model:credit-limits", format="PROV_JSON", depth=1)["lineageExport"]
    records = ProvDocument.deserialize(content=text, format="json").get_records()
    assert any(str(r.identifier) == "model:credit-limits@3.2.0" for r in records)


def test_as_of_a_seq_before_the_version_knows_nothing_of_it(api: DemoApi) -> None:
    text = api.data(
        EXPORT, ref="model:fraud-detector@1.4.0", format="MERMAID", depth=1, asOf={"seq": 20}
    )["lineageExport"]
    assert text == 'flowchart LR\n  n0["model:fraud-detector@1.4.0"]\n  class n0 model\n'


def test_a_bad_depth_is_a_bad_request(api: DemoApi) -> None:
    assert api.codes(EXPORT, ref="model:x", format="DOT", depth=99) == ["bad_request"]


def test_anonymous_callers_are_refused(api: DemoApi) -> None:
    assert api.codes(EXPORT, None, ref="model:x", format="DOT", depth=1) == ["unauthorized"]
