"""The README's setup commands run as written and its GraphQL query answers the auditor.

tests/test_docs.py runs every other block of the README (the tour among them).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs_harness import ROOT, console_steps
from tests.docs_harness import run_console as _run

README = (ROOT / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.DOTALL)


def test_readme_gives_exactly_two_setup_commands_and_marks_the_test_command() -> None:
    setup = README.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    assert len(re.findall(r"```sh\n", setup)) == 2
    assert "<!-- test-command -->\n```sh\n" in setup


def test_the_test_command_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "test-command" in ci
    command = README.split("<!-- test-command -->\n```sh\n", 1)[1].split("\n", 1)[0]
    assert "pytest" in command
    assert "pip install" in command


def test_the_main_command_runs_on_a_fresh_directory_and_again(tmp_path: Path) -> None:
    command = _blocks("sh")[0].strip()
    assert command.startswith("python3 -m venv .venv && .venv/bin/pip install -q -e . && ")
    steps = command.split(" && ")[2:]
    assert steps[-1].endswith("serve --anonymous-reads")  # runs until stopped; see tests/api
    rest = " && ".join(steps[:-1]).replace(".venv/bin/", "")
    for _ in range(2):  # a second run must work too: init and demo are idempotent
        result = _run(rest, tmp_path)
        assert result.returncode == 0, result.stderr
        assert re.search(r"ok: \d+ events verified", result.stdout), result.stdout


def test_the_tour_goes_init_append_verify_checkpoint_proof() -> None:
    # tests/test_docs.py runs the transcript (with every other block of the README).
    (transcript,) = _blocks("console")
    commands = [command.split()[3] for command, _ in console_steps(transcript) if "--db" in command]
    assert commands == ["init", "append", "append", "verify", "checkpoint", "proof"]


@pytest.mark.parametrize(
    "doc",
    [
        "pipelines.md",
        "graphql.md",
        "auditors.md",
        "integrations.md",
        "architecture.md",
        "operations.md",
        "errors.md",
        "benchmarks.md",
        "events.md",
    ],
)
def test_every_linked_document_exists(doc: str) -> None:
    assert f"docs/{doc}" in README
    assert (ROOT / "docs" / doc).exists()


def test_the_readme_graphql_query_answers_on_the_demo_data(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from starlette.testclient import TestClient

    from ledger.api import Settings, create_app
    from ledger.cli import cli
    from ledger.service import Ledger
    from ledger.store import open_store

    db = str(tmp_path / "demo.db")
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", db, "init"]).exit_code == 0
    assert runner.invoke(cli, ["--db", db, "demo"]).exit_code == 0
    (query,) = _blocks("graphql")
    app = create_app(Ledger(open_store(db)), Settings(anonymous_reads=True, checkpoint_interval=0))
    with TestClient(app) as client:
        body = client.post("/graphql", json={"query": query}).json()
    assert "errors" not in body, body
    data = body["data"]
    assert {"model": "fraud-detector", "version": "1.4.0", "status": "production",
            "exposure": 100.0} in data["servingAt"]  # fmt: skip
    assert data["modelVersion"]["approvals"]
    assert any(n["kind"] == "dataset" for n in data["modelVersion"]["lineage"]["nodes"])
    assert data["checkpoint"]["treeSize"] > 100
