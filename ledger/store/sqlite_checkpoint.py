"""The background WAL checkpoint thread of the SQLite store (see ``ledger.store.sqlite``)."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import suppress

__all__ = ["Checkpointer"]


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
        self._thread.join()
