"""Frontier addressing and incremental appends, beyond the reference cross-checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    EMPTY_ROOT,
    AppendResult,
    append_leaves,
    frontier_ids,
    leaf_hash,
    root,
    root_from_frontier,
)
from tests.merkle.stored_tree import BIG_SIZE, big_tree, entry


@pytest.mark.parametrize(
    ("size", "ids"),
    [
        (0, []),
        (1, [(0, 0)]),
        (2, [(1, 0)]),
        (5, [(2, 0), (0, 4)]),
        (6, [(2, 0), (1, 2)]),
        (7, [(2, 0), (1, 2), (0, 6)]),
        (8, [(3, 0)]),
        (13, [(3, 0), (2, 2), (0, 12)]),
    ],
)
def test_the_frontier_is_one_perfect_subtree_per_set_bit_largest_first(
    size: int, ids: list[tuple[int, int]]
) -> None:
    assert frontier_ids(size) == ids


@given(st.integers(0, 2**64))
def test_the_frontier_tiles_the_leaves_from_zero_to_size_without_gaps(size: int) -> None:
    ids = frontier_ids(size)
    covered = 0
    for level, index in ids:
        assert index << level == covered
        covered = (index + 1) << level
    assert covered == size
    assert [level for level, _ in ids] == sorted({level for level, _ in ids}, reverse=True)


def test_a_negative_size_has_no_frontier() -> None:
    with pytest.raises(ValueError, match="tree size -1 is negative"):
        frontier_ids(-1)


def test_appending_to_a_frontier_of_the_wrong_length_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="frontier has 1 hashes, want 2 for tree size 3"):
        append_leaves([EMPTY_ROOT], 3, [leaf_hash(b"x")])
    with pytest.raises(ValueError, match="tree size -2 is negative"):
        append_leaves([], -2, [])


def test_appending_nothing_changes_nothing() -> None:
    frontier = [leaf_hash(b"a")]
    assert append_leaves(frontier, 1, []) == AppendResult(frontier, 1, [])
    assert append_leaves([], 0, []) == AppendResult([], 0, [])


def test_appending_the_first_two_leaves_completes_their_parent() -> None:
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    first = append_leaves([], 0, [a])
    assert first == AppendResult([a], 1, [])
    second = append_leaves(first.frontier, first.size, [b])
    parent = root_from_frontier([a, b])
    assert second == AppendResult([parent], 2, [(1, 0, parent)])


@settings(deadline=None)
@given(st.integers(0, BIG_SIZE), st.integers(0, 300))
def test_an_append_needs_nothing_but_the_frontier(size: int, batch: int) -> None:
    tree = big_tree()
    batch = min(batch, BIG_SIZE - size)
    frontier = [tree.nodes[node] for node in frontier_ids(size)]
    result = append_leaves(frontier, size, [leaf_hash(entry(i)) for i in range(size, size + batch)])
    assert result.size == size + batch
    assert result.frontier == [tree.nodes[node] for node in frontier_ids(size + batch)]
    assert all(tree.nodes[(level, index)] == h for level, index, h in result.nodes)
    assert root_from_frontier(result.frontier) == root(size + batch, tree.fetcher(size + batch))
