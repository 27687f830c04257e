"""The two hash rules of the ledger's Merkle tree (RFC 9162 section 2.1.1).

RFC 9162 (Certificate Transparency 2.0, same tree as RFC 6962) builds the
Merkle Tree Hash (MTH) from SHA-256 with one byte of domain separation in
front of every hashed input:

- a leaf is ``SHA-256(0x00 || entry)``;
- an interior node is ``SHA-256(0x01 || left || right)``;
- the tree with no leaves is ``SHA-256()`` of nothing.

The prefixes make a leaf hash and an interior node hash different things
even when the bytes behind them agree. RFC 9162 section 2.1.1 requires this
domain separation for second-preimage resistance: without it, the two child
hashes of a node could be passed off as a 64-byte leaf entry.

Every other module of ``ledger.merkle`` hashes only through these names, so
the hash rules live in one place. The module is pure: stdlib ``hashlib`` only.
"""

from __future__ import annotations

from collections.abc import Iterable
from hashlib import sha256

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "leaf_hash",
    "leaf_hashes",
    "node_hash",
]

#: Domain-separation byte in front of a leaf's entry (RFC 9162 section 2.1.1).
LEAF_PREFIX = b"\x00"

#: Domain-separation byte in front of two child hashes (RFC 9162 section 2.1.1).
NODE_PREFIX = b"\x01"

#: Size in bytes of every hash in the tree (SHA-256).
HASH_SIZE = 32

#: MTH({}) = SHA-256() -- the root of the empty tree (RFC 9162 section 2.1.1).
EMPTY_ROOT = sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """Hash one log entry into a leaf: ``SHA-256(0x00 || data)``.

    Args:
        data: the entry's bytes; for the ledger, the canonical bytes of one event.

    Returns:
        The 32-byte leaf hash, MTH({d}) in RFC 9162 section 2.1.1.
    """
    return sha256(LEAF_PREFIX + data).digest()


def leaf_hashes(entries: Iterable[bytes]) -> list[bytes]:
    """:func:`leaf_hash` of each entry, in order (inlined: it runs once per appended event)."""
    prefix = LEAF_PREFIX
    return [sha256(prefix + data).digest() for data in entries]


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two child hashes into their parent: ``SHA-256(0x01 || left || right)``.

    The order matters: ``left`` covers the lower leaf indices.

    Args:
        left: hash of the left subtree.
        right: hash of the right subtree.

    Returns:
        The 32-byte interior node hash (RFC 9162 section 2.1.1).
    """
    return sha256(NODE_PREFIX + left + right).digest()
