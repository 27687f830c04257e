"""Checking inclusion and consistency proofs (RFC 9162 sections 2.1.3.2 and 2.1.4.2).

The verifier takes every hash, size and proof as an argument and fetches
nothing, so the CLI, the HTTP API, ``verify-export`` and outside auditors
share this one code path. Each function follows the RFC's numbered steps;
before them it checks the proof's length and hash sizes so that a bad proof
is refused with a message quoting the numbers ("wrong proof size 3, want 4")
rather than a bare root mismatch.

Everything the verifier refuses -- including sizes and indices that are out
of range, since they arrive with the proof from an untrusted party -- raises
``ledger.errors.ProofInvalid``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.errors import ProofInvalid
from ledger.merkle.hashing import EMPTY_ROOT, HASH_SIZE, node_hash

__all__ = [
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofInvalid(f"{name} is {len(value)} bytes, want {HASH_SIZE}")


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for i, h in enumerate(proof):
        _check_hash(f"proof hash {i}", h)


def _inclusion_proof_size(index: int, size: int) -> int:
    # The path splits where the paths to leaf `index` and leaf `size - 1`
    # diverge: one sibling per level below (inner), one left subtree per set
    # bit above (border). Same count as RFC 9162 2.1.3.2 step 4 consumes.
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _consistency_proof_size(size1: int, size2: int) -> int:
    # RFC 9162 2.1.4.2 runs the inclusion walk for leaf size1 - 1 from the
    # level of the largest perfect subtree ending at size1 (steps 3-4), and
    # starts from a proof hash unless size1 is a power of two (step 2).
    shift = (size1 & -size1).bit_length() - 1
    is_power_of_two = size1 & (size1 - 1) == 0
    return _inclusion_proof_size(size1 - 1, size2) - shift + (0 if is_power_of_two else 1)


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """Compute the root that an inclusion proof commits to.

    Follows RFC 9162 section 2.1.3.2 steps 1-5, without the final comparison.

    Args:
        leaf_hash: the leaf's hash, ``leaf_hash(entry)``.
        index: the leaf's 0-based index.
        size: the tree size the proof claims to be for.
        proof: the audit path, lowest level first.

    Returns:
        The 32-byte root the proof leads to.

    Raises:
        ProofInvalid: ``index`` is not in ``[0, size)``, the proof has the
            wrong number of hashes, or a hash is not 32 bytes.
    """
    # Step 1: the leaf must be in the tree.
    if index < 0 or index >= size:
        raise ProofInvalid(f"leaf index {index} is out of range for tree size {size}")
    _check_hash("leaf hash", leaf_hash)
    want = _inclusion_proof_size(index, size)
    if len(proof) != want:
        raise ProofInvalid(f"wrong proof size {len(proof)}, want {want}")
    _check_proof_hashes(proof)
    fn, sn = index, size - 1  # step 2
    r = leaf_hash  # step 3
    for p in proof:  # step 4
        if sn == 0:  # 4a (cannot happen once the length is right)
            raise ProofInvalid(f"proof for tree size {size} is too long")
        if fn & 1 or fn == sn:  # 4b: p is a left sibling
            r = node_hash(p, r)
            # 4b.ii: on the right edge, skip the levels with no right sibling.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1  # 4c
        sn >>= 1
    if sn != 0:  # step 5 (cannot happen once the length is right)
        raise ProofInvalid(f"proof for tree size {size} is too short")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that leaf ``index`` with ``leaf_hash`` is in the tree with ``root``.

    RFC 9162 section 2.1.3.2: recompute the root from the leaf and its audit
    path and compare it with the trusted root of a tree of ``size`` leaves.

    Args:
        leaf_hash: the leaf's hash, ``leaf_hash(entry)``.
        index: the leaf's 0-based index.
        size: the tree size of ``root``.
        proof: the audit path, lowest level first.
        root: the trusted root hash for ``size``, e.g. from a signed checkpoint.

    Raises:
        ProofInvalid: the proof is malformed for ``index`` and ``size``, or
            leads to another root.
    """
    calculated = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if calculated != root:  # step 5: compare r against the root hash
        raise ProofInvalid(
            f"inclusion proof for leaf index {index} in tree size {size} "
            f"gives root {calculated.hex()}, want {root.hex()}"
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that the tree with ``root2`` extends the tree with ``root1``.

    RFC 9162 section 2.1.4.2 covers ``0 < size1 < size2``. The RFC has no
    proof for the other cases, so they are settled here: equal sizes need an
    empty proof and equal roots; the empty tree (``size1 == 0``) is a prefix
    of every tree, with an empty proof and ``root1 == EMPTY_ROOT`` -- and
    ``root2`` cannot be checked against anything then, so it is not.

    Args:
        size1: the older tree size.
        size2: the newer tree size.
        proof: the consistency proof, as built by RFC 9162 section 2.1.4.1.
        root1: the trusted root for ``size1``.
        root2: the trusted root for ``size2``.

    Raises:
        ProofInvalid: the sizes are not ``0 <= size1 <= size2``, the proof is
            malformed for them, or either root does not match.
    """
    if size1 < 0 or size1 > size2:
        raise ProofInvalid(f"tree sizes {size1} and {size2} are not 0 <= size1 <= size2")
    _check_hash("first root", root1)
    _check_hash("second root", root2)
    if size1 == 0 or size1 == size2:
        if proof:
            raise ProofInvalid(f"wrong proof size {len(proof)}, want 0")
        if size1 == 0 and root1 != EMPTY_ROOT:
            raise ProofInvalid(f"root for tree size 0 is {root1.hex()}, want {EMPTY_ROOT.hex()}")
        if size1 == size2 and root1 != root2:
            raise ProofInvalid(
                f"roots for the same tree size {size1} differ: {root1.hex()} and {root2.hex()}"
            )
        return
    want = _consistency_proof_size(size1, size2)
    if len(proof) != want:
        raise ProofInvalid(f"wrong proof size {len(proof)}, want {want}")
    _check_proof_hashes(proof)
    # Step 1: an empty path fails (ruled out above: want >= 1 when size1 < size2).
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # step 2: size1 is a power of two
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:  # 6a (cannot happen once the length is right)
            raise ProofInvalid(f"proof for tree sizes {size1} and {size2} is too long")
        if fn & 1 or fn == sn:  # 6b
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:  # 6b.iii
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1  # 6c
        sn >>= 1
    # Step 7: both roots must come out, and the whole path must be used.
    if sn != 0:
        raise ProofInvalid(f"proof for tree sizes {size1} and {size2} is too short")
    if fr != root1:
        raise ProofInvalid(
            f"consistency proof gives root {fr.hex()} for tree size {size1}, want {root1.hex()}"
        )
    if sr != root2:
        raise ProofInvalid(
            f"consistency proof gives root {sr.hex()} for tree size {size2}, want {root2.hex()}"
        )
