"""Known-answer tests: RFC 6962 vectors from transparency-dev/merkle and C2SP CCTV."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.errors import ProofInvalid
from ledger.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root,
    root_from_frontier,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from tests.merkle.stored_tree import StoredTree
from tests.merkle.vectors import CCTV, CCTV_LEAVES, LEAVES, VECTORS


def _hexes(values: list[bytes]) -> list[str]:
    return [v.hex() for v in values]


def _tree(leaves: list[bytes]) -> StoredTree:
    tree = StoredTree()
    tree.append(leaves)
    return tree


def test_the_empty_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == VECTORS["empty_root_hex"]
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_from_frontier([]) == EMPTY_ROOT
    assert root(0, StoredTree().fetcher(0)) == EMPTY_ROOT


def test_the_empty_leaf_hashes_to_the_known_answer() -> None:
    assert (
        leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


def test_the_eight_standard_leaves_hash_to_the_known_answers() -> None:
    assert _hexes([leaf_hash(d) for d in LEAVES]) == VECTORS["leaf_hashes_hex"]


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_of_the_standard_tree_match_for_sizes_one_to_eight(size: int) -> None:
    appended_one_by_one = StoredTree()
    for d in LEAVES[:size]:
        appended_one_by_one.append([d])
    whole = _tree(LEAVES)
    want = VECTORS["roots_hex"][str(size)]
    assert root_from_frontier(appended_one_by_one.frontier).hex() == want
    assert root_from_frontier(_tree(LEAVES[:size]).frontier).hex() == want
    assert root(size, whole.fetcher(size)).hex() == want


@pytest.mark.parametrize(
    "case", VECTORS["inclusion"], ids=lambda c: f"{c['leaf_index']}-of-{c['tree_size']}"
)
def test_inclusion_proofs_match_and_verify_upstream_vectors(case: dict[str, Any]) -> None:
    index, size = case["leaf_index"], case["tree_size"]
    tree = _tree(LEAVES)
    leaf, want_root = bytes.fromhex(case["leaf_hash_hex"]), bytes.fromhex(case["root_hex"])
    proof = inclusion_proof(index, size, tree.fetcher(size))
    assert _hexes(proof) == case["proof_hex"]
    assert root_from_inclusion_proof(leaf, index, size, proof) == want_root
    verify_inclusion(leaf, index, size, proof, want_root)


@pytest.mark.parametrize(
    "case", VECTORS["consistency"], ids=lambda c: f"{c['size1']}-to-{c['size2']}"
)
def test_consistency_proofs_match_and_verify_upstream_vectors(case: dict[str, Any]) -> None:
    size1, size2 = case["size1"], case["size2"]
    proof = consistency_proof(size1, size2, _tree(LEAVES).fetcher(size2))
    assert _hexes(proof) == case["proof_hex"]
    root1, root2 = bytes.fromhex(case["root1_hex"]), bytes.fromhex(case["root2_hex"])
    verify_consistency(size1, size2, proof, root1, root2)


def test_every_proof_of_the_standard_tree_matches_the_derived_vectors() -> None:
    tree = _tree(LEAVES)
    derived = VECTORS["derived_all_proofs"]
    assert len(derived["inclusion"]) == len(derived["consistency"]) == 36  # all pairs, n <= 8
    for case in derived["inclusion"]:
        index, size = case["leaf_index"], case["tree_size"]
        proof = inclusion_proof(index, size, tree.fetcher(size))
        assert _hexes(proof) == case["proof_hex"], (index, size)
        want_root = bytes.fromhex(VECTORS["roots_hex"][str(size)])
        verify_inclusion(leaf_hash(LEAVES[index]), index, size, proof, want_root)
    for case in derived["consistency"]:
        size1, size2 = case["size1"], case["size2"]
        proof = consistency_proof(size1, size2, tree.fetcher(size2))
        assert _hexes(proof) == case["proof_hex"], (size1, size2)
        root1 = bytes.fromhex(VECTORS["roots_hex"][str(size1)])
        root2 = bytes.fromhex(VECTORS["roots_hex"][str(size2)])
        verify_consistency(size1, size2, proof, root1, root2)


def test_roots_of_the_cctv_tree_match_for_sizes_one_to_sixteen() -> None:
    tree = _tree(CCTV_LEAVES)
    got = {str(n): root(n, tree.fetcher(n)).hex() for n in range(1, 17)}
    assert got == CCTV["roots_hex"]


@pytest.mark.parametrize("case", CCTV["inclusion_valid"])
def test_cctv_valid_inclusion_proofs_are_built_and_accepted(case: dict[str, Any]) -> None:
    index, size = case["leaf_index"], case["tree_size"]
    proof = inclusion_proof(index, size, _tree(CCTV_LEAVES).fetcher(size))
    assert _hexes(proof) == case["proof_hex"]
    leaf, want_root = bytes.fromhex(case["leaf_hash_hex"]), bytes.fromhex(case["root_hex"])
    verify_inclusion(leaf, index, size, proof, want_root)


@pytest.mark.parametrize("case", CCTV["inclusion_invalid"])
def test_cctv_invalid_inclusion_proofs_are_refused(case: dict[str, Any]) -> None:
    proof = [bytes.fromhex(h) for h in case["proof_hex"]]
    leaf, want_root = bytes.fromhex(case["leaf_hash_hex"]), bytes.fromhex(case["root_hex"])
    with pytest.raises(ProofInvalid, match="gives root"):
        verify_inclusion(leaf, case["leaf_index"], case["tree_size"], proof, want_root)


@pytest.mark.parametrize("case", CCTV["consistency_valid"])
def test_cctv_valid_consistency_proofs_are_built_and_accepted(case: dict[str, Any]) -> None:
    size1, size2 = case["size1"], case["size2"]
    proof = consistency_proof(size1, size2, _tree(CCTV_LEAVES).fetcher(size2))
    assert _hexes(proof) == case["proof_hex"]
    root1, root2 = bytes.fromhex(case["root1_hex"]), bytes.fromhex(case["root2_hex"])
    verify_consistency(size1, size2, proof, root1, root2)


@pytest.mark.parametrize("case", CCTV["consistency_invalid"])
def test_cctv_invalid_consistency_proofs_are_refused(case: dict[str, Any]) -> None:
    proof = [bytes.fromhex(h) for h in case["proof_hex"]]
    root1, root2 = bytes.fromhex(case["root1_hex"]), bytes.fromhex(case["root2_hex"])
    with pytest.raises(ProofInvalid):
        verify_consistency(case["size1"], case["size2"], proof, root1, root2)
