"""A schema version noted in a transaction that does not commit is noted again.

The ledger caches which types' versions are on record so that most appends
skip the meta read; the cache may learn only from a committed transaction.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ledger.catalogue import Catalogue
from ledger.errors import StoreError
from ledger.events import EventDraft
from ledger.schema_files import read_schemas, schema_dir
from ledger.service import Ledger
from ledger.store import open_store
from tests.helpers import StepClock

MODEL = {
    "owner": "fraud-ml",
    "risk_tier": "high",
    "business_process": "card-payment-authorisation",
    "description": "Scores card transactions.",
}


def test_a_failed_commit_leaves_the_version_to_be_noted_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(tmp_path / "l.db")
    ledger = Ledger(
        store, clock=StepClock(), catalogue=Catalogue.from_schemas(read_schemas(schema_dir()))
    )
    real = store.transaction

    def failing():  # type: ignore[no-untyped-def]
        cm = real()
        tx = cm.__enter__()

        def broken(events):  # type: ignore[no-untyped-def]
            raise StoreError("disk full")

        monkeypatch.setattr(tx, "insert_events", broken)
        return _Wrapped(cm, tx)

    monkeypatch.setattr(store, "transaction", failing)
    with pytest.raises(StoreError):
        ledger.append([EventDraft.create("model.registered", "model:a", MODEL)], "ci")
    monkeypatch.setattr(store, "transaction", real)
    assert store.get_meta("schema_versions") in (None, "{}")

    ledger.append([EventDraft.create("model.registered", "model:a", MODEL)], "ci")
    table = orjson.loads(store.get_meta("schema_versions") or "{}")
    assert table["model.registered"] == [[1, 1]]


class _Wrapped:
    def __init__(self, cm, tx) -> None:  # type: ignore[no-untyped-def]
        self._cm, self._tx = cm, tx

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self._tx

    def __exit__(self, *exc):  # type: ignore[no-untyped-def]
        return self._cm.__exit__(*exc)
