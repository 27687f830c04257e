"""Perfect-subtree addressing, incremental appends and roots (RFC 9162 section 2.1.1).

A node is addressed as ``(level, index)``: node ``(L, i)`` is the perfect
subtree of ``2**L`` leaves covering leaf indices ``[i * 2**L, (i + 1) * 2**L)``;
level 0 is a single leaf hash. Perfect nodes never change once their last leaf
is appended, so a store can keep them in an insert-only table and any past
root or proof can be rebuilt from them.

The tree of ``size`` leaves is the concatenation of its *frontier*: one
perfect subtree per set bit of ``size``, largest (leftmost) first. RFC 9162
section 2.1.1 splits ``D[n]`` at the largest power of two ``k < n``; that
left part is always perfect, so unrolling the recursion shows
``MTH(D[n]) = H(f0, H(f1, ... H(f_{m-2}, f_{m-1})))`` over the frontier
``f0 .. f_{m-1}`` -- a fold from the right.

This module is pure index maths and hashing: it reads and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from hashlib import sha256
from itertools import repeat
from typing import TypeAlias

from ledger.merkle.hashing import EMPTY_ROOT, NODE_PREFIX, node_hash

__all__ = [
    "AppendResult",
    "NodeFetcher",
    "NodeId",
    "append_leaves",
    "frontier_ids",
    "root",
    "root_from_frontier",
]

#: ``(level, index)`` of a perfect subtree; see the module docstring.
NodeId: TypeAlias = tuple[int, int]

#: ``get_node(level, index)`` returns the stored hash of that perfect subtree
#: (level 0: the leaf hash). Proof and root code only ever asks for nodes that
#: are complete in the tree size it was given.
NodeFetcher: TypeAlias = Callable[[int, int], bytes]


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What one call to :func:`append_leaves` produced.

    Attributes:
        frontier: hashes of ``frontier_ids(size)``, largest subtree first.
        size: the tree size after the append.
        nodes: ``(level, index, hash)`` of every perfect node of level >= 1
            that became complete in this append, ordered by level then index.
            Each appears exactly once over the life of the tree.
    """

    frontier: list[bytes]
    size: int
    nodes: list[tuple[int, int, bytes]]


def frontier_ids(size: int) -> list[NodeId]:
    """Name the perfect subtrees whose concatenation is leaves ``[0, size)``.

    There is one per set bit of ``size``, largest (leftmost) first, so at most
    ``size.bit_length()`` of them.

    Args:
        size: the tree size, ``>= 0``.

    Returns:
        ``(level, index)`` pairs, left to right; empty for size 0.

    Raises:
        ValueError: ``size`` is negative.
    """
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    # Bit L of size set => a perfect 2**L subtree ends the prefix of size with
    # the bits above L; its index on level L is (size >> L) - 1.
    return [
        (level, (size >> level) - 1)
        for level in range(size.bit_length() - 1, -1, -1)
        if (size >> level) & 1
    ]


def append_leaves(
    frontier: Sequence[bytes], size: int, leaf_hashes: Sequence[bytes]
) -> AppendResult:
    """Append leaf hashes to a tree known only by its frontier.

    Works level by level: on each level the pending nodes (the old frontier
    node of that level, if any, then the nodes just completed below) are
    paired into parents; an odd one out becomes the new frontier node of that
    level. Pairing is aligned because the first pending node of a level always
    has an even index. Once a level completes nothing new, the old frontier
    above it is carried over untouched. So it hashes exactly the nodes that
    become complete, runs in ``O(len(leaf_hashes) + log size)`` and never
    needs history beyond the frontier.

    Args:
        frontier: hashes of ``frontier_ids(size)``, largest first.
        size: the current tree size.
        leaf_hashes: the new leaves' hashes (``leaf_hash`` of each entry), in
            order; not re-checked here, for speed.

    Returns:
        The new frontier and size, and the newly complete nodes to persist.

    Raises:
        ValueError: ``size`` is negative or ``frontier`` has the wrong length.
    """
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    if len(frontier) != size.bit_count():
        raise ValueError(
            f"frontier has {len(frontier)} hashes, want {size.bit_count()} for tree size {size}"
        )
    old = list(frontier)  # popped from the end: smallest level first
    if len(leaf_hashes) == 1:
        # One leaf (a single-event append): it merges with the frontier node of
        # every level whose bit of size is set, lowest first, without the
        # per-level lists below.
        prefix, node, level = NODE_PREFIX, leaf_hashes[0], 0
        merged: list[tuple[int, int, bytes]] = []
        while (size >> level) & 1:
            node = sha256(prefix + old.pop() + node).digest()
            level += 1
            merged.append((level, size >> level, node))
        old.append(node)
        return AppendResult(frontier=old, size=size + 1, nodes=merged)
    kept: list[bytes] = []  # new frontier nodes, smallest level first
    nodes: list[tuple[int, int, bytes]] = []
    prefix = NODE_PREFIX
    completed: Sequence[bytes] = leaf_hashes
    level = 0
    while completed:
        # row[0] is node (level, (size >> level) rounded down to even).
        row = [old.pop(), *completed] if (size >> level) & 1 else completed
        if len(row) & 1:
            kept.append(row[-1])
        # RFC 9162 2.1.1: parent = SHA-256(0x01 || left || right); inlined
        # rather than calling node_hash because this runs once per leaf. An
        # odd one out was kept above, so zip may drop it.
        pairs = zip(row[::2], row[1::2], strict=False)
        completed = [sha256(prefix + a + b).digest() for a, b in pairs]
        level += 1
        if completed:
            start = size >> level  # the parent of row[0]
            nodes.extend(zip(repeat(level), range(start, start + len(completed)), completed))
    kept.reverse()
    return AppendResult(frontier=old + kept, size=size + len(leaf_hashes), nodes=nodes)


def root_from_frontier(frontier: Sequence[bytes]) -> bytes:
    """Compute the tree root from the frontier hashes.

    RFC 9162 section 2.1.1 MTH, unrolled over the frontier: fold from the
    right, ``acc = node_hash(f[i], acc)``.

    Args:
        frontier: hashes of ``frontier_ids(size)``, largest first.

    Returns:
        The 32-byte root; ``EMPTY_ROOT`` for an empty frontier (size 0).
    """
    if not frontier:
        return EMPTY_ROOT
    acc = frontier[-1]
    for h in reversed(frontier[:-1]):
        acc = node_hash(h, acc)
    return acc


def root(size: int, get_node: NodeFetcher) -> bytes:
    """Compute the root of the tree at any size from stored perfect nodes.

    Makes exactly ``size.bit_count()`` calls to ``get_node`` (at most
    ``size.bit_length()``), one per frontier node, so old roots cost
    ``O(log n)`` however big the tree has grown since.

    Args:
        size: the tree size, ``>= 0``.
        get_node: returns the stored hash of perfect node ``(level, index)``.

    Returns:
        The 32-byte root; ``EMPTY_ROOT`` for size 0.

    Raises:
        ValueError: ``size`` is negative.
    """
    return root_from_frontier([get_node(level, index) for level, index in frontier_ids(size)])
