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

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from ledger.events import EventDraft
from ledger.service import Appended, AppendRequest, Ledger

__all__ = ["GroupCommitter"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending:
    drafts: Sequence[EventDraft]
    actor: str
    future: Future[list[Appended]] = field(default_factory=Future)


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
        if self._closed:
            raise RuntimeError("the committer is closed")
        self._ensure_thread()
        pending = _Pending(drafts, actor)
        self._queue.put(pending)
        return pending.future

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
            try:
                outcomes = self._ledger.append_group(
                    [AppendRequest(p.drafts, p.actor) for p in group]
                )
            except BaseException as exc:  # the whole group failed: the store, not a request
                logger.warning("group commit of %d requests failed: %s", len(group), exc)
                for pending in group:
                    pending.future.set_exception(exc)
                continue
            self.commits += 1
            self.requests += len(group)
            for pending, outcome in zip(group, outcomes, strict=True):
                if outcome.error is not None:
                    pending.future.set_exception(outcome.error)
                else:
                    assert outcome.acks is not None
                    pending.future.set_result(outcome.acks)
