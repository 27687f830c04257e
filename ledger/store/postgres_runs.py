"""How the PostgreSQL store keeps Merkle nodes: as runs of one level, encoded and read back.

Merkle nodes are stored as runs (migration 8, ``postgres_schema.merkle_runs_ddl``):
one ``merkle_runs`` row holds the hashes of consecutive nodes of one level, so
a node is found by the run starting at or before its index (one backward
probe of the primary key) and cut out of it with ``substring``. Leaves
(level 0) are not stored: they are hashed from the events' bodies.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Sequence
from typing import LiteralString

from ledger.merkle.hashing import leaf_hash
from ledger.store.postgres_schema import RUN_MAX
from ledger.store.postgres_session import Conn
from ledger.store.protocol import NodeId, StoreError

__all__ = [
    "COPY_RUNS_FROM",
    "FRONTIER",
    "INSERT_RUN",
    "copy_nodes",
    "copy_runs",
    "count_nodes",
    "fetch_nodes",
    "node_page",
    "node_runs",
]


def _nodes_of(wanted: LiteralString) -> LiteralString:
    """(level, idx, hash) of every stored node among ``wanted``'s (level, idx) rows."""
    return f"""
    SELECT q.level, q.idx, substring(r.hashes FROM (q.idx - r.first_idx)::int4 * 32 + 1 FOR 32)
    FROM {wanted} CROSS JOIN LATERAL (
        SELECT m.first_idx, m.hashes FROM merkle_runs AS m
        WHERE m.level = q.level AND m.first_idx <= q.idx
        ORDER BY m.first_idx DESC LIMIT 1
    ) AS r
    WHERE q.idx < r.first_idx + length(r.hashes) / 32"""


FRONTIER: LiteralString = f"""
    WITH head AS (SELECT coalesce(max(seq), 0) AS size FROM events),
    frontier AS (
        SELECT level, (size >> level) - 1 AS idx FROM head, generate_series(1, 62) AS level
        WHERE (size >> level) & 1 = 1
    )
    {_nodes_of("frontier AS q")}
    UNION ALL
    SELECT 0, seq - 1, body FROM events, head WHERE seq = size AND size % 2 = 1
"""
"""The head's Merkle frontier (``ledger.merkle.frontier_ids``: one perfect subtree per set
bit of the size; a lone leaf is hashed from its event's body), read in the transaction's
first round trip. A writer whose cached frontier is stale (another process appended
since) then extends the tree without one more round trip under the lock."""
INSERT_RUN: LiteralString = "INSERT INTO merkle_runs (level, first_idx, hashes) VALUES (%s, %s, %b)"
COPY_RUNS_FROM = 64
"""A write of fewer runs (a 1,000-event append makes about a dozen) goes as pipelined
INSERTs with ``COMMIT``, in its round trip; COPY would cost two more."""


def node_runs(nodes: Sequence[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    """``merkle_runs`` rows (level, first_idx, hashes) holding ``nodes`` (level, idx, hash).

    ``append_leaves`` hands over each level's nodes consecutive and in order,
    which costs no Python work per node here; anything else is sorted first.

    Raises:
        StoreError: a node is given twice, or a hash is not 32 bytes long.
    """
    runs: list[tuple[int, int, bytes]] = []
    for level, group in itertools.groupby(nodes, operator.itemgetter(0)):
        items = list(group)
        idxs = list(map(_IDX, items))
        first = idxs[0]
        if idxs != list(range(first, first + len(idxs))):
            runs.extend(_scattered_runs(level, items))
            continue
        hashes = b"".join(map(_HASH, items))
        if len(hashes) != 32 * len(items):
            raise StoreError(f"a Merkle node hash of level {level} is not 32 bytes long")
        step = 32 * RUN_MAX
        runs.extend(
            (level, first + k // 32, hashes[k : k + step]) for k in range(0, len(hashes), step)
        )
    return runs


_IDX = operator.itemgetter(1)
_HASH = operator.itemgetter(2)


def _scattered_runs(
    level: int, items: list[tuple[int, int, bytes]]
) -> list[tuple[int, int, bytes]]:
    """``node_runs`` for one level's nodes that are out of order or not consecutive."""
    items = sorted(items, key=_IDX)
    if any(a[1] == b[1] for a, b in itertools.pairwise(items)):
        raise StoreError(f"Merkle node ({level}, {items[0][1]}…) is given twice")
    runs: list[tuple[int, int, bytes]] = []
    start = 0
    for k in range(1, len(items) + 1):
        if k == len(items) or items[k][1] != items[k - 1][1] + 1:
            runs.extend(node_runs(items[start:k]))
            start = k
    return runs


def copy_runs(conn: Conn, table: LiteralString, runs: Sequence[tuple[int, int, bytes]]) -> None:
    with conn.cursor().copy(
        f"COPY {table} (level, first_idx, hashes) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["int4", "int8", "bytea"])
        for run in runs:
            copy.write_row(run)


def copy_nodes(conn: Conn, table: LiteralString, nodes: Sequence[tuple[int, int, bytes]]) -> None:
    """Store ``nodes`` (level, idx, hash) as runs into ``table`` (a ``merkle_runs_ddl`` table)."""
    runs = node_runs(nodes)
    if len(runs) >= COPY_RUNS_FROM:
        copy_runs(conn, table, runs)
    elif runs:
        conn.cursor().executemany(
            f"INSERT INTO {table} (level, first_idx, hashes) VALUES (%s, %s, %b)", runs
        )


_PAGE: LiteralString = """
    WITH lo AS (
        SELECT coalesce(
            (SELECT r.first_idx FROM (
                SELECT first_idx, hashes FROM merkle_runs
                WHERE level = %(level)s AND first_idx <= %(at)s
                ORDER BY first_idx DESC LIMIT 1
             ) AS r WHERE r.first_idx + length(r.hashes) / 32 > %(at)s),
            (SELECT min(first_idx) FROM merkle_runs WHERE level = %(level)s AND first_idx > %(at)s)
        ) AS first_idx
    )
    SELECT m.first_idx, m.hashes FROM merkle_runs AS m, lo
    WHERE m.level = %(level)s AND m.first_idx >= lo.first_idx
        AND m.first_idx < greatest(lo.first_idx, %(at)s) + %(need)s
    ORDER BY m.first_idx
"""
"""The runs holding a level's nodes from index ``at`` on: from the run holding ``at`` (else
the next one, past a gap) up to ``need`` indices further."""


def node_page(conn: Conn, level: int, start_idx: int, limit: int) -> list[tuple[int, bytes]]:
    """Up to ``limit`` stored nodes (idx, hash) of ``level`` with idx >= ``start_idx``, by idx.

    A node is what ``fetch_nodes`` reads: cut from the run starting last at or
    before its index, if that run reaches it; so a run inserted over another
    (only possible behind the store's back) shadows it here as in proofs, and
    verify compares what proofs use. One query when the level has no gap
    there; each gap costs one more.
    """
    out: list[tuple[int, bytes]] = []
    at = start_idx
    cursor = conn.cursor(binary=True)
    while len(out) < limit:
        need = limit - len(out)
        cursor.execute(_PAGE, {"level": level, "at": at, "need": need})
        rows = cursor.fetchall()
        if not rows:
            break
        upper = max(int(rows[0][0]), at) + need  # the window's end: the next query's start
        for first_idx, raw in rows:
            first, hashes = int(first_idx), bytes(raw)
            while out and out[-1][0] >= max(first, at):
                out.pop()  # shadowed by this later run
            lo, hi = max(at, first) - first, min(len(hashes) // 32, upper - first)
            pieces = [hashes[k : k + 32] for k in range(32 * lo, 32 * hi, 32)]
            out.extend(zip(range(first + lo, first + hi), pieces, strict=True))
        at = upper
    return out[:limit]


def count_nodes(conn: Conn) -> int:
    row = conn.execute("SELECT coalesce(sum(length(hashes) / 32), 0) FROM merkle_runs").fetchone()
    return 0 if row is None else int(row[0])


_NODES: LiteralString = _nodes_of("unnest(%s::int4[], %s::int8[]) AS q(level, idx)")


def fetch_nodes(conn: Conn, ids: Sequence[NodeId]) -> dict[NodeId, bytes]:
    """Perfect-subtree hashes, two queries at most; leaves are hashed from the event bodies."""
    out: dict[NodeId, bytes] = {}
    leaves = [idx + 1 for level, idx in ids if level == 0]
    inner = [(level, idx) for level, idx in ids if level > 0]
    cursor = conn.cursor(binary=True)
    if leaves:
        cursor.execute("SELECT seq, body FROM events WHERE seq = ANY(%s::int8[])", (leaves,))
        for seq, body in cursor:
            out[(0, int(seq) - 1)] = leaf_hash(bytes(body))
    if inner:
        cursor.execute(_NODES, ([level for level, _ in inner], [idx for _, idx in inner]))
        for level, idx, hash_ in cursor:
            out[(int(level), int(idx))] = bytes(hash_)
    return out
