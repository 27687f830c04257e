"""One append transaction for one or many requests (service layer).

Each request is all or nothing on its own: its drafts are sealed in order,
and if one is refused (an id conflict, the rollout policy) the request's
in-memory effects are undone while the other requests of the group go on.
Nothing is written until every request has been judged, so undoing a
request never needs the database; the events, Merkle nodes and projection
effects of the accepted requests are then written in the one transaction.
This is what lets concurrent single-event requests share one durable commit
(group commit) without one bad request failing the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ledger.canonical import canonical_bytes, parse_json
from ledger.chain import seal
from ledger.errors import Conflict, InvalidEvent, LedgerError, PolicyDenied
from ledger.events import Event, EventDraft, slot_setters
from ledger.policy import denied_event_data, policy_keys_for
from ledger.projecting import BatchProjector, event_view
from ledger.projections.base import DraftView
from ledger.projections.registry import keys_for
from ledger.projections.rules import Policy, Violation
from ledger.store.protocol import Head

__all__ = ["AppendRequest", "Appended", "GroupAppend", "Outcome"]


@dataclass(frozen=True, slots=True)
class Appended:
    """The acknowledgement of one draft: where it sits and whether this call added it."""

    seq: int
    hash: str
    id: str
    created: bool


_a_seq, _a_hash, _a_id, _a_created = slot_setters(Appended)


def _make_appended(seq: int, hash: str, id: str, created: bool) -> Appended:
    """``Appended(...)`` at half the cost (ledger.events.slot_setters): one per event."""
    ack: Appended = object.__new__(Appended)
    _a_seq(ack, seq)
    _a_hash(ack, hash)
    _a_id(ack, id)
    _a_created(ack, created)
    return ack


@dataclass(frozen=True, slots=True)
class AppendRequest:
    """One caller's batch: its drafts and the principal the actor is taken from."""

    drafts: Sequence[EventDraft]
    actor: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """A request's result: its acknowledgements, or the error that refused it."""

    acks: list[Appended] | None = None
    error: LedgerError | None = None


class GroupAppend:
    """Seals requests in order inside one open write transaction."""

    def __init__(
        self,
        head: Head,
        existing: dict[str, Event],
        projector: BatchProjector | None,
        recorded_at: str,
        new_id: Callable[[], str],
    ) -> None:
        self.seq, self.prev = head.seq, head.hash
        self.existing = existing
        self.projector = projector
        self.recorded_at = recorded_at
        self.new_id = new_id
        self.new: list[Event] = []
        self._parsed: dict[int, object] = {}  # draft payloads parsed once, by id(draft)
        self.in_group: dict[str, tuple[EventDraft, str, Appended]] = {}
        self._added: list[str] = []  # ids put in in_group, in order, to undo a request

    def prefetch(self, requests: Sequence[AppendRequest]) -> None:
        """Read every document the group may touch in one go (one round trip, not one per key)."""
        if self.projector is None:
            return
        keys: list[str] = []
        for request in requests:
            for draft in request.drafts:
                data = self._data(draft)
                if not isinstance(data, dict):
                    continue
                view: DraftView = {
                    "type": draft.type,
                    "subject": draft.subject,
                    "actor": request.actor,
                    "data": data,
                }
                keys += policy_keys_for(view)
                keys += keys_for(
                    {
                        **view,
                        "seq": 0,
                        "id": "",
                        "occurred_at": self.recorded_at,
                        "recorded_at": self.recorded_at,
                        "hash": "",
                    }
                )
        self.projector.prefetch(keys)

    def _data(self, draft: EventDraft) -> object:
        data = self._parsed.get(id(draft))
        if data is None:
            data = self._parsed[id(draft)] = draft.data
        return data

    def run(self, request: AppendRequest) -> Outcome:
        """Judge and seal one request; on refusal undo exactly its effects."""
        saved = (self.seq, self.prev, len(self.new), len(self._added))
        snapshot = self.projector.snapshot() if self.projector is not None else None
        try:
            return Outcome(acks=self._seal_all(request.drafts, request.actor, enforce=True))
        except _Denied as denied:
            self._undo(saved, snapshot)
            self._record_denial(denied, request.actor)
            unmet = [v.message for v in denied.violations]
            return Outcome(
                error=PolicyDenied(
                    f"events[{denied.index}]: the rollout policy refuses {denied.view['type']}"
                    f" on {denied.view['subject']}: " + "; ".join(unmet),
                    unmet=unmet,
                    field=f"events[{denied.index}]",
                )
            )
        except LedgerError as error:
            self._undo(saved, snapshot)
            return Outcome(error=error)

    def _undo(
        self,
        saved: tuple[int, str, int, int],
        snapshot: object,
    ) -> None:
        self.seq, self.prev, keep, added = saved
        del self.new[keep:]
        # An id enters in_group only when it was in neither the store nor the group.
        for event_id in self._added[added:]:
            del self.in_group[event_id]
        del self._added[added:]
        if self.projector is not None:
            self.projector.restore(snapshot)

    def _record_denial(self, denied: _Denied, actor: str) -> None:
        """Keep the refused attempt on the record, so auditors see attempted bypasses."""
        data = denied_event_data(
            denied.view, denied.violations, policy=denied.policy, draft_id=denied.draft_id
        )
        draft = EventDraft.create("policy.denied", denied.view["subject"], data)
        self._seal_all([draft], actor, enforce=False)

    def _seal_all(
        self, drafts: Sequence[EventDraft], actor: str, *, enforce: bool
    ) -> list[Appended]:
        acks: list[Appended] = []
        existing, in_group = self.existing, self.in_group
        for index, draft in enumerate(drafts):
            draft_id = draft.id
            if draft_id is not None and (draft_id in existing or draft_id in in_group):
                known = self._known(draft, actor, index)
                if known is not None:
                    acks.append(known)
                    continue
            data = self._data(draft) if self.projector is not None else None
            if self.projector is not None and enforce:
                assert isinstance(data, dict)
                view: DraftView = {
                    "type": draft.type,
                    "subject": draft.subject,
                    "actor": actor,
                    "data": data,
                }
                try:
                    governing, violations = self.projector.check(view, self.recorded_at)
                except InvalidEvent as exc:
                    # Name the draft in the batch, as the catalogue's own checks do.
                    raise InvalidEvent(
                        f"events[{index}].{exc.message}",
                        field=f"events[{index}].{exc.field or 'subject'}",
                    ) from None
                if violations:
                    raise _Denied(index, view, governing, violations, draft.id)
            self.seq += 1
            event = seal(
                draft,
                seq=self.seq,
                prev_hash=self.prev,
                actor=actor,
                recorded_at=self.recorded_at,
                id=draft.id or self.new_id(),
            )
            self.prev = event.hash
            self.new.append(event)
            if self.projector is not None:
                self.projector.apply(event_view(event, data))
            ack = _make_appended(event.seq, event.hash, event.id, True)
            if draft.id is not None:
                self.in_group[draft.id] = (draft, actor, ack)
                self._added.append(draft.id)
            acks.append(ack)
        return acks

    def _known(self, draft: EventDraft, actor: str, index: int) -> Appended | None:
        """The original acknowledgement of a retried id, or None for a new id."""
        assert draft.id is not None
        old = self.existing.get(draft.id)
        if old is not None:
            _check_same(old, draft, actor, index)
            return Appended(old.seq, old.hash, old.id, False)
        twin = self.in_group.get(draft.id)
        if twin is None:
            return None
        if twin[0] != draft or twin[1] != actor:
            raise Conflict(
                f"events[{index}].id: {draft.id} appears twice with different content",
                field=f"events[{index}].id",
            )
        return twin[2]


class _Denied(Exception):
    """Raised while sealing a request to undo it when the policy refuses."""

    def __init__(
        self,
        index: int,
        view: DraftView,
        policy: Policy | None,
        violations: list[Violation],
        draft_id: str | None,
    ) -> None:
        super().__init__(view["type"])
        self.index = index
        self.view = view
        self.policy = policy
        self.violations = violations
        self.draft_id = draft_id


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
