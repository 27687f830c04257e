"""Whole-ledger verification, optionally spread over worker processes.

The ledger is cut into chunks of ``CHUNK`` events aligned on a power of two,
so each full chunk is one perfect Merkle subtree (RFC 9162 2.1.1) whose root a
worker can compute alone; the chunk roots are then combined exactly as leaves
are (``append_leaves`` only ever pairs equal-sized perfect subtrees). Each
worker checks the chain inside its chunk from the ``prev_hash`` its first
event claims; the parent checks that claim against the previous chunk's last
hash, in order, so the first break reported is the first break in the ledger.
Memory stays flat: chunks are streamed and only a few hashes come back.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson

from ledger.chain import GENESIS_HASH, BreakKind, ChainReport, ChainVerifier
from ledger.merkle import EMPTY_ROOT, append_leaves, frontier_ids, leaf_hash, root_from_frontier
from ledger.store import EventStore, open_store

__all__ = ["CHUNK", "PARALLEL_THRESHOLD", "verify_ledger"]

CHUNK = 1 << 16
PARALLEL_THRESHOLD = 4 * CHUNK


@dataclass(frozen=True, slots=True)
class _ChunkResult:
    start: int
    count: int
    first_prev: str | None
    last_hash: str | None
    broken: ChainReport | None
    frontier: list[bytes]
    checkpoint_frontier: list[bytes] | None


def _verify_chunk(store: EventStore, start: int, end: int, checkpoint_size: int) -> _ChunkResult:
    events = store.read(start, end)
    first = next(events, None)
    if first is None or first.seq != start:
        # A missing first row is reported as such, before any link is judged.
        broken = ChainReport(False, 0, start, BreakKind.MISSING_SEQ, f"seq {start} is missing")
        return _ChunkResult(start, 0, None, None, broken, [], None)
    try:
        claimed = orjson.loads(first.body).get("prev_hash")
    except (orjson.JSONDecodeError, AttributeError):
        claimed = None
    first_prev = claimed if isinstance(claimed, str) else first.prev_hash
    verifier = ChainVerifier(start, first_prev)
    frontier: list[bytes] = []
    size = 0
    pending: list[bytes] = []
    at_checkpoint: list[bytes] | None = None
    cut = checkpoint_size - start + 1 if start <= checkpoint_size <= end else -1

    def flush() -> None:
        nonlocal frontier, size, pending
        step = append_leaves(frontier, size, pending)
        frontier, size, pending = step.frontier, step.size, []

    for event in _chain(first, events):
        if not verifier.feed(event):
            return _ChunkResult(
                start, verifier.checked, first_prev, None, verifier.report(), [], None
            )
        pending.append(leaf_hash(event.body))
        if size + len(pending) == cut:
            flush()
            at_checkpoint = list(frontier)
        elif len(pending) >= 4096:
            flush()
    flush()
    report = verifier.report()
    if report.checked != end - start + 1:
        missing = start + report.checked
        broken = ChainReport(
            False, report.checked, missing, BreakKind.MISSING_SEQ, f"seq {missing} is missing"
        )
        return _ChunkResult(start, report.checked, first_prev, None, broken, [], None)
    return _ChunkResult(
        start, report.checked, first_prev, report.head_hash, None, frontier, at_checkpoint
    )


def _chain(first: object, rest: Iterator[object]) -> Iterator[object]:
    yield first
    yield from rest


_worker_store: EventStore | None = None


def _worker(task: tuple[str, int, int, int]) -> _ChunkResult:
    global _worker_store
    url, start, end, checkpoint_size = task
    if _worker_store is None:
        _worker_store = open_store(url)
    return _verify_chunk(_worker_store, start, end, checkpoint_size)


def verify_ledger(
    store: EventStore,
    *,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
    min_parallel: int = PARALLEL_THRESHOLD,
) -> tuple[ChainReport, list[bytes]]:
    """Verify the chain and compute the Merkle frontier; return (report, frontier).

    Checks the latest stored checkpoint too: a ledger shorter than it is
    ``truncated``; a different root at its size is ``merkle_mismatch``.
    """
    head = store.head().seq
    checkpoint = store.latest_checkpoint()
    cp_size = checkpoint.size if checkpoint else -1
    if chunk < 1 or chunk & (chunk - 1):
        raise ValueError(f"chunk must be a power of two, got {chunk}")
    tasks = [(store.url, s, min(s + chunk - 1, head), cp_size) for s in range(1, head + 1, chunk)]
    parallel = workers > 1 and head >= min_parallel and store.url != ":memory:"
    if parallel:
        pool = multiprocessing.get_context("spawn").Pool(workers)
        results: Iterator[_ChunkResult] = pool.imap(_worker, tasks)
    else:
        pool = None
        results = (_verify_chunk(store, s, e, c) for _url, s, e, c in tasks)
    try:
        return _combine(results, head, checkpoint, progress, chunk)
    finally:
        if pool is not None:
            pool.terminate()


def _combine(
    results: Iterator[_ChunkResult],
    head: int,
    checkpoint: object,
    progress: Callable[[int], None] | None,
    chunk_size: int,
) -> tuple[ChainReport, list[bytes]]:
    upper: list[bytes] = []  # frontier over full chunks, each one perfect subtree
    chunks = 0
    prev = GENESIS_HASH
    checked = 0
    tail: list[bytes] = []
    cp_root: bytes | None = EMPTY_ROOT if getattr(checkpoint, "size", -1) == 0 else None
    for chunk in results:
        if chunk.first_prev is not None and chunk.first_prev != prev:
            bad = ChainReport(
                False,
                checked,
                chunk.start,
                BreakKind.BROKEN_LINK,
                f"prev_hash does not match the hash of seq {chunk.start - 1}",
                prev,
            )
            return bad, []
        if chunk.broken is not None:
            b = chunk.broken
            return ChainReport(
                False, checked + b.checked, b.first_bad_seq, b.kind, b.reason, b.head_hash
            ), []
        if chunk.checkpoint_frontier is not None:
            cp_root = root_from_frontier([*upper, *chunk.checkpoint_frontier])
        checked += chunk.count
        prev = chunk.last_hash or prev
        if chunk.count == chunk_size:
            step = append_leaves(upper, chunks, chunk.frontier)
            upper, chunks = step.frontier, step.size
        else:
            tail = chunk.frontier
        if progress is not None:
            progress(checked)
    frontier = [*upper, *tail]
    report = ChainReport(True, checked, head_hash=prev)
    size = getattr(checkpoint, "size", None)
    if isinstance(size, int):
        if size > checked:
            return ChainReport(
                False,
                checked,
                checked + 1,
                BreakKind.TRUNCATED,
                f"the ledger holds {checked} events but checkpoint {size} was signed",
                prev,
            ), frontier
        if cp_root != getattr(checkpoint, "root_hash", None):
            return ChainReport(
                False,
                checked,
                size,
                BreakKind.MERKLE_MISMATCH,
                f"the root of the first {size} events differs from the signed checkpoint",
                prev,
            ), frontier
    assert len(frontier) == len(frontier_ids(checked))
    return report, frontier
