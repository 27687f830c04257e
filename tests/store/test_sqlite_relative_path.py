"""A store opened by a relative path keeps using that file after the process
changes directory: the connections it opens later (streaming reads,
per-thread readers, the background checkpoint thread of e74773c) must not
open, or create, a ``ledger.db`` in the new working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.service import Ledger
from ledger.store import open_store
from ledger.store import sqlite as sqlite_store
from tests.helpers import StepClock, draft


def test_a_relative_store_path_survives_a_change_of_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "BACKGROUND_CHECKPOINT_COMMITS", 2)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    store = open_store("ledger.db")
    ledger = Ledger(store, clock=StepClock(), project=False)
    ledger.append([draft(0)], "ci")
    monkeypatch.chdir(second)
    try:
        for n in range(1, 10):  # a few background checkpoints
            ledger.append([draft(n)], "ci")
        assert [e.seq for e in store.read()] == list(range(1, 11))
        assert store.reader().head().seq == 10
        assert ledger.verify().ok
    finally:
        store.close()
    assert list(second.iterdir()) == []
    assert (first / "ledger.db").exists()
