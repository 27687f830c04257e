"""One ledger loaded with the demo story, shared by the export tests (they only read it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import ok
from tests.helpers import run as run  # re-exported for the export tests


@dataclass(frozen=True)
class Demo:
    """The demo ledger and the file holding its verifier key."""

    db: Path
    key: Path


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    work = tmp_path_factory.mktemp("exports-demo")
    db = work / "demo.db"
    ok("--db", db, "init")
    ok("--db", db, "demo")
    key = work / "key.txt"
    key.write_text(ok("--db", db, "key", "show").stdout, encoding="utf-8")
    return Demo(db, key)
