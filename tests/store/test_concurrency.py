"""Concurrent appends, from processes and threads, make one gapless chain.

Each writer appends a reproducible mix of single events and small batches; all
of them are released at once by a barrier. Afterwards the ledger must hold
exactly the sum of their events as seqs 1..N, every acknowledgement must match
what is stored, each batch must sit on consecutive seqs, and the chain and the
whole Merkle tree must verify.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ledger.service import Ledger
from ledger.store import open_store
from tests.helpers import StepClock
from tests.store._appenders import (
    Run,
    WorkerResult,
    append_workload,
    process_worker,
    worker_ids,
)
from tests.store._ledger_checks import assert_whole_ledger

PROCESSES = 4
THREADS = 8
APPENDS_PER_PROCESS = 60
APPENDS_PER_THREAD = 25


def assert_acks_make_one_chain(path: Path, runs: list[Run]) -> None:
    """Every acknowledged (seq, hash, id) is stored; batches are contiguous; no gaps."""
    # The writers were all trying at once: each began before any other finished.
    assert max(r.started for r in runs) < min(r.finished for r in runs), "writers never overlapped"
    acks = [ack for run in runs for batch in run.batches for ack in batch]
    events = assert_whole_ledger(path, expected=len(acks))
    assert sorted(seq for seq, _, _ in acks) == list(range(1, len(acks) + 1))
    assert {(e.seq, e.hash, e.id) for e in events} == set(acks)
    for run in runs:
        for batch in run.batches:
            seqs = [seq for seq, _, _ in batch]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "a batch was interleaved"
        firsts = [batch[0][0] for batch in run.batches]
        assert firsts == sorted(firsts), "a writer saw its own appends out of order"


def test_processes_appending_at_once_make_one_gapless_chain(db_path: Path) -> None:
    open_store(db_path).close()  # create the schema once, before the race
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES)
    results: multiprocessing.Queue[WorkerResult] = ctx.Queue()
    workers = [
        ctx.Process(
            target=process_worker,
            args=(str(db_path), worker, APPENDS_PER_PROCESS, start, results),
        )
        for worker in range(PROCESSES)
    ]
    for process in workers:
        process.start()
    try:
        collected = [results.get(timeout=120) for _ in workers]
    finally:
        for process in workers:
            process.join(timeout=60)
    failures = [trace for _, _, trace in collected if trace]
    assert not failures, failures[0]
    assert [process.exitcode for process in workers] == [0] * PROCESSES
    assert_acks_make_one_chain(db_path, [run for _, run, _ in collected if run])


def test_threads_sharing_one_store_and_ledger_make_one_gapless_chain(db_path: Path) -> None:
    store = open_store(db_path)
    ledger = Ledger(store, clock=StepClock(), new_id=worker_ids(0))
    start = threading.Barrier(THREADS)

    def work(worker: int) -> Run:
        start.wait(timeout=60)
        return append_workload(ledger, worker, APPENDS_PER_THREAD)

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            per_thread = list(pool.map(work, range(THREADS)))
    finally:
        store.close()
    assert_acks_make_one_chain(db_path, per_thread)


def test_threads_each_with_their_own_store_make_one_gapless_chain(db_path: Path) -> None:
    open_store(db_path).close()
    start = threading.Barrier(THREADS)

    def work(worker: int) -> Run:
        store = open_store(db_path)
        try:
            ledger = Ledger(store, clock=StepClock(), new_id=worker_ids(worker))
            start.wait(timeout=60)
            return append_workload(ledger, worker, APPENDS_PER_THREAD)
        finally:
            store.close()

    with ThreadPoolExecutor(THREADS) as pool:
        per_thread = list(pool.map(work, range(THREADS)))
    assert_acks_make_one_chain(db_path, per_thread)
