"""The demo ledger, loaded once per module, and a runner for the reviewer commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ledger.cli import cli
from tests.api.test_graphql_models import load_demo

Run = Callable[..., Result]
"""``run(*args)``: ``rollout-ledger --db <demo> *args`` in-process."""


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return load_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def run(demo_db: Path) -> Run:
    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--db", str(demo_db), *args])

    return invoke


@pytest.fixture
def run_json(run: Run) -> Callable[..., object]:
    """``run_json(*args)``: the decoded ``--json`` output of a command that must succeed."""

    def invoke(*args: str) -> object:
        result = run(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    return invoke
