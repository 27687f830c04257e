"""The committed SDL (schema/schema.graphql) is what the code serves."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ledger.api.graphql import build_schema
from ledger.api.settings import Settings
from ledger.cli import cli

SDL = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"


def test_the_committed_sdl_matches_the_code() -> None:
    assert SDL.read_text(encoding="utf-8") == build_schema().as_str() + "\n", (
        "schema/schema.graphql is stale; run `rollout-ledger schema --out schema/schema.graphql`"
    )


def test_limits_do_not_change_the_sdl() -> None:
    strict = Settings(max_query_depth=2, max_aliases=1, max_fields=5, max_query_tokens=50)
    assert build_schema(strict).as_str() == build_schema().as_str()


def test_the_schema_command_prints_the_sdl(tmp_path: Path) -> None:
    printed = CliRunner().invoke(cli, ["schema"])
    assert printed.exit_code == 0
    assert printed.stdout == SDL.read_text(encoding="utf-8")
    out = tmp_path / "schema.graphql"
    assert CliRunner().invoke(cli, ["schema", "--out", str(out)]).exit_code == 0
    assert out.read_text(encoding="utf-8") == printed.stdout
