"""The SQLite store's single-append path (docs/benchmarks.md, run E): the head
read with the id lookup, the class-based write scope, background checkpoints
for small commits and the one-leaf Merkle append."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.merkle import append_leaves, leaf_hashes
from ledger.service import Ledger
from ledger.store import open_store
from ledger.store import sqlite as sqlite_store
from ledger.store.protocol import Head, StoreError
from ledger.store.sqlite import SQLiteStore
from ledger.store.sqlite_rows import SQLiteTransaction, WriteScope
from tests.helpers import StepClock, draft


def _ids(start: int, n: int) -> list[str]:
    return [str(uuid.UUID(int=k, version=4)) for k in range(start, start + n)]


def _fresh_head(store: SQLiteStore) -> Head:
    row = store._conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return Head(row[0], row[1])


@pytest.mark.parametrize("with_ids", [True, False])
def test_two_stores_appending_alternately_make_one_chain(tmp_path: Path, with_ids: bool) -> None:
    # Each append must see the other writer's last event: the head comes from
    # the id lookup (ids given) or its own read (no ids), inside the write lock.
    path = tmp_path / "l.db"
    stores = [open_store(path), open_store(path)]
    ledgers = [Ledger(s, clock=StepClock(), project=False) for s in stores]
    ids = _ids(1, 40)
    for n in range(40):
        d = draft(n, id=ids[n]) if with_ids else draft(n)
        (ack,) = ledgers[n % 2].append([d], "ci")
        assert ack.seq == n + 1
    events = list(stores[0].read())
    assert [e.seq for e in events] == list(range(1, 41))
    assert all(e.prev_hash == p.hash for p, e in itertools.pairwise(events))
    assert ledgers[1].verify().ok
    for s in stores:
        s.close()


def test_a_retry_after_another_writer_still_finds_its_original(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    a_store, b_store = open_store(path), open_store(path)
    a, b = Ledger(a_store, project=False), Ledger(b_store, project=False)
    (first,) = a.append([draft(1, id=_ids(7, 1)[0])], "ci")
    b.append([draft(2, id=_ids(8, 1)[0])], "ci")
    (again,) = a.append([draft(1, id=_ids(7, 1)[0])], "ci")
    assert (again.seq, again.hash, again.created) == (first.seq, first.hash, False)
    (third,) = a.append([draft(3, id=_ids(9, 1)[0])], "ci")
    assert third.seq == 3
    assert a.verify().ok
    a_store.close()
    b_store.close()


def test_the_head_read_with_the_ids_is_the_head_until_the_transaction_inserts(
    tmp_path: Path,
) -> None:
    store = open_store(tmp_path / "l.db")
    ledger = Ledger(store, project=False)
    with store.transaction() as tx:
        assert tx.events_by_id(_ids(1, 2)) == {}
        assert tx.head() == Head(0, "0" * 64)  # the empty ledger
    ids = _ids(100, 1200)
    ledger.append([draft(n, id=ids[n]) for n in range(0, 1200, 2)], "ci")
    with pytest.raises(RuntimeError):
        _look_up_insert_and_roll_back(store, ids)
    assert store.head().seq == 600
    store.close()


def _look_up_insert_and_roll_back(store: SQLiteStore, ids: list[str]) -> None:
    with store.transaction() as tx:
        # More than one chunk of 500 ids; the known ones are spread over all chunks.
        found = tx.events_by_id(ids)
        assert sorted(found) == sorted(ids[0::2])
        assert tx.head() == _fresh_head(store) == Head(600, found[ids[1198]].hash)
        tx.insert_events([replace(found[ids[0]], seq=601, id=ids[1])])
        # After an insert the head read with the ids is stale: it is read again.
        assert tx.head().seq == 601
        raise RuntimeError("roll back")


def test_a_head_read_without_ids_is_not_cached(tmp_path: Path) -> None:
    store = open_store(tmp_path / "l.db")
    Ledger(store, project=False).append([draft(1)], "ci")
    with store.transaction() as tx:
        assert tx.head() == _fresh_head(store)
        assert tx._head is None
    store.close()


def _abandon(store: SQLiteStore, error: BaseException) -> None:
    with store.transaction() as tx:
        tx.insert_events([])
        store._conn.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
        raise error


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (ValueError("mine"), ValueError),
        (KeyboardInterrupt(), KeyboardInterrupt),
        (sqlite3.OperationalError("disk I/O error"), StoreError),
    ],
)
def test_a_failed_body_rolls_back_and_releases_the_lock(
    tmp_path: Path, error: BaseException, raised: type[BaseException]
) -> None:
    store = open_store(tmp_path / "l.db")
    with pytest.raises(raised):
        _abandon(store, error)
    assert not store._conn.in_transaction
    assert store.get_meta("x") is None
    # Another thread can write: the lock was released.
    done: list[int] = []
    t = threading.Thread(
        target=lambda: done.append(Ledger(store, project=False).append([draft(1)], "ci")[0].seq)
    )
    t.start()
    t.join(10)
    assert done == [1]
    store.close()


class _FailingCommit:
    """A connection whose COMMIT fails, to see the scope's error path."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.in_transaction = False

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("disk full")
        cursor = self.conn.execute(sql, *args)
        self.in_transaction = self.conn.in_transaction
        return cursor


def test_a_failed_commit_is_a_store_error_and_nothing_is_kept(tmp_path: Path) -> None:
    store = open_store(tmp_path / "l.db")
    lock = threading.RLock()
    committed: list[SQLiteTransaction] = []
    conn = _FailingCommit(store._conn)
    scope = WriteScope(lock, conn, [], committed.append)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="commit failed: disk full"), scope as _tx:
        store._conn.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
    assert committed == []  # after_commit runs only after a COMMIT
    assert not store._conn.in_transaction
    assert store.get_meta("x") is None
    assert lock.acquire(blocking=False)  # released
    lock.release()
    store.close()


def _checkpoint_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ledger-wal-checkpoint"]


def test_small_commits_checkpoint_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_store, "BACKGROUND_CHECKPOINT_COMMITS", 10)
    path = tmp_path / "l.db"
    before = set(_checkpoint_threads())
    store = open_store(path)
    ledger = Ledger(store, clock=StepClock(), project=False)
    for n in range(9):
        ledger.append([draft(n)], "ci")
    assert [t for t in _checkpoint_threads() if t not in before] == []
    for n in range(9, 60):
        ledger.append([draft(n)], "ci")
    mine = [t for t in _checkpoint_threads() if t not in before]
    assert len(mine) == 1
    # Commits that insert no event (meta, tokens) do not count.
    assert store._pacer.small_commits == 60 % 10
    store.set_meta("k", "v")
    assert store._pacer.small_commits == 60 % 10
    assert ledger.verify().ok
    store.close()
    mine[0].join(5)
    assert not mine[0].is_alive()
    reopened = open_store(path)
    try:
        assert reopened.head().seq == 60
        assert Ledger(reopened, project=False).verify().ok
    finally:
        reopened.close()


def test_one_leaf_at_a_time_builds_the_tree_a_batch_builds() -> None:
    leaves = leaf_hashes(bytes([n % 256, n // 256]) * 3 for n in range(300))
    frontier: list[bytes] = []
    nodes: list[tuple[int, int, bytes]] = []
    for size, leaf in enumerate(leaves):
        result = append_leaves(frontier, size, [leaf])
        frontier = result.frontier
        assert result.size == size + 1
        # The nodes come ordered by level, then index, as for a batch.
        assert result.nodes == sorted(result.nodes)
        nodes += result.nodes
        whole = append_leaves([], 0, leaves[: size + 1])
        assert frontier == whole.frontier
    batch = append_leaves([], 0, leaves)
    assert sorted(nodes) == sorted(batch.nodes)
    assert len(nodes) == len(batch.nodes) == 300 - (300).bit_count()
