"""The background WAL checkpoint thread of the SQLite store (see ``ledger.store.sqlite``)."""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Callable
from contextlib import suppress
from typing import Protocol

__all__ = ["CheckpointPacer", "Checkpointer"]


class _Committed(Protocol):
    large_batch_events: int
    events_inserted: int


class CheckpointPacer:
    """Decides after each commit whether to ask for a background checkpoint,
    and owns the thread, started by the first request.

    Large batches ask every ``large_events`` events. Smaller commits ask every
    ``small_commits`` commits: each adds about 7 WAL frames (five B-trees and
    the Merkle tail), so the WAL would reach the 1,000-page automatic
    checkpoint in ~140 commits and that commit would copy and fsync the
    database file inline; copied in the background first, the next writer
    restarts the WAL instead (docs/benchmarks.md, run E). Commits that insert
    no event do not count. Called under the store's lock.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.large_events = 0
        self.small_commits = 0
        self.checkpointer: Checkpointer | None = None
        self._stop: Callable[[], object] | None = None

    def after_commit(self, tx: _Committed, large_events: int, small_commits: int) -> None:
        if tx.large_batch_events:
            self.large_events += tx.large_batch_events
            if self.large_events < large_events:
                return
        elif tx.events_inserted:
            self.small_commits += 1
            if self.small_commits < small_commits:
                return
        else:
            return
        self.large_events = self.small_commits = 0
        if self.path == ":memory:":
            return
        if self.checkpointer is None:
            try:
                self.checkpointer = Checkpointer(self.path)
            except (sqlite3.Error, RuntimeError):  # RuntimeError: no thread to be had
                # The commit is done and must be acknowledged; the writer's
                # automatic checkpoint does the work.
                return
            # A store dropped without close() must not leave the thread and its
            # connection behind (the thread holds no reference to the pacer).
            self._stop = weakref.finalize(self, self.checkpointer.close)
        self.checkpointer.request()

    def close(self) -> None:
        if self._stop is not None:
            self._stop()
        self.checkpointer = None


class Checkpointer:
    """A thread that runs ``PRAGMA wal_checkpoint(PASSIVE)`` on request.

    PASSIVE never waits for the writer nor blocks it: it copies the frames
    committed so far and returns. Requests that arrive while one runs are
    merged into the next. Best effort: a failed checkpoint leaves the work to
    the writer's automatic checkpoint, as before.
    """

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._wake = threading.Condition()
        self._pending = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="ledger-wal-checkpoint", daemon=True)
        self._thread.start()

    def request(self) -> None:
        with self._wake:
            self._pending = True
            self._wake.notify()

    def _run(self) -> None:
        try:
            while True:
                with self._wake:
                    while not self._pending and not self._closed:
                        self._wake.wait()
                    if self._closed:
                        return
                    self._pending = False
                with suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            self._conn.close()

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        # A finalizer (CheckpointPacer) may run in this very thread, when a
        # garbage collection happens there: it stops after the current step.
        if threading.current_thread() is not self._thread:
            self._thread.join()
