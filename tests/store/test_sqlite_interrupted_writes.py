"""A write interrupted right after its ``BEGIN IMMEDIATE`` took SQLite's write
lock (Ctrl-C while queued behind another writer: the signal is raised when
the statement returns) must give the lock back, or the store's connection
keeps it: every later write of the store fails ("cannot start a transaction
within a transaction") and every other process waits for it until it dies.
Review of e74773c (WriteScope)."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import pytest

from ledger.service import Ledger
from ledger.store import open_store
from ledger.store.protocol import StoredCheckpoint, StoreError
from ledger.store.sqlite import SQLiteStore
from tests.helpers import StepClock, draft


class _Interrupt(BaseException):
    """Stands for KeyboardInterrupt (pytest treats a real one as "stop the run")."""


class _InterruptAfterBegin:
    """A connection whose first BEGIN IMMEDIATE succeeds, then raises: what a
    signal delivered while the BEGIN waited for the write lock does."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.fired = False

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        cursor = self.conn.execute(sql, *args)
        if sql == "BEGIN IMMEDIATE" and not self.fired:
            self.fired = True
            raise _Interrupt
        return cursor


def _via_transaction(store: SQLiteStore) -> None:
    with store.transaction() as tx:
        tx.set_meta("x", "y")


def _via_set_meta(store: SQLiteStore) -> None:
    store.set_meta("x", "y")


def _via_add_checkpoint(store: SQLiteStore) -> None:
    store.add_checkpoint(StoredCheckpoint(0, b"\0" * 32, "note", "2026-11-01T12:00:00Z"))


WRITES: dict[str, Callable[[SQLiteStore], None]] = {
    "transaction": _via_transaction,
    "set_meta": _via_set_meta,
    "add_checkpoint": _via_add_checkpoint,
}


def _assert_writable(store: SQLiteStore, path: Path) -> None:
    assert not store._conn.in_transaction
    # Another process (here: connection) can take the write lock at once.
    other = sqlite3.connect(path, isolation_level=None, timeout=0.5)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
    # The store itself still writes, from another thread too (its lock is free).
    done: list[int] = []
    t = threading.Thread(
        target=lambda: done.append(Ledger(store, project=False).append([draft(1)], "ci")[0].seq)
    )
    t.start()
    t.join(10)
    assert done == [1]
    store.set_meta("after", "ok")
    assert store.get_meta("after") == "ok"


@pytest.mark.parametrize("write", list(WRITES))
def test_an_interrupt_right_after_begin_gives_the_write_lock_back(
    tmp_path: Path, write: str
) -> None:
    path = tmp_path / "l.db"
    store = open_store(path)
    real = store._conn
    store._conn = _InterruptAfterBegin(real)  # type: ignore[assignment]
    try:
        with pytest.raises(_Interrupt):
            WRITES[write](store)
    finally:
        store._conn = real
    assert store.get_meta("x") is None
    _assert_writable(store, path)
    store.close()


def test_a_nested_scope_that_cannot_begin_leaves_the_outer_write_alone(tmp_path: Path) -> None:
    # The fix rolls back only a BEGIN of its own, never the enclosing transaction.
    store = open_store(tmp_path / "l.db")
    with store.transaction() as tx:
        tx.set_meta("outer", "1")
        with pytest.raises(StoreError, match="within a transaction"), store.transaction():
            pass
        with pytest.raises(StoreError, match="within a transaction"):
            store.set_meta("inner", "1")
        assert store._conn.in_transaction
        tx.set_meta("outer2", "1")
    assert (store.get_meta("outer"), store.get_meta("outer2")) == ("1", "1")
    assert store.get_meta("inner") is None
    store.close()


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGUSR1"),
    reason="needs POSIX signals on the main thread",
)
def test_a_signal_while_queued_for_the_write_lock_leaves_the_store_writable(
    tmp_path: Path,
) -> None:
    # The real thing: another writer holds the lock; a signal arrives while
    # this store's BEGIN IMMEDIATE waits in SQLite's busy handler, which does
    # not return early for it: the BEGIN succeeds once the lock is free and
    # the handler's exception is raised as the statement returns.
    path = tmp_path / "l.db"
    store = open_store(path)
    Ledger(store, clock=StepClock(), project=False).append([draft(0)], "ci")
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise _Interrupt

    def later() -> None:
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.3)
        holder.execute("COMMIT")

    previous = signal.signal(signal.SIGUSR1, interrupt)
    try:
        t = threading.Thread(target=later)
        t.start()
        with pytest.raises(_Interrupt), store.transaction() as tx:
            tx.set_meta("x", "y")
        t.join()
    finally:
        signal.signal(signal.SIGUSR1, previous)
        holder.close()
    assert store.get_meta("x") is None
    assert not store._conn.in_transaction
    other = sqlite3.connect(path, isolation_level=None, timeout=0.5)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
    (ack,) = Ledger(store, clock=StepClock(), project=False).append([draft(1)], "ci")
    assert ack.seq == 2
    store.close()
