"""Group commit: concurrent append requests share one durable transaction.

Every request is validated on its own thread first (catalogue, role); then it
joins a queue. One writer thread takes whatever has queued up while the
previous commit was being made durable and appends it as one group
(``Ledger.append_group``): one BEGIN IMMEDIATE, one fsync, one outcome per
request. A request is acknowledged only after the commit that holds it, and a
refused request (conflict, policy) fails alone. Under load the fsync cost is
shared by every request that arrived during the previous one, and the writer
lingers a moment (``linger``, 0.2 ms, while more keep coming, at most ~1 ms)
so that one commit takes a whole burst of them; an idle server (the previous
commit held one request, or ended over 20 ms ago) commits a lone request at
once, with no added wait.

The event loop's requests cost the writer one hand-off per loop iteration,
not one per request: ``submit_async`` only appends to the loop's outbox, and
a callback at the end of the iteration queues the outbox as one item (one
wake-up of the writer thread, one GIL hand-over). The acknowledgements come
back the same way: one ``call_soon_threadsafe`` per commit and loop, which
runs each request's ``on_commit`` (metrics, subscriptions: even for a request
whose caller went away) and resolves its waiter.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from ledger.events import EventDraft
from ledger.service import Appended, AppendRequest, Ledger, Outcome

try:
    import fcntl
except ImportError:  # Windows: no flock; SQLite's own lock serializes the writers
    fcntl = None  # type: ignore[assignment]

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
    on_commit: Callable[[list[Appended]], None] | None = None


_Delivery = tuple[_Pending, object]

DEFAULT_LINGER = 0.0002
"""Seconds the writer waits, under load, for more requests before it commits."""

MAX_LINGER = 0.002
"""The longest linger accepted (a larger one is cut to it): at most ~10 ms per commit."""

_sleep = time.sleep  # the linger (tests replace it)

_LINGER_ROUNDS = 5
"""Most lingers for one group (while each brings more requests): at most ~1 ms."""

_LOAD_WINDOW = 0.02
"""A request within this many seconds of a commit of several requests finds the server
under load (linger); later, or after a lone request, the server is idle (commit at once)."""


class _WriterLock:
    """A lock file beside a SQLite database: one writer of all API processes at a time.

    ``uvicorn --workers N`` runs N committers on one file. SQLite serializes
    their ``BEGIN IMMEDIATE`` with its busy handler, which polls with sleeps
    of up to 100 ms and no queue: under load one process could wait over a
    second while the others commit again and again (p99 of 1.6 s at 32
    connections and 2 workers). ``flock`` makes the waiting writer sleep in
    the kernel and wake the moment the lock is released. Advisory and for
    the API's committers only (the CLI still meets SQLite's own lock); the
    kernel releases it if a process dies.
    """

    def __init__(self, database: str) -> None:
        self.path = database + "-commit-lock"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)

    @classmethod
    def beside(cls, ledger: Ledger) -> _WriterLock | None:
        """The lock of ``ledger``'s SQLite file (None: another store, or no lock file)."""
        from ledger.store.sqlite import SQLiteStore

        store = ledger.store
        if fcntl is None or not isinstance(store, SQLiteStore) or store.path in (":memory:", ""):
            return None
        try:
            return cls(store.file)  # absolute: the same file after a chdir
        except OSError as exc:  # a read-only directory: SQLite's busy handler alone
            logger.warning("no commit lock beside %s: %s", store.path, exc)
            return None

    def __enter__(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)  # blocking; releases the GIL while it waits

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


def _deliver(results: list[_Delivery]) -> None:
    """Resolve a group's asyncio waiters of one loop (runs on that loop)."""
    for pending, result in results:
        failed = isinstance(result, BaseException)
        if not failed and pending.on_commit is not None:
            try:  # committed: counted and announced even if the caller went away
                pending.on_commit(result)  # type: ignore[arg-type]
            except Exception:  # a hook must not cost the other requests their answer
                logger.exception("on_commit hook failed")
        waiter = pending.waiter
        if waiter is None or waiter.done():  # the request went away; its events are committed
            continue
        if failed:
            waiter.set_exception(result)  # type: ignore[arg-type]
        else:
            waiter.set_result(result)  # type: ignore[arg-type]


def _results(outcomes: Sequence[Outcome]) -> list[object]:
    """Each request's acknowledgements (or its error), in the group's order.

    A request retrying an id that an earlier request of the same group
    created (a client's retry landing in its original's commit) is
    acknowledged with the original seq and ``created`` false, as a retry of
    a stored event is: the event was created once, and counted once.
    """
    results: list[object] = []
    created: set[int] = set()
    for outcome in outcomes:
        if outcome.error is not None:
            results.append(outcome.error)
            continue
        acks = outcome.acks or []
        if created and any(a.created and a.seq in created for a in acks):
            acks = [
                Appended(a.seq, a.hash, a.id, False) if a.created and a.seq in created else a
                for a in acks
            ]
        created.update(a.seq for a in acks if a.created)
        results.append(acks)
    return results


class GroupCommitter:
    """The one writer thread of an API process (see the module docstring)."""

    def __init__(
        self, ledger: Ledger, *, max_events: int = 10_000, linger: float = DEFAULT_LINGER
    ) -> None:
        self._ledger = ledger
        self._max_events = max_events
        self._linger = min(max(0.0, linger), MAX_LINGER)
        self._last_group = 0  # requests in the previous commit
        self._last_end = 0.0  # time.monotonic() when it ended
        # Items are lists of requests: one per ``submit``, one per loop iteration
        # of ``submit_async`` (the outbox); None stops the writer.
        self._queue: queue.SimpleQueue[list[_Pending] | None] = queue.SimpleQueue()
        self._outboxes: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
        self._carry: list[_Pending] = []  # taken from the queue, left for the next group
        self._stopping = False  # the writer has read the stop sentinel
        self._lock: _WriterLock | None = None  # the writer thread's, while it runs
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self.commits = 0
        self.requests = 0

    def submit(self, drafts: Sequence[EventDraft], actor: str) -> Future[list[Appended]]:
        """Queue a validated batch; the future resolves after its durable commit."""
        future: Future[list[Appended]] = Future()
        self._put([_Pending(drafts, actor, future=future)])
        return future

    def submit_async(
        self,
        drafts: Sequence[EventDraft],
        actor: str,
        on_commit: Callable[[list[Appended]], None] | None = None,
    ) -> asyncio.Future[list[Appended]]:
        """``submit`` for the event loop: an asyncio future, resolved after the durable commit.

        Cheaper than wrapping ``submit``'s future: no thread-safe future (and
        its condition variable) per request, one hand-off to the writer per
        loop iteration and one wake-up of the loop per commit, for all of the
        loop's requests, not one per request.

        The request is committed even if the future is cancelled (its caller
        went away): ``on_commit`` runs on the loop with the acknowledgements
        once it is durable, whether or not anybody still waits; not on failure.
        """
        if self._closed:
            raise RuntimeError("the committer is closed")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[list[Appended]] = loop.create_future()
        pending = _Pending(drafts, actor, waiter=waiter, loop=loop, on_commit=on_commit)
        outbox = self._outboxes.get(loop)
        if outbox is None:
            # Only this loop's thread touches its outbox; the flush runs once the
            # requests already ready on this loop have had their turn.
            outbox = self._outboxes[loop] = []
            loop.call_soon(self._flush, loop)
        outbox.append(pending)
        return waiter

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand this loop's outbox to the writer as one item (runs on ``loop``)."""
        outbox = self._outboxes.pop(loop, None)
        if not outbox:
            return
        try:
            self._put(outbox)
        except RuntimeError as exc:  # closed meanwhile: nothing of it was committed
            for pending in outbox:
                if pending.waiter is not None and not pending.waiter.done():
                    pending.waiter.set_exception(exc)

    def _put(self, pendings: list[_Pending]) -> None:
        # Under the lock ``close`` takes: nothing is queued behind the stop
        # sentinel, where the writer would never see it (a request left hanging).
        with self._start_lock:
            if self._closed:
                raise RuntimeError("the committer is closed")
            self._ensure_thread()
            self._queue.put(pendings)

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        with self._start_lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join(timeout=30)

    def _ensure_thread(self) -> None:
        """Start the writer thread if it is not running (``_start_lock`` held)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="ledger-group-commit", daemon=True
            )
            self._thread.start()

    def _take(self) -> list[_Pending]:
        """The next group: what is queued, up to ``max_events`` (at least one request).

        Empty only once the stop sentinel has been read and nothing is left.
        """
        items, self._carry = self._carry, []
        if not items:
            if self._stopping:
                return []
            first = self._queue.get()
            if first is None:
                self._stopping = True
                return []
            items = first
            if self._linger > 0 and self._under_load():
                items = self._gather(items)
        group: list[_Pending] = []
        events = 0
        while True:
            for index, pending in enumerate(items):
                if group and events + len(pending.drafts) > self._max_events:
                    self._carry = items[index:]  # the next group starts here
                    return group
                group.append(pending)
                events += len(pending.drafts)
            if self._stopping:
                return group
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return group
            if item is None:
                self._stopping = True
                return group
            items = item

    def _under_load(self) -> bool:
        """Whether the previous commit held several requests and ended just now."""
        return self._last_group > 1 and time.monotonic() - self._last_end < _LOAD_WINDOW

    def _gather(self, items: list[_Pending]) -> list[_Pending]:
        """Linger while requests keep coming, then return them all (with ``items``).

        Under load the requests of one burst (the clients answered by the last
        commit, sending their next) reach the queue over a few iterations of
        the event loop. Committing at the first of them splits the burst into a
        small group now and the rest a commit later; and the writer, busy with
        Python in the same process, takes the GIL from the loop that is still
        reading them. Sleeping a moment (the GIL released) lets the loop read
        the burst undisturbed, then one commit takes it all: fewer commits,
        less contention, lower latency, far less CPU per request. Stops at the
        first linger that brings nothing, or at ``max_events``.
        """
        gathered = list(items)
        events = sum(len(p.drafts) for p in gathered)
        for _ in range(_LINGER_ROUNDS):
            if events >= self._max_events:
                break
            _sleep(self._linger)
            grew = False
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._stopping = True
                    return gathered
                gathered.extend(more)
                events += sum(len(p.drafts) for p in more)
                grew = True
            if not grew:
                break
        return gathered

    def _run(self) -> None:
        self._lock = _WriterLock.beside(self._ledger)
        try:
            self._commit_groups()
        finally:
            if self._lock is not None:
                self._lock.close()
                self._lock = None

    def _commit_groups(self) -> None:
        while True:
            group = self._take()
            if not group:
                if self._stopping:
                    return
                continue
            results: list[object]
            requests = [AppendRequest(p.drafts, p.actor) for p in group]
            try:
                if self._lock is not None:
                    with self._lock:
                        outcomes = self._ledger.append_group(requests)
                else:
                    outcomes = self._ledger.append_group(requests)
            except BaseException as exc:  # the whole group failed: the store, not a request
                logger.warning("group commit of %d requests failed: %s", len(group), exc)
                results = [exc] * len(group)
            else:
                self.commits += 1
                self.requests += len(group)
                results = _results(outcomes)
            self._last_group = len(group)
            self._last_end = time.monotonic()
            self._resolve(group, results)

    @staticmethod
    def _resolve(group: list[_Pending], results: list[object]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Delivery]] = {}
        for pending, result in zip(group, results, strict=True):
            if pending.future is not None:
                if not pending.future.set_running_or_notify_cancel():
                    continue  # cancelled by its caller; the events are committed all the same
                if isinstance(result, BaseException):
                    pending.future.set_exception(result)
                else:
                    pending.future.set_result(result)  # type: ignore[arg-type]
            elif pending.loop is not None:
                by_loop.setdefault(pending.loop, []).append((pending, result))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_deliver, items)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                logger.warning("%d acknowledgements for a closed event loop dropped", len(items))
