"""The application service: the one place that orchestrates an append.

validate -> (catalogue, policy: later issues) -> seal -> one store transaction
that also extends the Merkle tree -> acknowledge. The CLI and the API call
this; neither touches a store backend.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.canonical import canonical_bytes, parse_json
from ledger.chain import BreakKind, ChainReport, ChainVerifier, seal
from ledger.errors import Conflict, InvalidEvent
from ledger.events import Event, EventDraft, format_time
from ledger.merkle import append_leaves, frontier_ids, leaf_hash, root_from_frontier
from ledger.store.protocol import EventStore, Head, WriteTransaction

__all__ = ["Appended", "Ledger", "system_clock"]

MAX_BATCH = 100_000


def system_clock() -> datetime:
    """The wall clock, in UTC (the composition root injects it)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Appended:
    """The acknowledgement of one draft: where it sits and whether this call added it."""

    seq: int
    hash: str
    id: str
    created: bool


@dataclass(slots=True)
class _Frontier:
    size: int
    head_hash: str
    hashes: list[bytes]


class Ledger:
    """Appends, reads and verifies one ledger over an ``EventStore``."""

    def __init__(
        self,
        store: EventStore,
        *,
        clock: Callable[[], datetime] = system_clock,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        maintain_tree: bool = True,
    ) -> None:
        self.store = store
        self._clock = clock
        self._new_id = new_id
        # Only benchmarks turn this off, to price the tree; verify then fails.
        self._maintain_tree = maintain_tree
        self._frontier: _Frontier | None = None

    # ---- appending -------------------------------------------------------------

    def append(self, drafts: Sequence[EventDraft], actor: str) -> list[Appended]:
        """Append a batch, all or nothing, in order; return one acknowledgement per draft.

        A draft whose ``id`` is already in the ledger with identical content
        (type, subject, data, actor and, when given, occurred_at) is
        acknowledged with the original seq and hash and not appended again.
        Acknowledgement happens only after the durable commit.

        Raises:
            Conflict: an ``id`` exists with different content (nothing is appended).
            InvalidEvent: the batch is empty or over ``MAX_BATCH``.
            StoreError: the backend failed (nothing is appended).
        """
        if not drafts:
            raise InvalidEvent("the batch is empty", field="events")
        if len(drafts) > MAX_BATCH:
            raise InvalidEvent(f"a batch holds at most {MAX_BATCH} events", field="events")
        recorded_at = format_time(self._clock())
        given = [d.id for d in drafts if d.id is not None]
        with self.store.transaction() as tx:
            existing = tx.events_by_id(given) if given else {}
            head = tx.head()
            seq, prev = head.seq, head.hash
            results: list[Appended] = []
            new: list[Event] = []
            in_batch: dict[str, tuple[EventDraft, Appended]] = {}
            for index, draft in enumerate(drafts):
                if draft.id is not None:
                    old = existing.get(draft.id)
                    if old is not None:
                        _check_same(old, draft, actor, index)
                        results.append(Appended(old.seq, old.hash, old.id, False))
                        continue
                    twin = in_batch.get(draft.id)
                    if twin is not None:
                        if twin[0] != draft:
                            raise Conflict(
                                f"events[{index}].id: {draft.id} appears twice in the batch "
                                "with different content",
                                field=f"events[{index}].id",
                            )
                        results.append(twin[1])
                        continue
                seq += 1
                event = seal(
                    draft,
                    seq=seq,
                    prev_hash=prev,
                    actor=actor,
                    recorded_at=recorded_at,
                    id=draft.id or self._new_id(),
                )
                prev = event.hash
                new.append(event)
                ack = Appended(event.seq, event.hash, event.id, True)
                if draft.id is not None:
                    in_batch[draft.id] = (draft, ack)
                results.append(ack)
            if new:
                tx.insert_events(new)
                frontier = self._extend_tree(tx, head, new) if self._maintain_tree else None
        if new:
            self._frontier = frontier
        return results

    def _extend_tree(self, tx: WriteTransaction, head: Head, new: Sequence[Event]) -> _Frontier:
        cached = self._frontier
        if cached is not None and cached.size == head.seq and cached.head_hash == head.hash:
            hashes = cached.hashes
        else:
            ids = frontier_ids(head.seq)
            found = tx.merkle_nodes(ids)
            hashes = [found[i] for i in ids]
        result = append_leaves(hashes, head.seq, [leaf_hash(e.body) for e in new])
        tx.insert_merkle_nodes(result.nodes)
        return _Frontier(result.size, new[-1].hash, list(result.frontier))

    # ---- reading ---------------------------------------------------------------

    def head(self) -> Head:
        """The last seq and hash."""
        return self.store.head()

    def events(self, start: int = 1, end: int | None = None) -> Iterator[Event]:
        """Stream events in seq order."""
        return self.store.read(start, end)

    # ---- verifying -------------------------------------------------------------

    def verify(self, progress: Callable[[int], None] | None = None) -> ChainReport:
        """Re-hash the whole chain and check the Merkle tree, in constant memory.

        Beyond the chain itself (see ChainVerifier), checks that the stored
        Merkle root at the head equals the root recomputed from the events,
        and that the latest stored checkpoint's size and root still hold, so a
        ledger truncated after a checkpoint is caught.
        """
        verifier = ChainVerifier()
        checkpoint = self.store.latest_checkpoint()
        frontier: list[bytes] = []
        size = 0
        checkpoint_root: bytes | None = None
        pending: list[bytes] = []
        for event in self.store.read():
            if not verifier.feed(event):
                return verifier.report()
            pending.append(leaf_hash(event.body))
            if len(pending) >= 4096 or (checkpoint and size + len(pending) == checkpoint.size):
                step = append_leaves(frontier, size, pending)
                frontier, size, pending = list(step.frontier), step.size, []
                if checkpoint and size == checkpoint.size:
                    checkpoint_root = root_from_frontier(frontier)
            if progress is not None and verifier.checked % 10_000 == 0:
                progress(verifier.checked)
        if pending:
            step = append_leaves(frontier, size, pending)
            frontier, size = list(step.frontier), step.size
        report = verifier.report()
        if progress is not None:
            progress(report.checked)
        if checkpoint is not None:
            if checkpoint.size > size:
                return ChainReport(
                    False,
                    report.checked,
                    size + 1,
                    BreakKind.TRUNCATED,
                    f"the ledger holds {size} events but checkpoint {checkpoint.size} was signed",
                    report.head_hash,
                )
            if checkpoint.size == 0:
                checkpoint_root = root_from_frontier([])
            if checkpoint_root != checkpoint.root_hash:
                return ChainReport(
                    False,
                    report.checked,
                    checkpoint.size,
                    BreakKind.MERKLE_MISMATCH,
                    f"the root of the first {checkpoint.size} events differs from the "
                    "signed checkpoint",
                    report.head_hash,
                )
        if self._maintain_tree and size:
            ids = frontier_ids(size)
            stored = self.store.merkle_nodes(ids)
            if [stored.get(i) for i in ids] != frontier:
                return ChainReport(
                    False,
                    report.checked,
                    size,
                    BreakKind.MERKLE_MISMATCH,
                    "the stored Merkle tree does not match the events (run rebuild)",
                    report.head_hash,
                )
        return report


def _check_same(old: Event, draft: EventDraft, actor: str, index: int) -> None:
    """An idempotent retry must match what was stored; anything else is a conflict."""
    parsed = parse_json(old.body, numbers_as_doubles=True)
    assert isinstance(parsed, dict)
    same = (
        old.type == draft.type
        and old.subject == draft.subject
        and old.actor == actor
        and canonical_bytes(parsed["data"]) == draft.data_bytes
        and (draft.occurred_at is None or draft.occurred_at == old.occurred_at)
    )
    if not same:
        raise Conflict(
            f"events[{index}].id: {old.id} was already appended at seq {old.seq} "
            "with different content",
            field=f"events[{index}].id",
            suggestion="use a new id for a new event; resend identical content to retry",
        )
