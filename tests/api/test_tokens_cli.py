"""``rollout-ledger token create | list | revoke``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.api import create_app
from ledger.auth import hash_token, looks_like_token
from ledger.catalogue import Catalogue
from ledger.cli import cli
from ledger.service import Ledger
from ledger.store import open_store
from tests.api.conftest import TestClient


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "cli.db")
    result = CliRunner().invoke(cli, ["--db", path, "init"])
    assert result.exit_code == 0, result.output
    return path


def _run(db: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", db, "token", *args])
    return result.exit_code, result.stdout, result.stderr


def test_create_prints_the_token_once_and_stores_only_its_hash(db: str) -> None:
    code, out, err = _run(db, "create", "--name", "ci-fraud", "--role", "pipeline")
    assert code == 0
    token = out.strip()
    assert looks_like_token(token)
    assert "shown only this once" in err
    store = open_store(db)
    try:
        (record,) = store.tokens()
    finally:
        store.close()
    assert (record.name, record.role, record.token_hash) == (
        "ci-fraud",
        "pipeline",
        hash_token(token),
    )
    assert token.encode() not in Path(db).read_bytes()


def test_list_shows_name_role_created_and_revoked_but_never_a_secret(db: str) -> None:
    _, token, _ = _run(db, "create", "--name", "ci", "--role", "pipeline")
    _run(db, "create", "--name", "alice", "--role", "auditor")
    _run(db, "revoke", "ci")
    code, out, _ = _run(db, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "CREATED", "REVOKED"]
    alice, ci = (line.split() for line in lines[1:])
    assert alice[:2] == ["alice", "auditor"]
    assert alice[3] == "-"
    assert ci[:2] == ["ci", "pipeline"]
    assert ci[3].endswith("Z")
    assert token.strip() not in out
    assert hash_token(token.strip()) not in out


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["create", "--name", "x", "--role", "root"], 2, "role: 'root' is not a role"),
        (["create", "--name", "local:me", "--role", "admin"], 2, "name: 'local:me'"),
        (["revoke", "nobody"], 4, "no live token named 'nobody'"),
    ],
)
def test_bad_token_commands_fail_with_one_line(
    db: str, args: list[str], exit_code: int, message: str
) -> None:
    code, _, err = _run(db, *args)
    assert code == exit_code
    assert err.startswith("error: ")
    assert message in err
    assert err.count("\n") == 1


def test_a_name_can_be_used_once(db: str) -> None:
    assert _run(db, "create", "--name", "ci", "--role", "pipeline")[0] == 0
    code, _, err = _run(db, "create", "--name", "ci", "--role", "admin")
    assert code == 3
    assert "already exists" in err


def test_a_cli_token_works_on_the_server_until_revoked(db: str, catalogue: Catalogue) -> None:
    _, out, _ = _run(db, "create", "--name", "alice", "--role", "auditor")
    headers = {"Authorization": f"Bearer {out.strip()}"}
    store = open_store(db)
    try:
        with TestClient(create_app(Ledger(store), catalogue=catalogue)) as client:
            assert client.get("/v1/proof/consistency?first=0", headers=headers).status_code == 200
            assert _run(db, "revoke", "alice")[0] == 0
            assert client.get("/v1/proof/consistency?first=0", headers=headers).status_code == 401
    finally:
        store.close()
