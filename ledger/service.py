"""The application service: the one place that orchestrates an append.

validate -> (catalogue, policy: later issues) -> seal -> one store transaction
that also extends the Merkle tree -> acknowledge. The CLI and the API call
this; neither touches a store backend.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from ledger.appending import Appended, AppendRequest, GroupAppend, Outcome
from ledger.catalogue import Catalogue
from ledger.chain import BreakKind, ChainReport
from ledger.checkpoint import verify_checkpoint
from ledger.errors import (
    CheckpointInvalid,
    Forbidden,
    InvalidEvent,
    LedgerError,
)
from ledger.events import Event, EventDraft, format_time
from ledger.merkle import (
    append_leaves,
    frontier_ids,
    leaf_hashes,
)
from ledger.note import Signer, parse_verifier_key
from ledger.projecting import BatchProjector, DocCache, event_view
from ledger.service_tree import MerkleOperations
from ledger.store.protocol import EventStore, Head, IdsTaken, WriteTransaction
from ledger.verification import verify_ledger

__all__ = ["AppendRequest", "Appended", "Ledger", "Outcome", "system_clock"]

MAX_BATCH = 100_000


def time_ordered_uuid() -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits.

    Ids the ledger generates sort by time, so the unique index on ``id``
    grows at its right edge instead of touching a random page per insert
    (measured: random UUIDv4 ids dominate the WAL pages of a large append).
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80 | rand & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return str(uuid.UUID(int=value))


def system_clock() -> datetime:
    """The wall clock, in UTC (the composition root injects it)."""
    return datetime.now(UTC)


@dataclass(slots=True)
class _Frontier:
    size: int
    head_hash: str
    hashes: list[bytes]


class Ledger(MerkleOperations):
    """Appends, reads and verifies one ledger over an ``EventStore``."""

    def __init__(
        self,
        store: EventStore,
        *,
        clock: Callable[[], datetime] = system_clock,
        new_id: Callable[[], str] = time_ordered_uuid,
        maintain_tree: bool = True,
        signer: Signer | None = None,
        origin: str | None = None,
        catalogue: Catalogue | None = None,
        project: bool = True,
    ) -> None:
        self.store = store
        self.catalogue = catalogue
        # Benchmarks turn this off to price projections and policy.
        self._project = project
        self._doc_cache = DocCache()
        self.signer = signer
        self.origin = origin or (signer.key_name if signer else "rollout-ledger.local/ledger")
        self._clock = clock
        self._new_id = new_id
        # Only benchmarks turn this off, to price the tree; verify then fails.
        self._maintain_tree = maintain_tree
        self._frontier: _Frontier | None = None
        self._known_versions: dict[str, int] = {}

    # ---- appending -------------------------------------------------------------

    def append(
        self,
        drafts: Sequence[EventDraft],
        actor: str,
        *,
        role: str | None = None,
        max_batch: int | None = MAX_BATCH,
    ) -> list[Appended]:
        """Append a batch, all or nothing, in order; return one acknowledgement per draft.

        A draft whose ``id`` is already in the ledger with identical content
        (type, subject, data, actor and, when given, occurred_at) is
        acknowledged with the original seq and hash and not appended again.
        Acknowledgement happens only after the durable commit.

        With a catalogue, every draft must be a known type whose subject and
        payload match its schema, and ``role`` (the credential's role; None for
        a trusted local caller such as the CLI on the database file) must be
        allowed to append it. ``policy.denied`` is the ledger's own record and
        no caller may append it. A draft the rollout policy refuses fails the
        batch, and the attempt is recorded as a ``policy.denied`` event.

        Raises:
            Forbidden: ``role`` may not append one of the types.
            SchemaViolation, InvalidEvent: a draft fails its catalogue entry;
                ``field`` is prefixed with ``events[i]``.
            Conflict: an ``id`` exists with different content (nothing is appended).
            PolicyDenied: the rollout policy refuses a draft (only the denial is appended).
            InvalidEvent: the batch is empty or over ``max_batch`` (a request
                limit for network callers; the CLI appends a file of any size
                in one transaction with ``max_batch=None``).
            StoreError: the backend failed (nothing is appended).
        """
        self.validate(drafts, role, max_batch=max_batch)
        (outcome,) = self.append_group([AppendRequest(drafts, actor)])
        if outcome.error is not None:
            raise outcome.error
        assert outcome.acks is not None
        return outcome.acks

    def validate(
        self, drafts: Sequence[EventDraft], role: str | None, *, max_batch: int | None = MAX_BATCH
    ) -> None:
        """The checks that need no transaction: batch size, catalogue, role (see append)."""
        if not drafts:
            raise InvalidEvent("the batch is empty", field="events")
        if max_batch is not None and len(drafts) > max_batch:
            raise InvalidEvent(f"a batch holds at most {max_batch} events", field="events")
        if self.catalogue is not None:
            self._check_catalogue(drafts, role)

    def append_group(self, requests: Sequence[AppendRequest]) -> list[Outcome]:
        """Append several already-validated requests in one durable transaction.

        Each request is all or nothing on its own and gets its own outcome;
        the group shares one commit (see ledger.appending). Errors that are
        not the requests' own (the store failing) fail the whole group.
        """
        try:
            return self._append_group(requests, optimistic=True)
        except IdsTaken:
            # A given id is stored already (a client retrying): the store wrote
            # nothing; the lookup tells identical retries from conflicts.
            return self._append_group(requests, optimistic=False)

    def _append_group(
        self, requests: Sequence[AppendRequest], *, optimistic: bool
    ) -> list[Outcome]:
        recorded_at = format_time(self._clock())
        given = [d.id for r in requests for d in r.drafts if d.id is not None]
        with self.store.transaction() as tx:
            # A store that can skip the lookup (the unique index checks the ids
            # at the commit, raising IdsTaken) saves a query per id.
            existing: dict[str, Event] = {}
            if given and not (optimistic and tx.assume_new(given)):
                existing = tx.events_by_id(given)
            head = tx.head()
            projector = self._projector(tx, head) if self._project else None
            group = GroupAppend(head, existing, projector, recorded_at, self._new_id)
            group.prefetch(requests)
            outcomes = [group.run(request) for request in requests]
            new = group.new
            noted: dict[str, int] = {}
            if new:
                noted = self._note_schema_versions(tx, new)
                tx.insert_events(new)
                frontier = self._extend_tree(tx, head, new) if self._maintain_tree else None
                if projector is not None:
                    projector.flush()
        # Caches learn only from a committed transaction: a rolled-back one
        # (a store failure, or IdsTaken before a redo) must leave them as they were.
        if projector is not None:
            self._doc_cache.keep(projector)
        if new:
            self._frontier = frontier
        self._known_versions.update(noted)
        return outcomes

    def _note_schema_versions(self, tx: WriteTransaction, new: Sequence[Event]) -> dict[str, int]:
        """Record from which seq each type's payloads follow its current schema version.

        The envelope has no schema version (DESIGN.md fixes its fields), so the
        ledger keeps, in meta ``schema_versions``, each type's versions with
        the first seq appended under them; ``upcast`` reads an event's version
        from its seq. Written in the append's transaction, so it never lags.
        Returns the versions now on record, for ``_known_versions`` once committed.
        """
        catalogue = self.catalogue
        if catalogue is None:
            return {}
        pending: dict[str, int] = {}
        for event in new:
            if event.type in catalogue and event.type not in pending:
                wanted = catalogue.get(event.type).schema_version
                if self._known_versions.get(event.type) != wanted:
                    pending[event.type] = event.seq
        if not pending:
            return {}
        table = orjson.loads(tx.get_meta("schema_versions") or "{}")
        noted: dict[str, int] = {}
        changed = False
        for type_, seq in pending.items():
            wanted = catalogue.get(type_).schema_version
            history = table.setdefault(type_, [])
            if not history or history[-1][0] != wanted:
                history.append([wanted, seq])
                changed = True
            noted[type_] = wanted
        if changed:
            tx.set_meta("schema_versions", orjson.dumps(table).decode())
        return noted

    def schema_version_of(self, event: Event) -> int:
        """The schema version ``event``'s payload was appended under (1 if never noted)."""
        table = orjson.loads(self.store.get_meta("schema_versions") or "{}")
        version = 1
        for number, first_seq in table.get(event.type, []):
            if first_seq <= event.seq:
                version = number
        return int(version)

    def upcast(self, event: Event) -> object:
        """``event``'s payload upcast to its type's current schema version (on read).

        Stored bytes are never rewritten: corrections and new shapes are new
        events, and old payloads are brought up to date only when read.
        """
        data = event.data
        if self.catalogue is None or event.type not in self.catalogue:
            return data
        version = self.schema_version_of(event)
        if version == self.catalogue.get(event.type).schema_version or not isinstance(data, dict):
            return data
        return self.catalogue.upcast(event.type, version, data)

    def _projector(self, tx: WriteTransaction, head: Head) -> BatchProjector:
        """A projector for this transaction, first catching up on events it has not seen.

        Events appended by a writer that did not project (or before the
        projections existed) are replayed here, under the write lock, so the
        policy is always judged on the state at the head.
        """
        position = int(tx.get_meta("projection_seq") or 0)
        epoch = tx.get_meta("projection_epoch")  # changed by every rebuild
        projector = BatchProjector(tx, self._doc_cache.valid_at(position, epoch), position, epoch)
        if position < head.seq:
            for event in self.store.read(position + 1, head.seq):
                projector.apply(event_view(event))
            projector.flush()
        return projector

    def _check_catalogue(self, drafts: Sequence[EventDraft], role: str | None) -> None:
        catalogue = self.catalogue
        assert catalogue is not None
        for index, draft in enumerate(drafts):
            where = f"events[{index}]"
            try:
                allowed = catalogue.allowed_roles(draft.type)
                if not allowed or (role is not None and role not in allowed):
                    who = "no caller" if not allowed else f"role {role!r}"
                    raise Forbidden(
                        f"{where}.type: {who} may not append {draft.type}"
                        + (f" (allowed: {', '.join(sorted(allowed))})" if allowed else ""),
                        field=f"{where}.type",
                    )
                catalogue.check_subject(draft.type, draft.subject)
                catalogue.validate(draft.type, draft.data)
            except LedgerError as exc:
                if isinstance(exc, Forbidden):
                    raise
                field = f"{where}.{exc.field}" if exc.field else where
                named = exc.field is not None and exc.message.startswith(f"{exc.field}:")
                message = f"{where}.{exc.message}" if named else f"{where}: {exc.message}"
                raise type(exc)(message, field=field) from None

    def _extend_tree(self, tx: WriteTransaction, head: Head, new: Sequence[Event]) -> _Frontier:
        cached = self._frontier
        if cached is not None and cached.size == head.seq and cached.head_hash == head.hash:
            hashes = cached.hashes
        else:
            ids = frontier_ids(head.seq)
            found = tx.merkle_nodes(ids)
            hashes = [found[i] for i in ids]
        result = append_leaves(hashes, head.seq, leaf_hashes(e.body for e in new))
        tx.insert_merkle_nodes(result.nodes)
        return _Frontier(result.size, new[-1].hash, list(result.frontier))

    # ---- reading ---------------------------------------------------------------

    def head(self) -> Head:
        """The last seq and hash."""
        return self.store.head()

    def events(self, start: int = 1, end: int | None = None) -> Iterator[Event]:
        """Stream events in seq order."""
        return self.store.read(start, end)

    def _forget_frontier(self) -> None:
        self._frontier = None

    def _check_stored_checkpoint(self) -> ChainReport | None:
        """The latest stored checkpoint must be a valid signed note saying what its row says.

        verify trusts the row's size and root only after this, so an edited
        checkpoint row cannot hide a truncation.
        """
        stored = self.store.latest_checkpoint()
        verifier_key = self.store.get_meta("verifier_key")
        if stored is None or verifier_key is None:
            return None
        try:
            signed = verify_checkpoint(stored.note, parse_verifier_key(verifier_key))
        except CheckpointInvalid as exc:
            return _checkpoint_break(f"the latest stored checkpoint does not verify: {exc}")
        if (signed.size, signed.root_hash) != (stored.size, bytes(stored.root_hash)):
            return _checkpoint_break(
                f"the checkpoint row says size {stored.size} but its signed note says {signed.size}"
                if signed.size != stored.size
                else "the checkpoint row's root differs from its signed note"
            )
        return None

    def rebuild_projections(self, progress: Callable[[int], None] | None = None) -> int:
        """Rebuild every projection from the events; return the tracking position.

        One transaction holds the write lock throughout, so no append can
        project onto half-rebuilt state; readers see the old projections
        until it commits.
        """
        self._doc_cache.clear()
        with self.store.transaction() as tx:
            tx.reset_projections()
            projector = BatchProjector(tx)
            count = 0
            for event in self.store.read():
                projector.apply(event_view(event))
                count += 1
                if count % 10_000 == 0:
                    projector.flush()
                    if progress is not None:
                        progress(count)
            projector.flush()
        return count

    # ---- verifying -------------------------------------------------------------

    def verify(
        self, progress: Callable[[int], None] | None = None, *, workers: int = 1
    ) -> ChainReport:
        """Re-hash the whole chain and check the Merkle tree, in constant memory.

        Beyond the chain itself (see ChainVerifier), checks that the latest
        stored checkpoint's size and root still hold (so a ledger truncated
        after a checkpoint is caught) and that the stored Merkle tree's
        frontier equals the one recomputed from the events. ``workers`` > 1
        spreads large ledgers over processes (ledger.verification).
        """
        checkpoint_fault = self._check_stored_checkpoint()
        if checkpoint_fault is not None:
            return checkpoint_fault
        report, frontier = verify_ledger(self.store, workers=workers, progress=progress)
        if not report.ok or not self._maintain_tree or not report.checked:
            return report
        ids = frontier_ids(report.checked)
        stored = self.store.merkle_nodes(ids)
        if [stored.get(i) for i in ids] != frontier:
            return ChainReport(
                False,
                report.checked,
                report.checked,
                BreakKind.MERKLE_MISMATCH,
                "the stored Merkle tree does not match the events (run rebuild)",
                report.head_hash,
            )
        return report


def _checkpoint_break(reason: str) -> ChainReport:
    return ChainReport(False, 0, None, BreakKind.BAD_CHECKPOINT, reason)
