"""Optimistic ids on PostgreSQL: skipping the lookup never changes what an append means.

``PostgresTransaction.assume_new`` lets a writer skip the up-front id lookup;
the unique index on ``events.id`` then catches a stored id at the write, the
transaction is rolled back (``IdsTaken``) and the append is redone with the
lookup. These tests pin both halves: the store refuses and leaves nothing,
and an append through either path acknowledges the same seqs and hashes and
raises the same conflicts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import pytest

from ledger.appending import Appended
from ledger.errors import Conflict, StoreError
from ledger.events import Event
from ledger.schema_files import load_catalogue
from ledger.service import Ledger
from ledger.store import EventStore, open_store
from ledger.store.postgres_rows import PostgresTransaction
from ledger.store.protocol import IdsTaken
from tests.helpers import draft


@pytest.fixture
def backend() -> str:
    """Every store in this module is a PostgreSQL one."""
    return "postgres"


def _new_ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


def _write(store: EventStore, events: Sequence[Event], assumed: Sequence[str]) -> None:
    """One transaction inserting ``events``, declaring ``assumed`` new first."""
    with store.transaction() as tx:
        assert isinstance(tx, PostgresTransaction)
        if assumed:
            tx.assume_new(assumed)
        tx.insert_events(events)


def _retried(acks: list[Appended]) -> list[Appended]:
    """The acknowledgements a retry of these gets: same seq and hash, not created."""
    return [replace(a, created=False) for a in acks]


def _fields(event: Event) -> tuple[str, str, str, str, str, str, str, bytes]:
    return (
        event.type,
        event.subject,
        event.actor,
        event.occurred_at,
        event.recorded_at,
        event.prev_hash,
        event.hash,
        event.body,
    )


# ---- the store's half: a stored id refuses the whole transaction ---------------------


@pytest.mark.parametrize("size", [1, 20], ids=["pipelined-insert", "copy"])
def test_a_stored_id_assumed_new_refuses_the_write_and_leaves_nothing(
    ledger: Ledger, size: int
) -> None:
    stored = ledger.append([draft(n, id=i) for n, i in enumerate(_new_ids(3))], "ci")
    store = ledger.store
    head = store.head()
    events = list(store.read())
    # One stored id among new ones, at the end, so everything before it would fit.
    ids = [*_new_ids(size - 1), stored[1].id]
    batch = [Event(head.seq + 1 + k, i, *_fields(events[-1])) for k, i in enumerate(ids)]
    with pytest.raises(IdsTaken):
        _write(store, batch, ids)
    assert store.head() == head
    assert list(store.read()) == events
    # The lock is free and the connection clean: the next append goes through.
    assert ledger.append([draft(9)], "ci")[0].seq == head.seq + 1
    assert ledger.verify().ok


def test_without_assume_new_a_duplicate_id_stays_a_plain_store_error(ledger: Ledger) -> None:
    # Only a promise the caller made (assume_new) may turn into "redo with the lookup";
    # any other unique violation is a fault, reported as one.
    (ack,) = ledger.append([draft(1, id=str(uuid.uuid4()))], "ci")
    store = ledger.store
    (event,) = store.read()
    with pytest.raises(StoreError) as caught:
        _write(store, [Event(2, ack.id, *_fields(event))], [])
    assert not isinstance(caught.value, IdsTaken)
    assert store.head().seq == 1


def test_a_seq_clash_is_not_mistaken_for_a_stored_id(ledger: Ledger) -> None:
    ledger.append([draft(1)], "ci")
    store = ledger.store
    (event,) = store.read()
    with pytest.raises(StoreError) as caught:  # seq 1 is taken
        _write(store, [Event(1, "not-stored", *_fields(event))], ["not-stored"])
    assert not isinstance(caught.value, IdsTaken)
    assert store.head().seq == 1


def test_a_refused_savepoint_leaves_the_outer_transaction_usable(store_url: str) -> None:
    store = open_store(store_url)
    try:
        ledger = Ledger(store)
        (stored,) = ledger.append([draft(1, id=str(uuid.uuid4()))], "ci")
        (event,) = store.read()
        with store.transaction() as outer:
            outer.head()
            with pytest.raises(IdsTaken):
                _write(store, [Event(2, stored.id, *_fields(event))], [stored.id])
            assert outer.events_by_id([stored.id]) == {stored.id: event}
        assert store.head().seq == 1
    finally:
        store.close()


# ---- the append's half: both paths mean the same ------------------------------------


@dataclass
class Path:
    """Which way the service found stored ids, and what the store saw."""

    optimistic: bool
    assumed: list[int] = field(default_factory=list)  # assume_new calls
    refused: list[int] = field(default_factory=list)  # IdsTaken raised

    def reset(self) -> None:
        self.assumed.clear()
        self.refused.clear()

    def check_redone(self) -> None:
        """On the optimistic path a batch holding a stored id is refused once, then redone."""
        assert bool(self.assumed) == self.optimistic
        assert len(self.refused) == (1 if self.optimistic else 0)


@pytest.fixture(params=["lookup", "optimistic"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Path:
    spy = Path(request.param == "optimistic")
    if not spy.optimistic:
        # A store that does not take the promise is looked up first, as SQLite is.
        monkeypatch.setattr(PostgresTransaction, "assume_new", lambda self, ids: False)
    else:
        assume_new = PostgresTransaction.assume_new

        def assuming(self: PostgresTransaction, ids: Sequence[str]) -> bool:
            spy.assumed.append(1)
            return assume_new(self, ids)

        monkeypatch.setattr(PostgresTransaction, "assume_new", assuming)
    refuse = IdsTaken.__init__

    def refusing(self: IdsTaken, *args: Any, **kwargs: Any) -> None:
        spy.refused.append(1)
        refuse(self, *args, **kwargs)

    monkeypatch.setattr(IdsTaken, "__init__", refusing)
    return spy


@pytest.mark.parametrize("size", [2, 40], ids=["pipelined-insert", "copy"])
def test_a_batch_mixing_stored_and_new_ids_acknowledges_the_stored_ones(
    ledger: Ledger, path: Path, size: int
) -> None:
    ids = _new_ids(size)
    drafts = [draft(n, id=i) for n, i in enumerate(ids)]
    first = ledger.append(drafts[: size // 2], "ci")
    path.reset()
    again = ledger.append(drafts, "ci")  # a client retrying the whole batch, plus more
    path.check_redone()
    assert again[: size // 2] == _retried(first)
    assert [a.created for a in again[size // 2 :]] == [True] * (size - size // 2)
    assert [a.seq for a in again[size // 2 :]] == list(range(size // 2 + 1, size + 1))
    assert ledger.head().seq == size
    assert ledger.verify().ok


def test_a_stored_id_with_other_content_is_a_conflict_and_appends_nothing(
    ledger: Ledger, path: Path
) -> None:
    (taken,) = ledger.append([draft(1, id=str(uuid.uuid4()))], "ci")
    path.reset()
    batch = [draft(2, id=str(uuid.uuid4())), draft(3, id=taken.id), draft(4)]
    with pytest.raises(Conflict, match="already appended at seq 1"):
        ledger.append(batch, "ci")
    path.check_redone()
    assert ledger.head().seq == 1
    assert ledger.verify().ok


def test_an_id_repeated_in_one_batch_is_appended_once(ledger: Ledger, path: Path) -> None:
    # The group merges repeats before the store sees them: no refusal on either path.
    same = str(uuid.uuid4())
    acks = ledger.append([draft(1, id=same), draft(2), draft(1, id=same)], "ci")
    assert path.refused == []
    assert acks[0] == acks[2]
    assert acks[0].created
    assert ledger.head().seq == 2
    with pytest.raises(Conflict, match="appears twice"):
        ledger.append([draft(5, id=(other := str(uuid.uuid4()))), draft(6, id=other)], "ci")
    assert ledger.head().seq == 2


def test_a_retry_of_a_whole_stored_batch_appends_nothing(store: EventStore, path: Path) -> None:
    ledger = Ledger(store, project=False)
    drafts = [draft(n, id=i) for n, i in enumerate(_new_ids(30))]
    first = ledger.append(drafts, "ci")
    path.reset()
    assert ledger.append(drafts, "ci") == _retried(first)
    path.check_redone()
    assert ledger.head().seq == 30


def test_a_redone_append_notes_its_types_schema_versions_again(
    store: EventStore, path: Path
) -> None:
    # The refused attempt noted the type's schema version in the transaction it
    # rolled back; the redo must note it again, not trust the service's memory.
    catalogue = load_catalogue()
    data = {"suite": "offline-eval", "kind": "evaluation", "passed": True, "metrics": {"auc": 0.9}}
    stored = draft(1, id=str(uuid.uuid4()), data=data)
    Ledger(store, catalogue=catalogue).append([stored], "ci")
    store.set_meta("schema_versions", "{}")  # as if noted by nobody yet
    path.reset()
    batch = [stored, draft(2, id=str(uuid.uuid4()), data=data)]
    Ledger(store, catalogue=catalogue).append(batch, "ci")
    path.check_redone()
    noted = orjson.loads(store.get_meta("schema_versions") or "{}")
    assert noted == {stored.type: [[catalogue.get(stored.type).schema_version, 2]]}
