"""The verifier's refusals: each one a ProofInvalid whose message quotes the numbers."""

from __future__ import annotations

import pytest

from ledger.errors import ProofInvalid
from ledger.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from tests.merkle.stored_tree import StoredTree
from tests.merkle.vectors import LEAVES


@pytest.fixture
def tree() -> StoredTree:
    tree = StoredTree()
    tree.append(LEAVES)
    return tree


def _root(tree: StoredTree, size: int) -> bytes:
    return root(size, tree.fetcher(size))


def test_an_inclusion_proof_missing_a_hash_is_refused_by_its_size(tree: StoredTree) -> None:
    built = inclusion_proof(0, 8, tree.fetcher(8))
    with pytest.raises(ProofInvalid, match="wrong proof size 2, want 3"):
        verify_inclusion(leaf_hash(LEAVES[0]), 0, 8, built[:2], _root(tree, 8))
    with pytest.raises(ProofInvalid, match="wrong proof size 4, want 3"):
        verify_inclusion(leaf_hash(LEAVES[0]), 0, 8, [*built, built[0]], _root(tree, 8))


@pytest.mark.parametrize(("index", "size"), [(8, 8), (-1, 8), (0, 0)])
def test_an_inclusion_proof_for_a_leaf_outside_the_tree_is_refused(
    tree: StoredTree, index: int, size: int
) -> None:
    with pytest.raises(ProofInvalid, match=f"leaf index {index} is out of range for tree size"):
        verify_inclusion(leaf_hash(b""), index, size, [], EMPTY_ROOT)


def test_hashes_of_the_wrong_length_are_refused_by_name(tree: StoredTree) -> None:
    built = inclusion_proof(5, 8, tree.fetcher(8))
    with pytest.raises(ProofInvalid, match="proof hash 1 is 31 bytes, want 32"):
        verify_inclusion(leaf_hash(LEAVES[5]), 5, 8, [built[0], built[1][:31], built[2]], b"")
    with pytest.raises(ProofInvalid, match="leaf hash is 33 bytes, want 32"):
        verify_inclusion(leaf_hash(LEAVES[5]) + b"!", 5, 8, built, _root(tree, 8))
    with pytest.raises(ProofInvalid, match="first root is 0 bytes, want 32"):
        verify_consistency(1, 8, [], b"", _root(tree, 8))


def test_a_wrong_root_is_refused_with_both_roots_in_the_message(tree: StoredTree) -> None:
    built = inclusion_proof(5, 8, tree.fetcher(8))
    good, bad = _root(tree, 8), _root(tree, 7)
    message = f"leaf index 5 in tree size 8 gives root {good.hex()}, want {bad.hex()}"
    with pytest.raises(ProofInvalid, match=message):
        verify_inclusion(leaf_hash(LEAVES[5]), 5, 8, built, bad)


def test_a_consistency_proof_of_the_wrong_length_is_refused_by_its_size(tree: StoredTree) -> None:
    built = consistency_proof(6, 8, tree.fetcher(8))
    root6, root8 = _root(tree, 6), _root(tree, 8)
    with pytest.raises(ProofInvalid, match="wrong proof size 2, want 3"):
        verify_consistency(6, 8, built[1:], root6, root8)
    with pytest.raises(ProofInvalid, match="wrong proof size 0, want 3"):
        verify_consistency(6, 8, [], root6, root8)


def test_a_consistency_proof_names_the_root_that_does_not_match(tree: StoredTree) -> None:
    built = consistency_proof(6, 8, tree.fetcher(8))
    root6, root7, root8 = _root(tree, 6), _root(tree, 7), _root(tree, 8)
    with pytest.raises(ProofInvalid, match=f"for tree size 6, want {root7.hex()}"):
        verify_consistency(6, 8, built, root7, root8)
    with pytest.raises(ProofInvalid, match=f"for tree size 8, want {root7.hex()}"):
        verify_consistency(6, 8, built, root6, root7)


def test_a_tree_cannot_shrink(tree: StoredTree) -> None:
    with pytest.raises(ProofInvalid, match="tree sizes 8 and 7 are not 0 <= size1 <= size2"):
        verify_consistency(8, 7, [], _root(tree, 8), _root(tree, 7))
    with pytest.raises(ProofInvalid, match="tree sizes -1 and 7 are not"):
        verify_consistency(-1, 7, [], EMPTY_ROOT, _root(tree, 7))


def test_equal_sizes_need_an_empty_proof_and_equal_roots(tree: StoredTree) -> None:
    root5 = _root(tree, 5)
    verify_consistency(5, 5, [], root5, root5)
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(ProofInvalid, match="wrong proof size 1, want 0"):
        verify_consistency(5, 5, [root5], root5, root5)
    with pytest.raises(ProofInvalid, match="roots for the same tree size 5 differ"):
        verify_consistency(5, 5, [], root5, _root(tree, 4))


def test_consistency_from_the_empty_tree_needs_the_empty_root_and_no_proof(
    tree: StoredTree,
) -> None:
    root3 = _root(tree, 3)
    verify_consistency(0, 3, [], EMPTY_ROOT, root3)
    with pytest.raises(ProofInvalid, match=f"root for tree size 0 is {root3.hex()}, want"):
        verify_consistency(0, 3, [], root3, root3)
    with pytest.raises(ProofInvalid, match="wrong proof size 1, want 0"):
        verify_consistency(0, 3, [root3], EMPTY_ROOT, root3)
