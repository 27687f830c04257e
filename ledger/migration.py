"""Copying a ledger between stores (``rollout-ledger migrate-store``), either direction.

The copy is verbatim: every event keeps its seq, id, canonical bytes, hashes
and columns, so the destination exports byte for byte what the source does
and every signed checkpoint, receipt and proof made from the source stays
valid. Nothing is trusted on the way:

- every source event is re-checked (``ChainVerifier``: hash, canonical form,
  columns, link, no gap) before it is written;
- the destination's Merkle nodes are computed from the copied bytes
  (``append_leaves``) in the same destination transaction as the events;
- at the end, the destination's root at the size of the source's latest
  signed checkpoint must equal that checkpoint's root, the note having been
  verified with the source's ``verifier_key``.

Resuming: events are written batch by batch, each batch one destination
transaction, so an interrupted copy leaves a destination that holds a
prefix of the source. A rerun checks that the destination's head hash is
the source's hash at that seq (the hash chain makes that equal to the whole
prefix being equal) and continues after it. A non-empty destination that is
not such a prefix is refused before anything is written.

Checkpoints, the meta keys ``origin`` and ``verifier_key`` and the API tokens
(only their hashes are stored) are copied too; projections are derived data
and are rebuilt in the destination from the copied events. A destination
with another origin is another ledger and is refused; so is an empty one
with another verifier key (``init`` was run on it with a different key
directory). A destination holding a prefix gets the source's current
verifier key: the source rotated its key since the earlier copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from ledger.chain import BreakKind, ChainVerifier
from ledger.checkpoint import Checkpoint, verify_checkpoint
from ledger.errors import ChainBroken, CheckpointInvalid, Conflict, NotFound, StoreError
from ledger.events import Event
from ledger.merkle import append_leaves, frontier_ids, leaf_hash, root_from_frontier
from ledger.note import parse_verifier_key
from ledger.service import Ledger
from ledger.store.protocol import EventStore, Head, TokenRecord

__all__ = ["COPIED_META", "DEFAULT_BATCH", "MigrationReport", "migrate_store"]

DEFAULT_BATCH = 5000
"""Events per destination transaction."""

COPIED_META = ("origin", "verifier_key")
"""Meta keys that belong to the ledger (not derived) and travel with it."""

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What a migration did.

    Attributes:
        source_head: the source's seq when the copy started (copied up to it).
        resumed_from: the destination's seq before the copy (0 for a fresh one).
        copied: events written by this run.
        seconds: wall time of the event copy (reading, verifying, writing).
        checkpoints_copied: checkpoint rows added to the destination.
        tokens_copied: token rows added (or revocations carried over).
        checkpoint: the source's latest signed checkpoint, verified against the
            destination's tree (None when the source has none).
        root: the destination's Merkle root at ``source_head``.
        projected: events the destination's projections were rebuilt from
            (0 when they were already at the head).
    """

    source_head: int
    resumed_from: int
    copied: int
    seconds: float
    checkpoints_copied: int
    tokens_copied: int
    checkpoint: Checkpoint | None
    root: bytes
    projected: int

    @property
    def events_per_second(self) -> float:
        """Copy throughput of this run (0 when nothing was copied)."""
        return self.copied / self.seconds if self.copied and self.seconds > 0 else 0.0


@dataclass(slots=True)
class _Cursor:
    """The destination as this run has written it: head and Merkle frontier."""

    head: Head
    frontier: list[bytes]


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where the copy starts and ends, and the source checkpoint it must reproduce."""

    source_head: Head
    start: Head
    signed: Checkpoint | None


def migrate_store(
    source: EventStore,
    destination: EventStore,
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
    project_progress: Progress | None = None,
) -> MigrationReport:
    """Copy every event, checkpoint, meta key and token of ``source`` into ``destination``.

    Args:
        source: the ledger to copy (read only; events appended to it while
            this runs are left for the next run).
        destination: an empty store, or one holding a prefix of ``source``
            (an interrupted earlier run), which is then completed.
        batch_size: events per destination transaction.
        progress: called with the seq copied so far after every batch.
        project_progress: called while the destination's projections are rebuilt.

    Returns:
        What was copied and checked.

    Raises:
        Conflict: the destination is not empty and not a prefix of the source
            (other events, a different origin or key, a token with the same
            name but another secret), or it changed during the copy.
        ChainBroken: a source event fails verification (nothing past it is copied).
        CheckpointInvalid: the source's latest checkpoint does not verify with
            its ``verifier_key``, or the copied tree does not have its root.
        StoreError: either backend failed; rerun to resume.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    plan = _preflight(source, destination)
    for key in COPIED_META:
        value = source.get_meta(key)
        if value is not None and destination.get_meta(key) != value:
            destination.set_meta(key, value)  # missing, or the source rotated its key

    cursor = _Cursor(plan.start, _stored_frontier(destination, plan.start.seq))
    started = time.perf_counter()
    _copy_events(source, destination, plan, cursor, batch_size, progress)
    seconds = time.perf_counter() - started

    checker = Ledger(destination)
    root = checker.root(plan.source_head.seq)
    if root != root_from_frontier(cursor.frontier):
        raise StoreError(
            "the destination's stored Merkle nodes do not give the root just computed; "
            "run `rollout-ledger rebuild` on it and migrate again"
        )
    checkpoints = _copy_checkpoints(source, destination, checker, plan)
    tokens = _copy_tokens(source, destination)

    projected = 0
    position = destination.get_meta("projection_seq")
    if position is None or int(position) != plan.source_head.seq:
        projected = checker.rebuild_projections(progress=project_progress)
    return MigrationReport(
        source_head=plan.source_head.seq,
        resumed_from=plan.start.seq,
        copied=plan.source_head.seq - plan.start.seq,
        seconds=seconds,
        checkpoints_copied=checkpoints,
        tokens_copied=tokens,
        checkpoint=plan.signed,
        root=root,
        projected=projected,
    )


def _preflight(source: EventStore, destination: EventStore) -> _Plan:
    """Every refusal that can be decided before writing anything."""
    source_head = source.head()
    start = destination.head()
    for key in COPIED_META:
        theirs, ours = destination.get_meta(key), source.get_meta(key)
        if theirs is not None and ours is not None and theirs != ours:
            if key == "verifier_key" and start.seq:
                # A copy made before the source rotated its key: the hash chain
                # (checked below) says whether it is this ledger.
                continue
            raise Conflict(
                f"the destination's {key} is {theirs!r}, the source's is {ours!r}: "
                "it belongs to another ledger; migrate into an empty database",
                field=key,
            )
    if start.seq > source_head.seq:
        raise Conflict(
            f"the destination holds {start.seq} events, more than the source's "
            f"{source_head.seq}: it is not a copy of this source; migrate into an empty database"
        )
    if start.seq:
        twin = source.get(start.seq)
        if twin is None or twin.hash != start.hash:
            mine = twin.hash[:16] if twin is not None else "nothing"
            raise Conflict(
                f"the destination is not a prefix of the source: its seq {start.seq} has hash "
                f"{start.hash[:16]}…, the source's has {mine}…; migrate into an empty database"
            )
    _check_tokens(source.tokens(), destination.tokens())

    key_text = source.get_meta("verifier_key")
    verifier = parse_verifier_key(key_text) if key_text is not None else None
    latest = source.latest_checkpoint()
    signed: Checkpoint | None = None
    if latest is not None:
        if verifier is None:
            raise CheckpointInvalid(
                "the source has signed checkpoints but no verifier_key to check them with"
            )
        try:
            signed = verify_checkpoint(latest.note, verifier, origin=source.get_meta("origin"))
        except CheckpointInvalid as exc:
            raise CheckpointInvalid(
                f"the source's latest checkpoint (size {latest.size}) does not verify with "
                f"its verifier_key: {exc.message}"
            ) from None
        if (signed.size, signed.root_hash) != (latest.size, bytes(latest.root_hash)):
            raise CheckpointInvalid(
                f"the source's latest checkpoint row (size {latest.size}) disagrees "
                f"with its signed note (size {signed.size})"
            )
        if signed.size > source_head.seq:
            raise CheckpointInvalid(
                f"the source's latest checkpoint is of size {signed.size}, beyond its "
                f"{source_head.seq} events: the source was truncated"
            )
    return _Plan(source_head, start, signed)


def _check_tokens(source: Iterable[TokenRecord], destination: Iterable[TokenRecord]) -> None:
    held = {t.name: t for t in destination}
    for token in source:
        twin = held.get(token.name)
        if twin is not None and (twin.role, twin.token_hash) != (token.role, token.token_hash):
            raise Conflict(
                f"the destination already has a different token named {token.name!r}; "
                "revoke or rename one of them first",
                field="token",
            )


def _stored_frontier(store: EventStore, size: int) -> list[bytes]:
    ids = frontier_ids(size)
    found = store.merkle_nodes(ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(
            f"the destination's Merkle node {missing[0]} is missing; "
            "run `rollout-ledger rebuild` on it and migrate again"
        )
    return [found[i] for i in ids]


def _copy_events(
    source: EventStore,
    destination: EventStore,
    plan: _Plan,
    cursor: _Cursor,
    batch_size: int,
    progress: Progress | None,
) -> None:
    """Verify source events and write them in batches, in seq order.

    One writer thread writes batch N while this thread reads and verifies
    batch N + 1 (the destination's commit waits on I/O, verifying on the
    CPU); there is never more than one batch in flight, and batches are
    written strictly in order, so the destination always holds a prefix.
    """
    verifier = ChainVerifier(plan.start.seq + 1, plan.start.hash)
    end = plan.source_head.seq
    with ThreadPoolExecutor(1, thread_name_prefix="ledger-migrate") as writer:
        pending: Future[None] | None = None

        def settle() -> None:
            nonlocal pending
            if pending is not None:
                done, pending = pending, None
                done.result()  # the writer's error, if any, surfaces here
                if progress is not None:
                    progress(cursor.head.seq)

        def submit(events: list[Event]) -> None:
            nonlocal pending
            settle()
            pending = writer.submit(_write_batch, destination, cursor, events)

        batch: list[Event] = []
        try:
            for event in source.read(plan.start.seq + 1, end):
                if not verifier.feed(event):
                    break
                batch.append(event)
                if len(batch) >= batch_size:
                    submit(batch)
                    batch = []
            if batch:
                # Verified events before a break are kept too: they are a true prefix.
                submit(batch)
        finally:
            settle()
    report = verifier.report()
    if not report.ok:
        raise ChainBroken(
            f"source seq {report.first_bad_seq}: {report.kind}: {report.reason}; "
            f"copied up to seq {cursor.head.seq}",
            seq=report.first_bad_seq or 0,
            kind=report.kind or "",
        )
    if cursor.head != plan.source_head:
        raise ChainBroken(
            f"source seq {cursor.head.seq + 1}: {BreakKind.TRUNCATED}: the source's head is "
            f"seq {end} but its events end at seq {cursor.head.seq}",
            seq=cursor.head.seq + 1,
            kind=BreakKind.TRUNCATED,
        )


def _write_batch(destination: EventStore, cursor: _Cursor, events: Sequence[Event]) -> None:
    """Write verified events and their Merkle nodes in one destination transaction.

    Raises:
        Conflict: the destination's head moved since this run last wrote
            (another writer is using it).
    """
    step = append_leaves(cursor.frontier, cursor.head.seq, [leaf_hash(e.body) for e in events])
    with destination.transaction() as tx:
        head = tx.head()
        if head != cursor.head:
            raise Conflict(
                f"the destination changed during the migration (head seq {head.seq}, expected "
                f"{cursor.head.seq}): stop whatever else writes to it and migrate again"
            )
        tx.insert_events(events)
        tx.insert_merkle_nodes(step.nodes)
    cursor.head = Head(events[-1].seq, events[-1].hash)
    cursor.frontier = list(step.frontier)


def _copy_checkpoints(
    source: EventStore, destination: EventStore, checker: Ledger, plan: _Plan
) -> int:
    """Add the source's checkpoint rows the destination lacks, each checked against its tree."""
    if plan.signed is not None and checker.root(plan.signed.size) != plan.signed.root_hash:
        raise CheckpointInvalid(
            f"the copied tree's root at size {plan.signed.size} is not the root of the "
            "source's latest signed checkpoint"
        )
    held = {(c.size, c.note) for c in destination.checkpoints()}
    added = 0
    for stored in source.checkpoints():
        if stored.size > plan.source_head.seq:
            continue  # signed after this run's snapshot: the next run copies it
        if checker.root(stored.size) != bytes(stored.root_hash):
            raise CheckpointInvalid(
                f"the source's checkpoint of size {stored.size} names a root the copied "
                "tree does not have"
            )
        if (stored.size, stored.note) not in held:
            destination.add_checkpoint(stored)
            added += 1
    return added


def _copy_tokens(source: EventStore, destination: EventStore) -> int:
    held = {t.name: t for t in destination.tokens()}
    changed = 0
    for token in source.tokens():
        twin = held.get(token.name)
        if twin is None:
            destination.add_token(token)
            changed += 1
        elif token.revoked_at is not None and twin.revoked_at is None:
            destination.revoke_token(token.name, token.revoked_at)
            changed += 1
    return changed
