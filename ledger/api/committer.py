"""Group commit: concurrent append requests share one durable transaction.

Every request is validated on its own thread first (catalogue, role); then it
joins a queue. One writer thread takes whatever has queued up while the
previous commit was being made durable and appends it as one group
(``Ledger.append_group``): one BEGIN IMMEDIATE, one fsync, one outcome per
request. A request is acknowledged only after the commit that holds it, and a
refused request (conflict, policy) fails alone. Under load the fsync cost is
shared by every request that arrived during the previous one; an idle server
commits a lone request at once, with no added wait.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from ledger.events import EventDraft
from ledger.service import Appended, AppendRequest, Ledger

__all__ = ["GroupCommitter"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending:
    drafts: Sequence[EventDraft]
    actor: str
    # Exactly one of: a concurrent future (``submit``), or an asyncio future and its loop.
    future: Future[list[Appended]] | None = None
    waiter: asyncio.Future[list[Appended]] | None = None
    loop: asyncio.AbstractEventLoop | None = None


def _deliver(results: list[tuple[asyncio.Future[list[Appended]], object]]) -> None:
    """Resolve a group's asyncio waiters of one loop (runs on that loop)."""
    for waiter, result in results:
        if waiter.done():  # the request went away meanwhile; its events are committed
            continue
        if isinstance(result, BaseException):
            waiter.set_exception(result)
        else:
            waiter.set_result(result)  # type: ignore[arg-type]


class GroupCommitter:
    """The one writer thread of an API process (see the module docstring)."""

    def __init__(self, ledger: Ledger, *, max_events: int = 10_000) -> None:
        self._ledger = ledger
        self._max_events = max_events
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self.commits = 0
        self.requests = 0

    def submit(self, drafts: Sequence[EventDraft], actor: str) -> Future[list[Appended]]:
        """Queue a validated batch; the future resolves after its durable commit."""
        future: Future[list[Appended]] = Future()
        self._put(_Pending(drafts, actor, future=future))
        return future

    def submit_async(
        self, drafts: Sequence[EventDraft], actor: str
    ) -> asyncio.Future[list[Appended]]:
        """``submit`` for the event loop: an asyncio future, resolved after the durable commit.

        Cheaper than wrapping ``submit``'s future: no thread-safe future (and
        its condition variable) per request, and one wake-up of the loop per
        commit for all of the loop's requests in it, not one per request.
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[list[Appended]] = loop.create_future()
        self._put(_Pending(drafts, actor, waiter=waiter, loop=loop))
        return waiter

    def _put(self, pending: _Pending) -> None:
        if self._closed:
            raise RuntimeError("the committer is closed")
        self._ensure_thread()
        self._queue.put(pending)

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        self._closed = True
        thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="ledger-group-commit", daemon=True
                )
                self._thread.start()

    def _take(self) -> tuple[list[_Pending], bool]:
        first = self._queue.get()
        if first is None:
            return [], True
        group, events, stop = [first], len(first.drafts), False
        while events < self._max_events:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                stop = True
                break
            group.append(item)
            events += len(item.drafts)
        return group, stop

    def _run(self) -> None:
        stop = False
        while not stop:
            group, stop = self._take()
            if not group:
                continue
            results: list[object]
            try:
                outcomes = self._ledger.append_group(
                    [AppendRequest(p.drafts, p.actor) for p in group]
                )
            except BaseException as exc:  # the whole group failed: the store, not a request
                logger.warning("group commit of %d requests failed: %s", len(group), exc)
                results = [exc] * len(group)
            else:
                self.commits += 1
                self.requests += len(group)
                results = [
                    outcome.error if outcome.error is not None else outcome.acks
                    for outcome in outcomes
                ]
            self._resolve(group, results)

    @staticmethod
    def _resolve(group: list[_Pending], results: list[object]) -> None:
        by_loop: dict[
            asyncio.AbstractEventLoop, list[tuple[asyncio.Future[list[Appended]], object]]
        ]
        by_loop = {}
        for pending, result in zip(group, results, strict=True):
            if pending.future is not None:
                if not pending.future.set_running_or_notify_cancel():
                    continue  # cancelled by its caller; the events are committed all the same
                if isinstance(result, BaseException):
                    pending.future.set_exception(result)
                else:
                    pending.future.set_result(result)  # type: ignore[arg-type]
            elif pending.waiter is not None and pending.loop is not None:
                by_loop.setdefault(pending.loop, []).append((pending.waiter, result))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_deliver, items)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                logger.warning("%d acknowledgements for a closed event loop dropped", len(items))
