"""A dict-backed stand-in for what a store does with ``ledger.merkle``.

It keeps every leaf hash and every node ``append_leaves`` reports, answers
``get_node`` from them, and refuses (with an AssertionError) anything a real
store could not answer: a node reported twice, or a fetch of a node that is
not complete at the tree size a proof was asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from ledger.merkle import AppendResult, NodeId, append_leaves, leaf_hash

__all__ = ["BIG_SIZE", "Fetcher", "StoredTree", "big_tree", "entry"]

#: Size of the shared, build-once tree that proof tests draw sizes from.
BIG_SIZE = 4100


def entry(i: int) -> bytes:
    """The test log's entry at index i: distinct bytes for every index."""
    return f"event {i}".encode()


class Fetcher:
    """A ``get_node`` for one tree size that records every call."""

    def __init__(self, nodes: dict[NodeId, bytes], size: int) -> None:
        self.nodes = nodes
        self.size = size
        self.calls: list[NodeId] = []

    def __call__(self, level: int, index: int) -> bytes:
        self.calls.append((level, index))
        assert (index + 1) << level <= self.size, f"node {(level, index)} not in size {self.size}"
        return self.nodes[(level, index)]


class StoredTree:
    """Leaf hashes at level 0 and reported nodes at level >= 1, as a store keeps them."""

    def __init__(self) -> None:
        self.frontier: list[bytes] = []
        self.size = 0
        self.nodes: dict[NodeId, bytes] = {}

    def append(self, entries: Sequence[bytes]) -> AppendResult:
        """Append entries the way the store's append transaction would."""
        hashes = [leaf_hash(e) for e in entries]
        result = append_leaves(self.frontier, self.size, hashes)
        for i, h in enumerate(hashes):
            self.nodes[(0, self.size + i)] = h
        for level, index, h in result.nodes:
            assert (level, index) not in self.nodes, f"node {(level, index)} reported twice"
            self.nodes[(level, index)] = h
        self.frontier = result.frontier
        self.size = result.size
        return result

    def fetcher(self, size: int) -> Fetcher:
        """A counting ``get_node`` that only answers nodes complete in ``size``."""
        assert size <= self.size
        return Fetcher(self.nodes, size)


@cache
def big_tree() -> StoredTree:
    """One tree of BIG_SIZE leaves, built once; every smaller size is a prefix of it."""
    tree = StoredTree()
    tree.append([entry(i) for i in range(BIG_SIZE)])
    return tree
