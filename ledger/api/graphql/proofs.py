"""Integrity: the signed checkpoint, Merkle proofs and full-chain verification."""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import strawberry
from starlette.concurrency import run_in_threadpool

from ledger.api.graphql.context import Info, state_of
from ledger.api.graphql.permissions import CanRead, CanVerify
from ledger.api.reads import current_checkpoint
from ledger.api.state import ApiState
from ledger.chain import ChainReport as CoreChainReport

__all__ = ["ChainReport", "Checkpoint", "ConsistencyProof", "InclusionProof", "ProofsQuery"]


@strawberry.type(description="The tree head now: C2SP tlog-checkpoint, signed as a note.")
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: str = strawberry.field(description="RFC 9162 root, lowercase hex.")
    signed_note: str | None = strawberry.field(
        description="The signed note (text/plain form); null if the server has no signing key."
    )


@strawberry.type(description="RFC 9162 2.1.3 inclusion of event `seq` (leaf `seq - 1`).")
class InclusionProof:
    seq: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    proof: list[str] = strawberry.field(description="The audit path, lowercase hex.")


@strawberry.type(description="RFC 9162 2.1.4 proof that tree `first` is a prefix of `second`.")
class ConsistencyProof:
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


@strawberry.type(description="What re-verifying the whole chain and Merkle tree found.")
class ChainReport:
    ok: bool
    checked: int = strawberry.field(description="Events re-hashed.")
    first_bad_seq: int | None = strawberry.field(description="The first bad seq, if any.")
    kind: str | None = strawberry.field(description="What broke (docs/errors.md#chain_broken).")
    reason: str | None
    head_hash: str


def _verify(state: ApiState) -> CoreChainReport:
    with state.verify_lock:
        return state.ledger.verify()


@strawberry.type
class ProofsQuery:
    @strawberry.field(
        description="The latest signed checkpoint if it covers the head, else one signed now.",
        permission_classes=[CanRead],
    )
    async def checkpoint(self, info: Info) -> Checkpoint:
        head = await run_in_threadpool(current_checkpoint, state_of(info).ledger)
        return Checkpoint(
            origin=head.origin,
            tree_size=head.tree_size,
            root_hash=head.root_hash.hex(),
            signed_note=head.note,
        )

    @strawberry.field(permission_classes=[CanRead])
    async def inclusion_proof(
        self, info: Info, seq: int, tree_size: int | None = None
    ) -> InclusionProof:
        proof = await run_in_threadpool(state_of(info).ledger.inclusion_proof, seq, tree_size)
        return InclusionProof(
            seq=proof.seq,
            leaf_index=proof.leaf_index,
            tree_size=proof.tree_size,
            leaf_hash=proof.leaf_hash.hex(),
            root_hash=proof.root_hash.hex(),
            proof=[h.hex() for h in proof.path],
        )

    @strawberry.field(permission_classes=[CanRead])
    async def consistency_proof(
        self, info: Info, first: int, second: int | None = None
    ) -> ConsistencyProof:
        proof = await run_in_threadpool(state_of(info).ledger.consistency_proof, first, second)
        return ConsistencyProof(
            first=proof.first,
            second=proof.second,
            first_root=proof.first_root.hex(),
            second_root=proof.second_root.hex(),
            proof=[h.hex() for h in proof.path],
        )

    @strawberry.field(
        description="Re-hash every event and check the Merkle tree (auditor or admin; O(n)).",
        permission_classes=[CanVerify],
    )
    async def verify_chain(self, info: Info) -> ChainReport:
        report = await run_in_threadpool(_verify, state_of(info))
        return ChainReport(
            ok=report.ok,
            checked=report.checked,
            first_bad_seq=report.first_bad_seq,
            kind=report.kind,
            reason=report.reason,
            head_hash=report.head_hash,
        )
