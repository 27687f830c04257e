"""Registry as-of for serving statuses: the indexed read gives the plain read's rows.

``status_intervals(..., statuses=SERVING_STATUSES)`` at a time or seq is
answered from an R*Tree on SQLite and partial GiST indexes on PostgreSQL; it
must return exactly the rows of the unindexed read, filtered to those
statuses, at every moment, also after a rebuild and (SQLite) after migrating a
version-2 file.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger.events import EventDraft
from ledger.projections.base import SERVING_STATUSES
from ledger.service import Ledger
from ledger.store import open_store
from ledger.store.protocol import EventStore
from ledger.store.sqlite import SCHEMA_VERSION as SQLITE_SCHEMA_VERSION
from tests.helpers import StepClock, id_factory

pytestmark = pytest.mark.filterwarnings("error")


def _stage(model: str, env: str, version: str, exposure: float, strategy: str) -> EventDraft:
    data = {"version": f"model:{model}@{version}", "exposure_percent": exposure}
    data["strategy"] = strategy
    return EventDraft.create("rollout.stage.changed", f"deployment:{model}/{env}", data)


def _rollback(model: str, env: str, source: str, target: str) -> EventDraft:
    data = {
        "from_version": f"model:{model}@{source}",
        "to_version": f"model:{model}@{target}",
        "reason": "error rate",
        "trigger": "manual",
    }
    return EventDraft.create("rollback.executed", f"deployment:{model}/{env}", data)


def _rollouts() -> list[EventDraft]:
    drafts: list[EventDraft] = []
    for model in ("m1", "m2"):
        for env in ("prod", "staging"):
            for version in ("1", "2", "3"):
                drafts.append(_stage(model, env, version, 0, "shadow"))
                for exposure in (5, 25, 100):
                    drafts.append(_stage(model, env, version, exposure, "canary"))
            drafts.append(_stage(model, env, "4", 10, "canary"))
            drafts.append(_rollback(model, env, "4", "3"))
            drafts.append(_stage(model, env, "5", 50, "blue_green"))
    return drafts


class _Minutes(StepClock):
    """Appends 37 minutes and a fraction of a second apart, so moments fall between stages."""

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=37, microseconds=123_457)
        return self.now


def _load(store: EventStore) -> Ledger:
    start = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    ledger = Ledger(store, clock=_Minutes(start), new_id=id_factory())
    for d in _rollouts():
        ledger.append([d], "ops")
    return ledger


def _shift(time: str, microseconds: int) -> str:
    moment = datetime.fromisoformat(time[:-1] + "+00:00") + timedelta(microseconds=microseconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_every_moment(store: EventStore, ledger: Ledger) -> int:
    checked = 0
    events = list(ledger.events())
    moments = [(e.seq, e.recorded_at) for e in events]
    # just before and between appends, in the ledger's form
    moments += [(e.seq, _shift(e.recorded_at, -1)) for e in events]
    moments += [(e.seq, _shift(e.recorded_at, 1_000_000)) for e in events]
    moments += [(0, "2026-11-01T11:00:00.000000Z"), (10_000, "2027-01-01T00:00:00.000000Z")]
    for seq, time in moments:
        for env in ("prod", "staging", None):
            for wanted in (SERVING_STATUSES, frozenset({"production"})):
                plain = [
                    r
                    for r in store.status_intervals(environment=env, at_time=time)
                    if r[3] in wanted
                ]
                assert store.status_intervals(environment=env, at_time=time, statuses=wanted) == (
                    plain
                )
                by_seq = [
                    r for r in store.status_intervals(environment=env, at_seq=seq) if r[3] in wanted
                ]
                assert store.status_intervals(environment=env, at_seq=seq, statuses=wanted) == (
                    by_seq
                )
                checked += bool(plain) + bool(by_seq)
    return checked


def test_serving_as_of_equals_the_filtered_plain_read(store: EventStore) -> None:
    ledger = _load(store)
    assert _check_every_moment(store, ledger) > 100
    ledger.rebuild_projections()
    assert _check_every_moment(store, ledger) > 100


class _Backwards(StepClock):
    """Every third append an hour earlier than the one before: a server clock stepping back."""

    def __call__(self) -> datetime:
        self.n = getattr(self, "n", 0) + 1
        self.now += timedelta(hours=-1 if self.n % 3 == 0 else 2)
        return self.now


def test_a_clock_stepping_back_neither_fails_appends_nor_changes_answers(
    store: EventStore,
) -> None:
    ledger = Ledger(store, clock=_Backwards(datetime(2026, 11, 1, tzinfo=UTC)), new_id=id_factory())
    for d in _rollouts():
        ledger.append([d], "ops")
    assert _check_every_moment(store, ledger) > 50
    ledger.rebuild_projections()
    assert _check_every_moment(store, ledger) > 50


def test_statuses_filter_without_a_moment(store: EventStore) -> None:
    _load(store)
    every = store.status_intervals(environment="prod")
    replaced = store.status_intervals(environment="prod", statuses=["replaced", "rolled_back"])
    assert replaced == [r for r in every if r[3] in ("replaced", "rolled_back")]
    assert replaced


def test_a_time_in_another_form_gives_the_plain_answer(store: EventStore) -> None:
    ledger = _load(store)
    event = list(ledger.events())[20]
    time = event.recorded_at.replace(".", ",")  # not the ledger's form: no index shortcut
    plain = [r for r in store.status_intervals(at_time=time) if r[3] in SERVING_STATUSES]
    assert store.status_intervals(at_time=time, statuses=SERVING_STATUSES) == plain


def test_a_version_2_sqlite_file_is_migrated_with_its_serving_intervals(db_path: Path) -> None:
    store = open_store(str(db_path))
    ledger = _load(store)
    want = [
        store.status_intervals(at_time=e.recorded_at, statuses=SERVING_STATUSES)
        for e in ledger.events()
    ]
    docs = store.docs_with_prefix("", limit=100_000)  # type: ignore[attr-defined]
    store.close()
    conn = sqlite3.connect(db_path)
    conn.execute("DROP TABLE proj_serving")
    # proj_docs as version 2 made it
    conn.execute(
        "CREATE TABLE proj_docs_v2 (key TEXT PRIMARY KEY, doc BLOB NOT NULL, seq INTEGER NOT NULL)"
        " WITHOUT ROWID"
    )
    conn.execute("INSERT INTO proj_docs_v2 SELECT key, doc, seq FROM proj_docs")
    conn.execute("DROP TABLE proj_docs")
    conn.execute("ALTER TABLE proj_docs_v2 RENAME TO proj_docs")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    store = open_store(str(db_path))
    try:
        got = [
            store.status_intervals(at_time=e.recorded_at, statuses=SERVING_STATUSES)
            for e in ledger.events()
        ]
        assert got == want
        assert any(got)
        assert store.docs_with_prefix("", limit=100_000) == docs  # type: ignore[attr-defined]
        Ledger(store).append([_stage("m1", "prod", "6", 5, "canary")], "ops")
        assert store.status_intervals(at_seq=store.head().seq, statuses=["canary"])
    finally:
        store.close()
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SQLITE_SCHEMA_VERSION
    (ddl,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'proj_docs'").fetchone()
    assert "WITHOUT ROWID" not in ddl
    conn.close()
