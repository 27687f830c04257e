"""The Merkle-tree side of the service: roots, proofs, checkpoints, tree rebuild.

A base of :class:`ledger.service.Ledger`, kept apart because it only reads
stored nodes (O(log n) per answer) and signs; appends extend the tree in
``Ledger.append_group``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.errors import NotFound
from ledger.events import format_time
from ledger.merkle import (
    EMPTY_ROOT,
    append_leaves,
    consistency_node_ids,
    frontier_ids,
    inclusion_node_ids,
    leaf_hash,
    root_from_frontier,
)
from ledger.merkle.proofs import ProofPlan
from ledger.note import Signer
from ledger.proofs import ConsistencyProof, InclusionProof
from ledger.store.protocol import EventStore, StoredCheckpoint

__all__ = ["MerkleOperations"]


class MerkleOperations:
    """Roots, proofs and checkpoints over ``self.store`` (see the module docstring)."""

    store: EventStore
    signer: Signer | None
    origin: str
    _clock: Callable[[], datetime]

    def _forget_frontier(self) -> None:
        """Drop any cached frontier (the tree was rewritten); Ledger overrides it."""
        return None

    def _fetch(self, plan_ids: Sequence[tuple[int, int]]) -> list[bytes]:
        # A proof's plan, leaf and frontier overlap; fetch each node once.
        found = self.store.merkle_nodes(list(dict.fromkeys(plan_ids)))
        missing = [i for i in plan_ids if i not in found]
        if missing:
            raise NotFound(f"Merkle node {missing[0]} is not stored; run `rollout-ledger rebuild`")
        return [found[i] for i in plan_ids]

    def _size(self, tree_size: int | None, field: str) -> int:
        head = self.store.head().seq
        if tree_size is None:
            return head
        if tree_size < 0 or tree_size > head:
            raise NotFound(
                f"{field}: tree size {tree_size} is beyond the ledger's {head} events", field=field
            )
        return tree_size

    def root(self, tree_size: int | None = None) -> bytes:
        """The RFC 9162 root of the first ``tree_size`` events (default: all), O(log n) reads."""
        size = self._size(tree_size, "tree_size")
        return root_from_frontier(self._fetch(frontier_ids(size))) if size else EMPTY_ROOT

    def inclusion_proof(self, seq: int, tree_size: int | None = None) -> InclusionProof:
        """Prove event ``seq`` is leaf ``seq - 1`` of the tree of ``tree_size`` (default: head).

        Raises:
            NotFound: ``seq`` or ``tree_size`` is outside the ledger, or seq > tree_size.
        """
        size = self._size(tree_size, "tree_size")
        if not 1 <= seq <= size:
            raise NotFound(f"seq: {seq} is not in a tree of size {size}", field="seq")
        plan: ProofPlan = inclusion_node_ids(seq - 1, size)
        ids = list(plan.node_ids)
        roots = frontier_ids(size)
        hashes = self._fetch([*ids, (0, seq - 1), *roots])
        path = plan.assemble(hashes[: len(ids)])
        leaf = hashes[len(ids)]
        return InclusionProof(
            seq, size, leaf, root_from_frontier(hashes[len(ids) + 1 :]), tuple(path)
        )

    def consistency_proof(self, first: int, second: int | None = None) -> ConsistencyProof:
        """Prove the tree of ``first`` events is a prefix of the tree of ``second``.

        Raises:
            NotFound: a size beyond the ledger, or ``first > second``.
        """
        size2 = self._size(second, "second")
        if not 0 <= first <= size2:
            raise NotFound(f"first: {first} must be between 0 and {size2}", field="first")
        plan = consistency_node_ids(first, size2)
        ids = list(plan.node_ids)
        r1, r2 = frontier_ids(first), frontier_ids(size2)
        hashes = self._fetch([*ids, *r1, *r2])
        path = plan.assemble(hashes[: len(ids)])
        root1 = root_from_frontier(hashes[len(ids) : len(ids) + len(r1)]) if first else EMPTY_ROOT
        root2 = root_from_frontier(hashes[len(ids) + len(r1) :]) if size2 else EMPTY_ROOT
        return ConsistencyProof(first, size2, root1, root2, tuple(path))

    def checkpoint(self) -> str:
        """Sign the current tree head as a C2SP checkpoint, keep it, and return the note.

        Raises:
            NotFound: no signing key was given to this ledger.
        """
        if self.signer is None:
            raise NotFound("no signing key; run `rollout-ledger init` or pass --key-dir")
        size = self.store.head().seq
        root = self.root(size)
        note = sign_checkpoint(Checkpoint(self.origin, size, root), self.signer)
        self.store.add_checkpoint(StoredCheckpoint(size, root, note, format_time(self._clock())))
        return note

    def publish_checkpoint(self) -> str | None:
        """Sign and keep a checkpoint if the ledger grew past the latest one; else None.

        The server calls this every ``checkpoint_interval`` seconds, so old tree
        sizes stay provable (consistency proofs between stored checkpoints).
        """
        if self.signer is None:
            return None
        latest = self.store.latest_checkpoint()
        head = self.store.head().seq
        if head == 0 or (latest is not None and latest.size >= head):
            return None
        return self.checkpoint()

    def rebuild_tree(self, progress: Callable[[int], None] | None = None) -> bytes:
        """Recompute every stored Merkle node from the events (backfill); return the root."""
        state: dict[str, object] = {"frontier": [], "size": 0}

        def chunks() -> Iterator[list[tuple[int, int, bytes]]]:
            frontier: list[bytes] = []
            size = 0
            batch: list[bytes] = []
            for event in self.store.read():
                batch.append(leaf_hash(event.body))
                if len(batch) == 4096:
                    step = append_leaves(frontier, size, batch)
                    frontier, size, batch = list(step.frontier), step.size, []
                    if progress:
                        progress(size)
                    yield list(step.nodes)
            if batch:
                step = append_leaves(frontier, size, batch)
                frontier, size = list(step.frontier), step.size
                yield list(step.nodes)
            state["frontier"], state["size"] = frontier, size

        self.store.reset_merkle(chunks())
        self._forget_frontier()
        frontier = state["frontier"]
        assert isinstance(frontier, list)
        return root_from_frontier(frontier)
