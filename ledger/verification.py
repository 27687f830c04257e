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
from ledger.events import Event
from ledger.merkle import EMPTY_ROOT, append_leaves, frontier_ids, leaf_hash, root_from_frontier
from ledger.store import EventStore, open_store

__all__ = ["CHUNK", "PARALLEL_THRESHOLD", "verify_ledger"]

CHUNK = 1 << 16
PARALLEL_THRESHOLD = 4 * CHUNK


class _StoredNodes:
    """Streams the stored Merkle nodes level by level, to compare with recomputed ones.

    Nodes complete in index order within a level, so one forward cursor per
    level (paged, a few thousand hashes at a time) checks every stored node in
    constant memory.
    """

    PAGE = 4096

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._pages: dict[int, tuple[list[tuple[int, bytes]], int]] = {}

    def first_mismatch(self, nodes: list[tuple[int, int, bytes]]) -> tuple[int, int] | None:
        """The first (level, idx) whose stored hash is missing or differs, else None."""
        for level, idx, digest in nodes:
            page, pos = self._pages.get(level, ([], 0))
            if pos >= len(page) or page[pos][0] > idx:
                page, pos = self._store.merkle_node_page(level, idx, self.PAGE), 0
            if pos >= len(page) or page[pos] != (idx, digest):
                return level, idx
            self._pages[level] = (page, pos + 1)
        return None


def _node_break(checked: int, level: int, idx: int, head_hash: str) -> ChainReport:
    # The node is complete from the seq of its last leaf on: trees up to the seq
    # before are unaffected, so that last seq is the first bad one.
    first_seq = (idx << level) + 1
    last_seq = first_seq + (1 << level) - 1
    return ChainReport(
        False,
        checked,
        last_seq,
        BreakKind.MERKLE_MISMATCH,
        f"stored Merkle node (level {level}, index {idx}) over seq {first_seq}..{last_seq}"
        " does not match the events (run rebuild)",
        head_hash,
    )


@dataclass(frozen=True, slots=True)
class _ChunkResult:
    start: int
    count: int
    first_prev: str | None
    last_hash: str | None
    broken: ChainReport | None
    frontier: list[bytes]
    checkpoint_frontier: list[bytes] | None


def _verify_chunk(
    store: EventStore, start: int, end: int, checkpoint_size: int, check_nodes: bool
) -> _ChunkResult:
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

    stored = _StoredNodes(store) if check_nodes else None
    offset = start - 1  # a multiple of the chunk size: node (L, i) is global (L, i + offset >> L)
    bad_node: tuple[int, int] | None = None

    def flush() -> None:
        nonlocal frontier, size, pending, bad_node
        step = append_leaves(frontier, size, pending)
        frontier, size, pending = step.frontier, step.size, []
        if stored is not None and bad_node is None and step.nodes:
            bad_node = stored.first_mismatch(
                [(lvl, i + (offset >> lvl), h) for lvl, i, h in step.nodes]
            )

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
    if bad_node is not None:
        broken = _node_break(report.checked, *bad_node, report.head_hash)
        return _ChunkResult(start, report.checked, first_prev, None, broken, [], None)
    if report.checked != end - start + 1:
        missing = start + report.checked
        broken = ChainReport(
            False, report.checked, missing, BreakKind.MISSING_SEQ, f"seq {missing} is missing"
        )
        return _ChunkResult(start, report.checked, first_prev, None, broken, [], None)
    return _ChunkResult(
        start, report.checked, first_prev, report.head_hash, None, frontier, at_checkpoint
    )


def _chain(first: Event, rest: Iterator[Event]) -> Iterator[Event]:
    yield first
    yield from rest


_worker_store: EventStore | None = None


def _worker(task: tuple[str, int, int, int, bool]) -> _ChunkResult:
    global _worker_store
    url, start, end, checkpoint_size, check_nodes = task
    if _worker_store is None:
        _worker_store = open_store(url)
    return _verify_chunk(_worker_store, start, end, checkpoint_size, check_nodes)


def verify_ledger(
    store: EventStore,
    *,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
    min_parallel: int = PARALLEL_THRESHOLD,
    check_nodes: bool = True,
) -> tuple[ChainReport, list[bytes]]:
    """Verify the chain and compute the Merkle frontier; return (report, frontier).

    Checks the latest stored checkpoint too: a ledger shorter than it is
    ``truncated``; a different root at its size is ``merkle_mismatch``. With
    ``check_nodes`` every stored Merkle node is compared with the one
    recomputed from the events, and the node count must be exact, so an
    edited, missing or forged node is ``merkle_mismatch`` at the first seq it covers.
    """
    head = store.head().seq
    checkpoint = store.latest_checkpoint()
    cp_size = checkpoint.size if checkpoint else -1
    if chunk < 1 or chunk & (chunk - 1):
        raise ValueError(f"chunk must be a power of two, got {chunk}")
    tasks = [
        (store.url, s, min(s + chunk - 1, head), cp_size, check_nodes)
        for s in range(1, head + 1, chunk)
    ]
    parallel = workers > 1 and head >= min_parallel and store.url != ":memory:"
    if parallel:
        pool = multiprocessing.get_context("spawn").Pool(workers)
        results: Iterator[_ChunkResult] = pool.imap(_worker, tasks)
    else:
        pool = None
        results = (_verify_chunk(store, s, e, c, n) for _url, s, e, c, n in tasks)
    try:
        report, frontier = _combine(
            results, head, checkpoint, progress, chunk, _StoredNodes(store) if check_nodes else None
        )
    finally:
        if pool is not None:
            pool.terminate()
    if report.ok and check_nodes:
        expected = report.checked - report.checked.bit_count()
        stored_count = store.merkle_node_count()
        if stored_count != expected:
            return ChainReport(
                False,
                report.checked,
                report.checked,
                BreakKind.MERKLE_MISMATCH,
                f"{stored_count} Merkle nodes are stored where {report.checked} events make "
                f"{expected} (run rebuild)",
                report.head_hash,
            ), frontier
    return report, frontier


def _combine(
    results: Iterator[_ChunkResult],
    head: int,
    checkpoint: object,
    progress: Callable[[int], None] | None,
    chunk_size: int,
    stored: _StoredNodes | None,
) -> tuple[ChainReport, list[bytes]]:
    shift = chunk_size.bit_length() - 1  # chunk roots are nodes of this level
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
            if stored is not None and step.nodes:
                node = stored.first_mismatch([(lvl + shift, i, h) for lvl, i, h in step.nodes])
                if node is not None:
                    return _node_break(checked, node[0], node[1], prev), []
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
