"""Proof plans: shape at any size, O(log n) fetches, and refusal of tampered proofs."""

from __future__ import annotations

from hashlib import sha256
from itertools import pairwise

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger.errors import ProofInvalid
from ledger.merkle import (
    NodeId,
    ProofPlan,
    consistency_node_ids,
    consistency_proof,
    inclusion_node_ids,
    inclusion_proof,
    leaf_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from tests.merkle.reference import path, proof, span
from tests.merkle.stored_tree import BIG_SIZE, big_tree, entry

HUGE = 2**62


class LazyFetcher:
    """A get_node over a tree too big to build: made-up hashes, every call counted."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.calls: list[NodeId] = []

    def __call__(self, level: int, index: int) -> bytes:
        assert (index + 1) << level <= self.size, f"node {(level, index)} not in size {self.size}"
        self.calls.append((level, index))
        return sha256(f"{level}/{index}".encode()).digest()


def plan_spans(plan: ProofPlan) -> list[tuple[int, int]]:
    """The [start, stop) leaf range each proof entry of the plan covers."""
    spans = [(index << level, (index + 1) << level) for level, index in plan.node_ids]
    begin, end = plan.fold_begin, plan.fold_end
    if end - begin >= 2:
        folded = spans[begin:end]  # the right edge, smallest (rightmost) first
        assert all(a[0] == b[1] for a, b in pairwise(folded))
        spans[begin:end] = [(folded[-1][0], folded[0][1])]
    return spans


def true_root(size: int) -> bytes:
    return root(size, big_tree().fetcher(size))


@st.composite
def index_and_size(draw: st.DrawFn, max_size: int) -> tuple[int, int]:
    size = draw(st.integers(1, max_size))
    return draw(st.integers(0, size - 1)), size


@st.composite
def two_sizes(draw: st.DrawFn, max_size: int) -> tuple[int, int]:
    size2 = draw(st.integers(1, max_size))
    return draw(st.integers(0, size2)), size2


@given(index_and_size(HUGE))
@example((0, 1))
@example((2**61, 2**61 + 1))
@example((HUGE - 1, HUGE))
def test_inclusion_plans_cover_the_reference_ranges_at_any_size(case: tuple[int, int]) -> None:
    index, size = case
    plan = inclusion_node_ids(index, size)
    assert plan_spans(plan) == path(index, range(size), span)
    assert len(set(plan.node_ids)) == len(plan.node_ids)


@given(two_sizes(HUGE))
@example((1, 1))
@example((2**61 - 1, 2**61 + 1))
@example((3, HUGE))
def test_consistency_plans_cover_the_reference_ranges_at_any_size(case: tuple[int, int]) -> None:
    size1, size2 = case
    plan = consistency_node_ids(size1, size2)
    want = [] if size1 == 0 else proof(size1, range(size2), span)
    assert plan_spans(plan) == want
    assert len(set(plan.node_ids)) == len(plan.node_ids)


@given(index_and_size(2**40))
@example((0, 1_000_000))
@example((999_999, 1_000_000))
@example((0, 2**40 - 1))
@example((2**39, 2**40 - 1))
def test_an_inclusion_proof_fetches_at_most_two_nodes_per_bit_of_the_size(
    case: tuple[int, int],
) -> None:
    index, size = case
    get_node = LazyFetcher(size)
    built = inclusion_proof(index, size, get_node)
    assert len(get_node.calls) <= 2 * size.bit_length() - 2
    assert len(built) <= (size - 1).bit_length()  # ceil(log2(size)) entries


@given(two_sizes(2**40))
@example((1, 1_000_000))
@example((999_999, 1_000_000))
@example((2**39 - 1, 2**40 - 1))
def test_a_consistency_proof_fetches_at_most_one_more_node_than_an_inclusion_proof(
    case: tuple[int, int],
) -> None:
    size1, size2 = case
    get_node = LazyFetcher(size2)
    built = consistency_proof(size1, size2, get_node)
    assert len(get_node.calls) <= 2 * size2.bit_length() - 1
    assert len(built) <= 1 + (size2 - 1).bit_length()


@pytest.mark.parametrize("size", [1_000_000, 2**20 - 1, 2**20])
def test_proofs_in_a_million_leaf_tree_fetch_at_most_38_or_39_nodes(size: int) -> None:
    inclusion_calls, consistency_calls = [], []
    for n in range(1, size, 4099):  # a spread of indices and old sizes
        get_node = LazyFetcher(size)
        inclusion_proof(n, size, get_node)
        inclusion_calls.append(len(get_node.calls))
        get_node = LazyFetcher(size)
        consistency_proof(n, size, get_node)
        consistency_calls.append(len(get_node.calls))
    assert max(inclusion_calls) <= 2 * 20 - 2
    assert max(consistency_calls) <= 2 * 20 - 1
    if size == 2**20 - 1:  # all twenty bits set: the bound is reached
        assert len(inclusion_node_ids(0, size).node_ids) == 38
        assert len(consistency_node_ids(1, size).node_ids) == 38
        assert len(consistency_node_ids(3, size).node_ids) == 39


@settings(max_examples=300, deadline=None)
@given(index_and_size(BIG_SIZE), st.data())
def test_an_inclusion_proof_with_any_flipped_bit_is_refused(
    case: tuple[int, int], data: st.DataObject
) -> None:
    index, size = case
    built = inclusion_proof(index, size, big_tree().fetcher(size))
    leaf, good_root = leaf_hash(entry(index)), true_root(size)
    if built:
        at = data.draw(st.integers(0, len(built) - 1))
        bit = data.draw(st.integers(0, 255))
        tampered = list(built)
        tampered[at] = _flip(built[at], bit)
        with pytest.raises(ProofInvalid, match="gives root"):
            verify_inclusion(leaf, index, size, tampered, good_root)
    bit = data.draw(st.integers(0, 255))
    with pytest.raises(ProofInvalid, match="gives root"):
        verify_inclusion(_flip(leaf, bit), index, size, built, good_root)
    with pytest.raises(ProofInvalid, match="gives root"):
        verify_inclusion(leaf, index, size, built, _flip(good_root, bit))


@settings(max_examples=300, deadline=None)
@given(index_and_size(BIG_SIZE), index_and_size(BIG_SIZE))
def test_an_inclusion_proof_is_accepted_only_for_its_own_index_and_size(
    case: tuple[int, int], claim: tuple[int, int]
) -> None:
    index, size = case
    claimed_index, claimed_size = claim
    built = inclusion_proof(index, size, big_tree().fetcher(size))
    right_proof = inclusion_proof(claimed_index, claimed_size, big_tree().fetcher(claimed_size))
    # The leaf is the one at `index`, so any other claimed index is a lie.
    honest = claimed_index == index and built == right_proof
    leaf, claimed_root = leaf_hash(entry(index)), true_root(claimed_size)
    if honest:
        verify_inclusion(leaf, claimed_index, claimed_size, built, claimed_root)
    else:
        with pytest.raises(ProofInvalid):
            verify_inclusion(leaf, claimed_index, claimed_size, built, claimed_root)


@settings(max_examples=300, deadline=None)
@given(two_sizes(BIG_SIZE), st.data())
def test_a_consistency_proof_with_any_flipped_bit_is_refused(
    case: tuple[int, int], data: st.DataObject
) -> None:
    size1, size2 = case
    built = consistency_proof(size1, size2, big_tree().fetcher(size2))
    root1, root2 = true_root(size1), true_root(size2)
    bit = data.draw(st.integers(0, 255))
    if built:
        at = data.draw(st.integers(0, len(built) - 1))
        tampered = list(built)
        tampered[at] = _flip(built[at], bit)
        with pytest.raises(ProofInvalid):
            verify_consistency(size1, size2, tampered, root1, root2)
    with pytest.raises(ProofInvalid):
        verify_consistency(size1, size2, built, _flip(root1, bit), root2)
    if size1 == 0 and size2 > 0:
        return  # every tree extends the empty one: there is nothing to check root2 against
    with pytest.raises(ProofInvalid):
        verify_consistency(size1, size2, built, root1, _flip(root2, bit))


@settings(max_examples=300, deadline=None)
@given(two_sizes(BIG_SIZE), st.integers(0, BIG_SIZE), st.integers(0, BIG_SIZE))
def test_a_consistency_proof_is_accepted_only_for_its_own_sizes(
    case: tuple[int, int], claimed1: int, claimed2: int
) -> None:
    size1, size2 = case
    built = consistency_proof(size1, size2, big_tree().fetcher(size2))
    honest = claimed1 <= claimed2 and built == consistency_proof(
        claimed1, claimed2, big_tree().fetcher(claimed2)
    )
    root1, root2 = true_root(claimed1), true_root(claimed2)
    if honest:
        verify_consistency(claimed1, claimed2, built, root1, root2)
    else:
        with pytest.raises(ProofInvalid):
            verify_consistency(claimed1, claimed2, built, root1, root2)


def _flip(value: bytes, bit: int) -> bytes:
    flipped = bytearray(value)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


@pytest.mark.parametrize(
    ("index", "size", "message"),
    [
        (8, 8, "leaf index 8 is out of range for tree size 8"),
        (-1, 8, "leaf index -1 is out of range for tree size 8"),
        (0, 0, "leaf index 0 is out of range for tree size 0"),
    ],
)
def test_an_inclusion_plan_for_a_leaf_outside_the_tree_is_a_value_error(
    index: int, size: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        inclusion_node_ids(index, size)


@pytest.mark.parametrize(("size1", "size2"), [(5, 3), (-1, 3), (1, 0)])
def test_a_consistency_plan_for_shrinking_or_negative_sizes_is_a_value_error(
    size1: int, size2: int
) -> None:
    with pytest.raises(ValueError, match=f"tree sizes {size1} and {size2} are not"):
        consistency_node_ids(size1, size2)


def test_a_plan_refuses_to_assemble_the_wrong_number_of_hashes() -> None:
    plan = inclusion_node_ids(0, 7)
    assert plan == ProofPlan(((0, 1), (1, 1), (0, 6), (1, 2)), 2, 4)
    with pytest.raises(ValueError, match="got 3 hashes for 4 node ids"):
        plan.assemble([b"\x00" * 32] * 3)


def test_a_plan_folds_the_right_edge_into_one_proof_entry() -> None:
    a, b, c, d = (bytes([i]) * 32 for i in range(4))
    folded = ProofPlan(((0, 1), (1, 1), (0, 6), (1, 2)), 2, 4).assemble([a, b, c, d])
    assert folded == [a, b, sha256(b"\x01" + d + c).digest()]
