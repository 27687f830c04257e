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

import hashlib
import multiprocessing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter

import orjson

from ledger.canonical import fast_floats_only
from ledger.chain import GENESIS_HASH, BreakKind, ChainReport, ChainVerifier
from ledger.events import Event
from ledger.merkle import EMPTY_ROOT, append_leaves, frontier_ids, root_from_frontier
from ledger.store import EventStore, open_store

__all__ = ["CHUNK", "PARALLEL_THRESHOLD", "verify_ledger"]

CHUNK = 1 << 16
PARALLEL_THRESHOLD = 4 * CHUNK


class _StoredNodes:
    """Compares recomputed Merkle nodes with the stored ones, in constant memory.

    Nodes complete in index order within a level, and one call hands over, per
    level, a run of consecutive indices; that run is read back with one range
    query and compared as a whole (a list comparison in C), so no Python work
    is done per node unless a run differs.
    """

    def __init__(self, store: EventStore) -> None:
        self._store = store

    def first_mismatch(self, nodes: list[tuple[int, int, bytes]]) -> tuple[int, int] | None:
        """The first (level, idx) whose stored hash is missing or differs, else None.

        ``nodes`` are ordered by level, then index, consecutive within a level
        (what ``append_leaves`` returns).
        """
        start = 0
        while start < len(nodes):
            level, first = nodes[start][0], nodes[start][1]
            stop = start
            while stop < len(nodes) and nodes[stop][0] == level:
                stop += 1
            mine = [(idx, digest) for _lvl, idx, digest in nodes[start:stop]]
            stored = self._store.merkle_node_page(level, first, stop - start)
            assert mine[-1][0] - first == len(mine) - 1, "a level's run is consecutive"
            if stored != mine:
                for k, pair in enumerate(mine):
                    if k >= len(stored) or stored[k] != pair:
                        return level, pair[0]
            start = stop
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


_Row = tuple[int, str, str, str, str, str, str, str, str, bytes]
# The body fields that must equal the row's columns, in EVENT_COLUMNS order.
_COLUMNS_OF = itemgetter(
    "seq", "id", "type", "subject", "actor", "occurred_at", "recorded_at", "prev_hash"
)


def _rows(store: EventStore, start: int, end: int) -> Iterator[_Row]:
    """The events as tuples in EVENT_COLUMNS order; a store without a tuple reader
    (the protocol only promises ``read``) gets its events unpacked."""
    read_rows = getattr(store, "read_rows", None)
    if read_rows is not None:
        rows: Iterator[_Row] = read_rows(start, end)
        return rows
    return (
        (
            e.seq,
            e.id,
            e.type,
            e.subject,
            e.actor,
            e.occurred_at,
            e.recorded_at,
            e.prev_hash,
            e.hash,
            e.body,
        )
        for e in store.read(start, end)
    )


def _verify_chunk(
    store: EventStore, start: int, end: int, checkpoint_size: int, check_nodes: bool
) -> _ChunkResult:
    rows = _rows(store, start, end)
    first = next(rows, None)
    if first is None or first[0] != start:
        # A missing first row is reported as such, before any link is judged.
        broken = ChainReport(False, 0, start, BreakKind.MISSING_SEQ, f"seq {start} is missing")
        return _ChunkResult(start, 0, None, None, broken, [], None)
    try:
        claimed = orjson.loads(first[9]).get("prev_hash")
    except (orjson.JSONDecodeError, AttributeError):
        claimed = None
    first_prev = claimed if isinstance(claimed, str) else first[7]
    verifier = ChainVerifier(start, first_prev)
    frontier: list[bytes] = []
    size = 0
    at_checkpoint: list[bytes] | None = None
    cut = checkpoint_size - start + 1 if start <= checkpoint_size <= end else -1

    stored = _StoredNodes(store) if check_nodes else None
    offset = start - 1  # a multiple of the chunk size: node (L, i) is global (L, i + offset >> L)
    bad_node: tuple[int, int] | None = None

    def flush(pending: list[bytes]) -> None:
        nonlocal frontier, size, bad_node
        step = append_leaves(frontier, size, pending)
        frontier, size = step.frontier, step.size
        if stored is not None and bad_node is None and step.nodes:
            bad_node = stored.first_mismatch(
                [(lvl, i + (offset >> lvl), h) for lvl, i, h in step.nodes]
            )

    # The hot loop: one tuple per event, C calls only. Each row is accepted
    # here only when it certainly passes every ChainVerifier check: the next
    # seq, the stored hash, exactly the envelope's fields, equal to the
    # columns, linked, and canonical by ledger.canonical.surely_canonical
    # (whose float walk needs only ``data``: the other fields equal text and
    # integer columns). Any other row is handed to ChainVerifier, which judges
    # it exactly and words the break, so this loop only ever speeds up a verdict.
    sha256, loads, dumps, columns_of = hashlib.sha256, orjson.loads, orjson.dumps, _COLUMNS_OF
    sort = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER
    floats_ok = fast_floats_only
    expected, prev, checked = start, first_prev, 0
    block = 4096
    pending: list[bytes] = []
    add = pending.append
    for row in chain((first,), rows):
        body = row[9]
        try:
            parsed = loads(body)
            good = (
                row[0] == expected
                and row[7] == prev
                and len(parsed) == 9
                and "data" in parsed
                and type(parsed["seq"]) is int  # else 2.0 or true would equal the column
                and columns_of(parsed) == row[:8]
                and sha256(body).hexdigest() == row[8]
                and body.isascii()
                and floats_ok(parsed["data"])
                and dumps(parsed, option=sort) == body
            )
        except Exception:  # any oddity at all: the exact check below decides
            good = False
        if not good:
            verifier.expected_seq, verifier.prev_hash, verifier.checked = expected, prev, checked
            if not verifier.feed(Event(*row)):
                return _ChunkResult(
                    start, verifier.checked, first_prev, None, verifier.report(), [], None
                )
        expected += 1
        checked += 1
        prev = row[8]
        add(sha256(b"\x00" + body).digest())  # leaf hash, RFC 9162 2.1.1 (merkle.leaf_hash)
        if size + len(pending) == cut:
            flush(pending)
            pending = []
            add = pending.append
            at_checkpoint = list(frontier)
        elif len(pending) >= block:
            flush(pending)
            pending = []
            add = pending.append
    flush(pending)
    head_hash = prev
    if bad_node is not None:
        broken = _node_break(checked, *bad_node, head_hash)
        return _ChunkResult(start, checked, first_prev, None, broken, [], None)
    if checked != end - start + 1:
        missing = start + checked
        broken = ChainReport(
            False, checked, missing, BreakKind.MISSING_SEQ, f"seq {missing} is missing"
        )
        return _ChunkResult(start, checked, first_prev, None, broken, [], None)
    return _ChunkResult(start, checked, first_prev, head_hash, None, frontier, at_checkpoint)


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
