"""The ledger's Merkle tree: RFC 6962 / RFC 9162 section 2.1, pure and I/O-free.

Four small modules, after transparency-dev/merkle:

- ``hashing``: the two hash rules and their 0x00 / 0x01 prefixes (2.1.1).
- ``tree``: ``(level, index)`` addressing of perfect subtrees, the frontier,
  incremental appends that report every newly complete node, and roots (2.1.1).
- ``proofs``: which perfect nodes an inclusion or consistency proof needs
  (pure index maths, 2.1.3.1 and 2.1.4.1), and assembling the proof from them.
- ``verify``: checking proofs from data passed in (2.1.3.2 and 2.1.4.2).

The package never reads or writes anything. A store persists the nodes that
``append_leaves`` reports and answers ``get_node(level, index)`` with them.
"""

from __future__ import annotations

from ledger.merkle.hashing import (
    EMPTY_ROOT,
    HASH_SIZE,
    LEAF_PREFIX,
    NODE_PREFIX,
    leaf_hash,
    leaf_hashes,
    node_hash,
)
from ledger.merkle.proofs import (
    ProofPlan,
    consistency_node_ids,
    consistency_proof,
    inclusion_node_ids,
    inclusion_proof,
)
from ledger.merkle.tree import (
    AppendResult,
    NodeFetcher,
    NodeId,
    append_leaves,
    frontier_ids,
    root,
    root_from_frontier,
)
from ledger.merkle.verify import (
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_PREFIX",
    "NODE_PREFIX",
    "AppendResult",
    "NodeFetcher",
    "NodeId",
    "ProofPlan",
    "append_leaves",
    "consistency_node_ids",
    "consistency_proof",
    "frontier_ids",
    "inclusion_node_ids",
    "inclusion_proof",
    "leaf_hash",
    "leaf_hashes",
    "node_hash",
    "root",
    "root_from_frontier",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]
