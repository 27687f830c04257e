"""The fast Merkle code against the naive RFC 9162 transcription in ``reference.py``.

Trees here have up to a few thousand leaves. Every size is a prefix of one
shared tree (``stored_tree.big_tree``), whose fetcher refuses any node that is
not complete at the size a proof or root was asked for.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    EMPTY_ROOT,
    NodeId,
    consistency_proof,
    frontier_ids,
    inclusion_proof,
    leaf_hash,
    root,
    root_from_frontier,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from tests.merkle.reference import ReferenceTree, path, proof
from tests.merkle.stored_tree import BIG_SIZE, StoredTree, big_tree, entry
from tests.merkle.vectors import LEAVES, VECTORS

ENTRIES = [entry(i) for i in range(BIG_SIZE)]
REFERENCE = ReferenceTree(ENTRIES)


@cache
def reference_nodes() -> dict[NodeId, bytes]:
    return REFERENCE.perfect_nodes(BIG_SIZE)


def reference_root(size: int) -> bytes:
    return REFERENCE.mth(0, size)


def complete_in(node: NodeId, size: int) -> bool:
    level, index = node
    return (index + 1) << level <= size


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, BIG_SIZE))
    return draw(st.integers(0, size - 1)), size


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(st.integers(1, BIG_SIZE))
    return draw(st.integers(1, size2)), size2


def test_the_reference_reproduces_the_known_answers() -> None:
    standard = ReferenceTree(LEAVES)
    assert standard.mth(0, 0) == EMPTY_ROOT
    for size in range(1, 9):
        assert standard.mth(0, size).hex() == VECTORS["roots_hex"][str(size)]
    derived: dict[str, Any] = VECTORS["derived_all_proofs"]
    for case in derived["inclusion"]:
        got = path(case["leaf_index"], range(case["tree_size"]), standard.mth_of)
        assert [h.hex() for h in got] == case["proof_hex"]
    for case in derived["consistency"]:
        got = proof(case["size1"], range(case["size2"]), standard.mth_of)
        assert [h.hex() for h in got] == case["proof_hex"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 700), max_size=10))
@example([BIG_SIZE])
@example([1] * 70)
@example([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
@example([1023, 1, 1024, 1, 1])
def test_appending_in_any_batches_reports_each_reference_node_once_when_it_completes(
    batches: list[int],
) -> None:
    tree = StoredTree()  # asserts that no node is reported twice
    for n in batches:
        old_size = tree.size
        result = tree.append(ENTRIES[old_size : old_size + n])
        new_size = result.size
        assert new_size == min(old_size + n, BIG_SIZE)
        assert root_from_frontier(result.frontier) == reference_root(new_size)
        want_frontier = [
            leaf_hash(ENTRIES[i]) if lvl == 0 else reference_nodes()[(lvl, i)]
            for lvl, i in frontier_ids(new_size)
        ]
        assert result.frontier == want_frontier
        want_new = sorted(
            (lvl, i, h)
            for (lvl, i), h in reference_nodes().items()
            if complete_in((lvl, i), new_size) and not complete_in((lvl, i), old_size)
        )
        assert result.nodes == want_new  # ordered by level, then index
        if tree.size == BIG_SIZE:
            break
    stored = {node: h for node, h in tree.nodes.items() if node[0] >= 1}
    assert stored == REFERENCE.perfect_nodes(tree.size)


@settings(deadline=None)
@given(st.integers(0, BIG_SIZE))
@example(0)
@example(1024)
@example(BIG_SIZE)
def test_the_root_at_any_size_from_stored_nodes_equals_the_reference_root(size: int) -> None:
    get_node = big_tree().fetcher(size)
    assert root(size, get_node) == reference_root(size)
    assert len(get_node.calls) == size.bit_count()


@settings(max_examples=1000, deadline=None)
@given(index_and_size())
@example((0, 1))
@example((1023, 1024))
@example((1024, 1025))
@example((0, BIG_SIZE))
@example((BIG_SIZE - 1, BIG_SIZE))
def test_every_inclusion_proof_equals_the_reference_path_and_verifies(
    case: tuple[int, int],
) -> None:
    index, size = case
    built = inclusion_proof(index, size, big_tree().fetcher(size))
    assert built == path(index, range(size), REFERENCE.mth_of)
    leaf = leaf_hash(ENTRIES[index])
    assert root_from_inclusion_proof(leaf, index, size, built) == reference_root(size)
    verify_inclusion(leaf, index, size, built, reference_root(size))


@settings(max_examples=1000, deadline=None)
@given(two_sizes())
@example((1, 1))
@example((1, BIG_SIZE))
@example((1024, 1025))
@example((1025, 2048))
@example((BIG_SIZE - 1, BIG_SIZE))
def test_every_consistency_proof_equals_the_reference_proof_and_verifies(
    case: tuple[int, int],
) -> None:
    size1, size2 = case
    built = consistency_proof(size1, size2, big_tree().fetcher(size2))
    assert built == proof(size1, range(size2), REFERENCE.mth_of)
    verify_consistency(size1, size2, built, reference_root(size1), reference_root(size2))


@settings(deadline=None)
@given(st.integers(0, BIG_SIZE))
def test_consistency_from_the_empty_tree_is_the_empty_proof(size: int) -> None:
    assert consistency_proof(0, size, big_tree().fetcher(size)) == []
    verify_consistency(0, size, [], EMPTY_ROOT, reference_root(size))


def test_every_proof_of_every_tree_up_to_sixty_four_leaves_equals_the_reference() -> None:
    tree = big_tree()
    for size in range(1, 65):
        get_node = tree.fetcher(size)
        for index in range(size):
            assert inclusion_proof(index, size, get_node) == path(
                index, range(size), REFERENCE.mth_of
            ), (index, size)
        for size1 in range(1, size + 1):
            built = consistency_proof(size1, size, get_node)
            assert built == proof(size1, range(size), REFERENCE.mth_of), (size1, size)
            verify_consistency(size1, size, built, reference_root(size1), reference_root(size))
