"""The SQLite store's write-path shortcuts: the background WAL checkpoint and
the cached ``wal_autocheckpoint`` setting (ledger.store.sqlite, sqlite_rows)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from ledger.service import Ledger
from ledger.store import open_store
from ledger.store import sqlite as sqlite_store
from ledger.store.protocol import StoreError
from ledger.store.sqlite import SQLiteStore
from ledger.store.sqlite_checkpoint import Checkpointer
from ledger.store.sqlite_rows import LARGE_BATCH, WAL_PAGES_DEFAULT, WAL_PAGES_LARGE_BATCH
from tests.helpers import StepClock, draft, id_factory, open_files_under


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ledger-wal-checkpoint"]


def test_large_batches_checkpoint_in_the_background_and_close_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "BACKGROUND_CHECKPOINT_EVENTS", LARGE_BATCH)
    path = tmp_path / "l.db"
    store = open_store(path)
    ledger = Ledger(store, clock=StepClock(), new_id=id_factory(), project=False)
    before = set(_checkpoint_threads())
    n = 0
    for _ in range(4):
        ledger.append([draft(n + k) for k in range(LARGE_BATCH)], "ci")
        n += LARGE_BATCH
    ledger.append([draft(n)], "ci")  # a small commit after: back to the default interval
    mine = [t for t in _checkpoint_threads() if t not in before]
    assert len(mine) == 1
    assert ledger.verify().ok
    store.close()
    mine[0].join(5)
    assert not mine[0].is_alive()
    reopened = open_store(path)
    try:
        assert reopened.head().seq == 4 * LARGE_BATCH + 1
        assert Ledger(reopened).verify().ok
    finally:
        reopened.close()


def test_small_commits_start_no_checkpoint_thread(tmp_path: Path) -> None:
    before = set(_checkpoint_threads())
    store = open_store(tmp_path / "l.db")
    ledger = Ledger(store, clock=StepClock(), new_id=id_factory(), project=False)
    for n in range(20):
        ledger.append([draft(n)], "ci")
    assert [t for t in _checkpoint_threads() if t not in before] == []
    store.close()


def _abandoned_write(store: SQLiteStore) -> None:
    with store.transaction() as tx:
        tx.insert_events([])
        raise StoreError("abandon this write")


def test_the_checkpoint_interval_follows_the_batch_size_across_commits(tmp_path: Path) -> None:
    store = open_store(tmp_path / "l.db")
    ledger = Ledger(store, clock=StepClock(), new_id=id_factory(), project=False)

    def interval() -> int:
        return int(store._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])

    ledger.append([draft(0)], "ci")
    assert interval() == WAL_PAGES_DEFAULT
    ledger.append([draft(1 + k) for k in range(LARGE_BATCH)], "ci")
    assert interval() == WAL_PAGES_LARGE_BATCH
    ledger.append([draft(10_000)], "ci")
    assert interval() == WAL_PAGES_DEFAULT
    # The pragma is not transactional: a rolled-back write leaves it, and the cache, as set.
    with pytest.raises(StoreError):
        _abandoned_write(store)
    assert interval() == WAL_PAGES_DEFAULT
    ledger.append([draft(1 + k) for k in range(20_000, 20_000 + LARGE_BATCH)], "ci")
    assert interval() == WAL_PAGES_LARGE_BATCH
    assert ledger.verify().ok
    store.close()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_close_closes_every_threads_reader_connection(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    store = SQLiteStore(path)
    Ledger(store, clock=StepClock(), new_id=id_factory(), project=False).append([draft(0)], "ci")
    assert store.reader().head().seq == 1
    release = threading.Event()
    seen: list[int] = []

    def pool_thread() -> None:  # a live worker thread that has read once
        seen.append(store.reader().head().seq)
        release.wait(10)

    worker = threading.Thread(target=pool_thread)
    worker.start()
    try:
        while not seen:
            release.wait(0.01)
        store.close()
        assert open_files_under(path) == []
        with pytest.raises(StoreError):
            store.reader().head()  # a closed store reads nothing, on any thread
    finally:
        release.set()
        worker.join()


def test_a_store_dropped_without_close_stops_its_checkpoint_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    monkeypatch.setattr(sqlite_store, "BACKGROUND_CHECKPOINT_EVENTS", LARGE_BATCH)
    before = set(_checkpoint_threads())
    store = open_store(tmp_path / "l.db")
    ledger = Ledger(store, clock=StepClock(), new_id=id_factory(), project=False)
    ledger.append([draft(k) for k in range(LARGE_BATCH)], "ci")
    mine = [t for t in _checkpoint_threads() if t not in before]
    assert len(mine) == 1
    del ledger, store
    gc.collect()
    mine[0].join(5)
    assert not mine[0].is_alive()


class _ClosingConnection:
    """Stands for the checkpoint thread's connection while a garbage collection
    in that thread finalizes the dropped store's pacer (weakref.finalize calls
    ``Checkpointer.close`` in whichever thread collects)."""

    def __init__(self, checkpointer: Checkpointer, real: sqlite3.Connection) -> None:
        self.checkpointer = checkpointer
        self.real = real
        self.errors: list[BaseException] = []

    def execute(self, sql: str) -> sqlite3.Cursor:
        try:
            self.checkpointer.close()
        except BaseException as exc:  # recorded for the test to see
            self.errors.append(exc)
        return self.real.execute(sql)

    def close(self) -> None:
        self.real.close()


def test_a_checkpointer_closed_from_its_own_thread_stops_without_an_error(
    tmp_path: Path,
) -> None:
    store = open_store(tmp_path / "l.db")
    checkpointer = Checkpointer(store.path)
    fake = _ClosingConnection(checkpointer, checkpointer._conn)
    checkpointer._conn = fake  # type: ignore[assignment]
    checkpointer.request()
    checkpointer._thread.join(5)
    assert not checkpointer._thread.is_alive()
    assert fake.errors == []
    checkpointer.close()  # and again from outside: harmless
    store.close()
