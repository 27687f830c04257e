"""Live events for subscribers: each new event once, in seq order, with no gaps.

One watcher per process learns that the head moved and wakes the
subscribers; it never carries content. Over a store with
``wait_for_append(after_seq, timeout)`` (PostgreSQL: LISTEN/NOTIFY, so
appends through any API server on any host arrive at once) it blocks in a
worker thread on that call; every call returns the head read from the
store, so even a lost notification is made up for by the next return (at
most ``LISTEN_TIMEOUT`` seconds later). Over other stores (SQLite) it polls
the head every ``poll_interval`` seconds (so events appended by other
workers or by the CLI arrive too) and is woken at once by appends made in
this process.

Subscribers never trust the watcher for content: each keeps its own cursor
(the last seq it delivered) and reads ``cursor+1 .. head`` from the store.
Appends are serialized and a seq is visible only once its whole transaction
committed, so that range has no holes, and a reader that resumes from any
seq continues exactly where it left off.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from starlette.concurrency import run_in_threadpool

from ledger.events import Event
from ledger.store.protocol import EventStore

__all__ = ["EventFeed"]

_READ_BATCH = 500

LISTEN_TIMEOUT = 1.0
"""Longest single ``wait_for_append`` call: the backstop re-read of the head, and how
long a watcher may outlive its last subscriber."""


class EventFeed:
    """Tails the store for subscribers; safe to share across one event loop."""

    def __init__(self, store: EventStore, poll_interval: float) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self._head = -1
        self._subscribers = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Condition | None = None
        self._wake: asyncio.Event | None = None
        self._poller: asyncio.Task[None] | None = None

    def _bind(self) -> tuple[asyncio.Condition, asyncio.Event]:
        # asyncio primitives belong to one loop; a test client may run the
        # app on several loops in turn, so rebind when the loop changes.
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._changed is None or self._wake is None:
            self._loop = loop
            self._changed = asyncio.Condition()
            self._wake = asyncio.Event()
            self._poller = None
        return self._changed, self._wake

    def notify(self) -> None:
        """Tell the poller this process just appended (call from the event loop)."""
        if self._wake is not None and self._loop is asyncio.get_running_loop():
            self._wake.set()

    async def _head_seq(self) -> int:
        head = await run_in_threadpool(self.store.head)
        return head.seq

    async def _poll(self) -> None:
        changed, wake = self._bind()
        listen: Callable[[int, float], int] | None = getattr(self.store, "wait_for_append", None)
        while self._subscribers > 0:
            try:
                if listen is not None:
                    # Blocks a worker thread until the store announces an event
                    # beyond our head (or the timeout); returns the stored head.
                    seq = await run_in_threadpool(listen, max(self._head, 0), LISTEN_TIMEOUT)
                else:
                    seq = await self._head_seq()
            except Exception:  # a store hiccup must not end every subscription
                seq = self._head
                if listen is not None:  # (the polling path waits below anyway)
                    await asyncio.sleep(LISTEN_TIMEOUT)
            if seq != self._head:
                self._head = seq
                async with changed:
                    changed.notify_all()
            if listen is None:
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.poll_interval)

    async def _wait_beyond(self, seq: int) -> None:
        changed, _ = self._bind()
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll())
        # The timeout is a backstop only: the caller re-reads the head itself.
        with contextlib.suppress(TimeoutError):
            async with changed:
                await asyncio.wait_for(
                    changed.wait_for(lambda: self._head > seq), max(1.0, 5 * self.poll_interval)
                )

    async def events(
        self, after_seq: int | None, accept: Callable[[Event], bool]
    ) -> AsyncIterator[Event]:
        """Yield every event after ``after_seq`` (default: the current head) that ``accept``s.

        Runs until the consumer stops iterating (the subscription ends).
        """
        cursor = await self._head_seq() if after_seq is None else max(after_seq, 0)
        head = cursor
        self._subscribers += 1
        try:
            while True:
                if cursor >= head:
                    head = await self._head_seq()
                if cursor >= head:
                    self._head = max(self._head, head)
                    await self._wait_beyond(cursor)
                    continue
                batch = await run_in_threadpool(_read, self.store, cursor + 1, head)
                progressed = False
                for event in batch:
                    if event.seq != cursor + 1:
                        break  # never skip a seq: re-read from the cursor
                    cursor, progressed = event.seq, True
                    if accept(event):
                        yield event
                if not progressed:
                    # Only a damaged store has a hole below its head; wait, never skip it.
                    await asyncio.sleep(self.poll_interval)
                    head = cursor
        finally:
            self._subscribers -= 1


def _read(store: EventStore, start: int, head: int) -> list[Event]:
    return list(store.read(start, min(head, start + _READ_BATCH - 1)))
