"""Shared fixtures: stores and ledgers on a temporary SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.service import Ledger
from ledger.store import EventStore, open_store
from tests.helpers import StepClock, id_factory


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[EventStore]:
    s = open_store(db_path)
    yield s
    s.close()


@pytest.fixture
def ledger(store: EventStore) -> Ledger:
    return Ledger(store, clock=StepClock(), new_id=id_factory())
