"""Cross-process append notifications on PostgreSQL (LISTEN/NOTIFY).

Every write transaction that appended sends
``pg_notify('ledger:<schema>', <its last seq>)`` in its commit's pipeline
(``PostgresTransaction.announce``; a trigger did it up to migration 7). NOTIFY
is transactional: it is delivered only if the append commits, and deliveries
follow commit order, so a listener on any host learns of every batch appended
through a ``PostgresStore`` (service, CLI, another API server). Rows inserted
by hand in SQL announce nothing; a listener learns of them at its next
reconnection, or from the next append's announcement.

Notifications are only a wake-up call, never the content: one listener
thread per store keeps a connection that LISTENs, and whenever it
(re)connects it reads the head *after* LISTEN is in place, so a notification
lost while disconnected is made up for by that read ("catch-up"). Waiters
then read ``cursor+1 .. head`` from the store themselves.
"""

from __future__ import annotations

import hashlib
import threading

import psycopg
from psycopg import sql

__all__ = ["AppendListener", "channel_for"]

_RECONNECT_S = 1.0
_TICK_S = 0.5
_CHANNEL_MAX = 63
"""A channel name's longest, in bytes (NAMEDATALEN - 1): ``pg_notify`` refuses a longer one,
``LISTEN`` truncates it."""


def channel_for(schema: str) -> str:
    """The NOTIFY channel of the ledger in ``schema`` (channels are per database).

    ``ledger:<schema>``, unless that is longer than a channel may be (a schema
    name over 56 bytes): then ``ledger#`` and a digest of the name, which no
    ``ledger:`` channel can equal.
    """
    channel = f"ledger:{schema}"
    if len(channel.encode()) <= _CHANNEL_MAX:
        return channel
    return f"ledger#{hashlib.sha256(schema.encode()).hexdigest()[:48]}"


class AppendListener:
    """Tracks the highest seq announced for one ledger; threads wait on it.

    Started lazily by the first waiter; ``close`` stops the thread.
    """

    def __init__(self, url: str, schema: str) -> None:
        self._url = url
        self._channel = channel_for(schema)
        self._seen = -1
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wait_beyond(self, seq: int, timeout: float) -> int:
        """Block until a seq above ``seq`` was announced or ``timeout`` passes; return the
        highest seq announced so far (-1 if none yet)."""
        self._start()
        # _seen stays -1 until the first LISTEN is in place and the head read
        # after it, so waiting on it also waits for the listener to be ready.
        with self._changed:
            self._changed.wait_for(lambda: self._seen > seq, timeout)
            return self._seen

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5 * _TICK_S + 1)

    def _start(self) -> None:
        with self._changed:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._run, name=f"ledger-listen {self._channel}", daemon=True
                )
                self._thread.start()

    def _announce(self, seq: int) -> None:
        with self._changed:
            if seq > self._seen:
                self._seen = seq
                self._changed.notify_all()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error:
                # Server restart, network loss: reconnect; the head read after
                # the next LISTEN makes up for anything announced meanwhile.
                self._stop.wait(_RECONNECT_S)

    def _listen(self) -> None:
        with psycopg.connect(self._url, autocommit=True) as conn:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            row = conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()
            self._announce(0 if row is None else int(row[0]))
            while not self._stop.is_set():
                for note in conn.notifies(timeout=_TICK_S):
                    try:
                        self._announce(int(note.payload))
                    except ValueError:  # not ours: someone NOTIFYed our channel by hand
                        continue
