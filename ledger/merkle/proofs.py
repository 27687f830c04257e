"""Which perfect nodes an RFC 9162 proof needs, and how to assemble it.

RFC 9162 defines the inclusion proof PATH (section 2.1.3.1) and the
consistency proof PROOF/SUBPROOF (section 2.1.4.1) recursively over MTH of
arbitrary ranges. Every range they name is either a perfect subtree, which a
store keeps as a node ``(level, index)`` (see ``ledger.merkle.tree``), or the
one *ephemeral* range on the right edge of a tree whose size is not a power
of two. The ephemeral range is exactly the part of the tree's frontier below
the *fork* level, so it is folded from those frontier nodes.

Following the idea of transparency-dev/merkle ``proof.Nodes``, a proof is
first planned as pure index maths (:class:`ProofPlan`: node ids plus the slice
to fold), so a caller can fetch every node in one query, and only then
assembled from the fetched hashes. The resulting bytes are the same as the
RFC recursion, Certificate Transparency and transparency-dev/merkle produce.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.merkle.hashing import node_hash
from ledger.merkle.tree import NodeFetcher, NodeId, frontier_ids

__all__ = [
    "ProofPlan",
    "consistency_node_ids",
    "consistency_proof",
    "inclusion_node_ids",
    "inclusion_proof",
]


@dataclass(frozen=True, slots=True)
class ProofPlan:
    """The perfect nodes a proof is built from, in proof order.

    The proof is the hashes of ``node_ids`` in order, except that the run
    ``node_ids[fold_begin:fold_end]`` (the ephemeral right-edge range, listed
    smallest subtree first) is folded into a single proof entry. When nothing
    needs folding, ``fold_begin == fold_end == 0``.

    Attributes:
        node_ids: ``(level, index)`` of each node to fetch; all distinct.
        fold_begin: start of the run to fold, an index into ``node_ids``.
        fold_end: end (exclusive) of the run to fold.
    """

    node_ids: tuple[NodeId, ...]
    fold_begin: int = 0
    fold_end: int = 0

    def assemble(self, hashes: Sequence[bytes]) -> list[bytes]:
        """Turn the fetched hashes of ``node_ids`` into the proof.

        Args:
            hashes: one hash per entry of ``node_ids``, in the same order.

        Returns:
            The proof, lowest level first, as RFC 9162 section 2.1.3.1 and
            2.1.4.1 order it.

        Raises:
            ValueError: ``hashes`` does not match ``node_ids`` in length.
        """
        if len(hashes) != len(self.node_ids):
            raise ValueError(f"got {len(hashes)} hashes for {len(self.node_ids)} node ids")
        begin, end = self.fold_begin, self.fold_end
        if end - begin < 2:
            return list(hashes)
        # The run is the right edge smallest first: RFC 9162 2.1.1 MTH of a
        # non-perfect range is H(left perfect part, MTH(rest)), a right fold.
        acc = hashes[begin]
        for h in hashes[begin + 1 : end]:
            acc = node_hash(h, acc)
        return [*hashes[:begin], acc, *hashes[end:]]


def _path_plan(level: int, index: int, size: int, *, with_seed: bool) -> ProofPlan:
    """Plan the RFC 9162 PATH from perfect node (level, index) up to the root of ``size``.

    The path climbs through siblings that are all perfect until the *fork*:
    the highest ancestor of the node that is complete in ``size``, i.e. the
    frontier node of ``size`` at ``fork`` level. Above it, the proof entries
    are the rest of the frontier: first the (possibly ephemeral) range right
    of the fork, made of the frontier nodes below the fork level, then each
    frontier node above it, smallest first. With ``with_seed`` the node itself
    comes first (SUBPROOF's "MTH(D[m])" term).

    That is ``fork - level`` siblings plus ``size.bit_count() - 1`` frontier
    nodes (plus the seed), so at most ``2 * size.bit_length() - 2`` ids
    (``- 1`` with the seed), reached when ``size`` is ``2**k - 1``.
    """
    fork = level + (index ^ (size >> level)).bit_length() - 1
    ids: list[NodeId] = [(level, index)] if with_seed else []
    ids.extend((lvl, (index >> (lvl - level)) ^ 1) for lvl in range(level, fork))
    right_to_left = frontier_ids(size)[::-1]
    begin = len(ids)
    ids.extend(node for node in right_to_left if node[0] < fork)
    end = len(ids)
    ids.extend(node for node in right_to_left if node[0] > fork)
    if end - begin < 2:
        begin = end = 0
    return ProofPlan(tuple(ids), begin, end)


def inclusion_node_ids(index: int, size: int) -> ProofPlan:
    """Plan the inclusion proof of leaf ``index`` in the tree of ``size`` leaves.

    Same proof as PATH(index, D[size]) in RFC 9162 section 2.1.3.1. The plan
    has at most ``2 * size.bit_length() - 2`` nodes (38 at about a million
    leaves): the proof has at most ``ceil(log2 size)`` entries, and the folded
    right-edge run adds fewer than ``size.bit_length()`` more.

    Args:
        index: 0-based leaf index (seq - 1), ``0 <= index < size``.
        size: the tree size.

    Returns:
        The nodes to fetch and how to fold them.

    Raises:
        ValueError: ``index`` is negative or not below ``size``.
    """
    if index < 0 or index >= size:
        raise ValueError(f"leaf index {index} is out of range for tree size {size}")
    return _path_plan(0, index, size, with_seed=False)


def consistency_node_ids(size1: int, size2: int) -> ProofPlan:
    """Plan the consistency proof from tree size ``size1`` to ``size2``.

    Same proof as PROOF(size1, D[size2]) in RFC 9162 section 2.1.4.1. The
    recursion ends at the largest perfect subtree ending at ``size1`` (its
    last frontier node); the proof is that node, left out when ``size1`` is a
    power of two because the verifier has it as the old root, then that
    node's PATH up to the root of ``size2``. At most
    ``2 * size2.bit_length() - 1`` nodes.

    The RFC leaves ``size1 == 0`` undefined; we return the empty proof, the
    one ``verify_consistency`` accepts from the empty tree. ``size1 == size2``
    also gives the empty proof.

    Args:
        size1: the older tree size, ``0 <= size1 <= size2``.
        size2: the newer tree size.

    Returns:
        The nodes to fetch and how to fold them.

    Raises:
        ValueError: ``size1`` is negative or larger than ``size2``.
    """
    if size1 < 0 or size1 > size2:
        raise ValueError(f"tree sizes {size1} and {size2} are not 0 <= size1 <= size2")
    if size1 == 0 or size1 == size2:
        return ProofPlan(())
    # RFC 9162 2.1.4.1: SUBPROOF keeps recursing into the right part until
    # m is the whole of a perfect subtree: the one of 2**level leaves ending at size1.
    level = (size1 & -size1).bit_length() - 1
    is_power_of_two = size1 & (size1 - 1) == 0
    return _path_plan(level, (size1 - 1) >> level, size2, with_seed=not is_power_of_two)


def inclusion_proof(index: int, size: int, get_node: NodeFetcher) -> list[bytes]:
    """Build the RFC 9162 section 2.1.3.1 inclusion proof for leaf ``index``.

    Calls ``get_node`` once per id of :func:`inclusion_node_ids`, so at most
    ``2 * size.bit_length() - 2`` times (``O(log n)``), and only for nodes
    complete in ``size``.

    Args:
        index: 0-based leaf index, ``0 <= index < size``.
        size: the tree size the proof is for.
        get_node: returns the stored hash of perfect node ``(level, index)``.

    Returns:
        The audit path, lowest level first.

    Raises:
        ValueError: ``index`` is out of range for ``size``.
    """
    plan = inclusion_node_ids(index, size)
    return plan.assemble([get_node(lvl, idx) for lvl, idx in plan.node_ids])


def consistency_proof(size1: int, size2: int, get_node: NodeFetcher) -> list[bytes]:
    """Build the RFC 9162 section 2.1.4.1 consistency proof from ``size1`` to ``size2``.

    Calls ``get_node`` once per id of :func:`consistency_node_ids`, so at most
    ``2 * size2.bit_length() - 1`` times (``O(log n)``), and only for nodes
    complete in ``size2``.

    Args:
        size1: the older tree size, ``0 <= size1 <= size2``.
        size2: the newer tree size.
        get_node: returns the stored hash of perfect node ``(level, index)``.

    Returns:
        The proof, lowest level first; empty when ``size1`` is 0 or ``size2``.

    Raises:
        ValueError: the sizes are not ``0 <= size1 <= size2``.
    """
    plan = consistency_node_ids(size1, size2)
    return plan.assemble([get_node(lvl, idx) for lvl, idx in plan.node_ids])
