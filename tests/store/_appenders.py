"""Append workloads run by other processes and threads (importable under "spawn")."""

from __future__ import annotations

import itertools
import random
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from ledger.service import Ledger
from ledger.store import open_store
from tests.helpers import StepClock, draft

__all__ = ["Ack", "Batch", "Run", "WorkerResult", "append_workload", "process_worker", "worker_ids"]

Ack = tuple[int, str, str]
"""(seq, hash, id) of one acknowledged event."""
Batch = list[Ack]


@dataclass(frozen=True)
class Run:
    """One writer's acknowledged batches, and when (time.monotonic) it started and ended."""

    batches: list[Batch]
    started: float
    finished: float


def worker_ids(worker: int) -> Callable[[], str]:
    """Ids no other worker draws: the worker's number in the high bits."""
    counter = itertools.count(1)
    return lambda: str(uuid.UUID(int=((worker + 1) << 64) | next(counter)))


def append_workload(ledger: Ledger, worker: int, appends: int) -> Run:
    """``appends`` appends: about half single events, the rest batches of 2..5.

    Every third batch carries client-chosen ids, the rest get ids from the ledger.
    The plan depends only on ``worker``, so a run is reproducible.
    """
    rng = random.Random(worker)
    client_ids = worker_ids(1000 + worker)
    batches: list[Batch] = []
    started = time.monotonic()
    for number in range(appends):
        size = 1 if rng.random() < 0.5 else rng.randint(2, 5)
        ids = [client_ids() if number % 3 == 0 else None for _ in range(size)]
        drafts = [draft(worker * 10_000 + number * 10 + i, id=ids[i]) for i in range(size)]
        acks = ledger.append(drafts, f"worker-{worker}")
        batches.append([(a.seq, a.hash, a.id) for a in acks])
    return Run(batches, started, time.monotonic())


WorkerResult = tuple[int, Run | None, str | None]
"""(worker, its run, or the traceback if it failed)."""


def process_worker(
    path: str, worker: int, appends: int, start: Barrier, results: Queue[WorkerResult]
) -> None:
    """One process: its own store on the shared file, released by ``start`` with the others."""
    try:
        store = open_store(Path(path))
        ledger = Ledger(store, clock=StepClock(), new_id=worker_ids(worker))
        start.wait(timeout=60)
        try:
            results.put((worker, append_workload(ledger, worker, appends), None))
        finally:
            store.close()
    except BaseException:
        results.put((worker, None, traceback.format_exc()))
        raise
