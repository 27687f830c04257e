"""``append_leaves`` gives the same tree however the leaves are split into
appends, in particular into one-leaf appends (the single-event shortcut of
e74773c), checked against one batch append and RFC 9162's MTH transcribed
in tests/merkle/reference.py."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import append_leaves, leaf_hash, root_from_frontier
from tests.merkle.reference import ReferenceTree


@st.composite
def _splits(draw: st.DrawFn) -> tuple[int, list[int]]:
    """A tree size n and a split of n leaves into appends, mostly of one leaf."""
    n = draw(st.integers(0, 700))
    sizes: list[int] = []
    left = n
    while left:
        size = draw(st.one_of(st.just(1), st.just(1), st.integers(1, min(left, 70))))
        size = min(size, left)
        sizes.append(size)
        left -= size
    return n, sizes


@settings(deadline=None, max_examples=150)
@given(_splits(), st.integers(0, 2**32))
def test_any_split_into_appends_builds_the_batch_tree_and_the_rfc_root(
    split: tuple[int, list[int]], salt: int
) -> None:
    n, sizes = split
    entries = [salt.to_bytes(5, "big") + k.to_bytes(3, "big") for k in range(n)]
    leaves = [leaf_hash(e) for e in entries]
    reference = ReferenceTree(entries)
    frontier: list[bytes] = []
    nodes: list[tuple[int, int, bytes]] = []
    size = 0
    for step in sizes:
        result = append_leaves(frontier, size, leaves[size : size + step])
        assert result.size == size + step
        # Ordered by level then index, and each one the RFC's MTH of its leaves.
        assert result.nodes == sorted(result.nodes)
        for level, index, h in result.nodes:
            assert h == reference.mth(index << level, (index + 1) << level)
        frontier, size = result.frontier, result.size
        nodes += result.nodes
        assert root_from_frontier(frontier) == reference.mth(0, size)
    batch = append_leaves([], 0, leaves)
    assert frontier == batch.frontier
    assert sorted(nodes) == batch.nodes  # each node made exactly once, as by the batch
    assert sorted(nodes) == sorted(
        (level, index, h) for (level, index), h in reference.perfect_nodes(n).items()
    )
    assert root_from_frontier(batch.frontier) == reference.mth(0, n)


@settings(deadline=None, max_examples=300)
@given(st.integers(0, 2**40), st.binary(min_size=32, max_size=32))
def test_one_leaf_on_any_frontier_matches_the_general_path(size: int, seed: bytes) -> None:
    # The shortcut against the general (per-level) path on the same input, for
    # sizes far beyond what a real tree in a test reaches; the two-leaf append
    # goes through the general path and its first half is the one-leaf append.
    frontier = [leaf_hash(seed + bytes([k])) for k in range(size.bit_count())]
    a, b = leaf_hash(seed + b"a"), leaf_hash(seed + b"b")
    one = append_leaves(frontier, size, [a])
    two = append_leaves(one.frontier, one.size, [b])
    both = append_leaves(frontier, size, [a, b])
    assert two.frontier == both.frontier
    assert sorted(one.nodes + two.nodes) == both.nodes
    assert frontier == [leaf_hash(seed + bytes([k])) for k in range(size.bit_count())]  # unchanged
