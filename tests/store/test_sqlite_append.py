"""Appending through the service onto the SQLite store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ledger.chain import GENESIS_HASH, verify_chain
from ledger.errors import Conflict, InvalidEvent
from ledger.service import Ledger
from ledger.store import EventStore, open_store
from tests.helpers import StepClock, draft, id_factory

ID = "6f1f2c8e-8f7d-4b8e-9a53-0d8b1f7c7a11"


def test_first_event_links_to_64_zeros_and_the_next_links_to_it(ledger: Ledger) -> None:
    a, b = ledger.append([draft(1), draft(2)], "ci")
    events = list(ledger.events())
    assert [e.seq for e in events] == [1, 2]
    assert events[0].prev_hash == GENESIS_HASH
    assert events[1].prev_hash == a.hash == events[0].hash
    assert b.hash == events[1].hash
    assert verify_chain(events).ok


def test_actor_comes_from_the_caller_not_the_payload(ledger: Ledger) -> None:
    ledger.append([draft(1)], "token:pipeline-ci")
    (event,) = ledger.events()
    assert event.actor == "token:pipeline-ci"


def test_retrying_the_same_id_with_the_same_content_returns_the_original(ledger: Ledger) -> None:
    (first,) = ledger.append([draft(1, id=ID)], "ci")
    (again,) = ledger.append([draft(1, id=ID)], "ci")
    assert (again.seq, again.hash, again.created) == (first.seq, first.hash, False)
    assert ledger.head().seq == 1


def test_same_id_with_different_content_is_a_conflict_and_appends_nothing(
    ledger: Ledger,
) -> None:
    ledger.append([draft(1, id=ID)], "ci")
    with pytest.raises(Conflict, match=ID):
        ledger.append([draft(5), draft(2, id=ID)], "ci")
    assert ledger.head().seq == 1


def test_same_id_from_another_actor_is_a_conflict(ledger: Ledger) -> None:
    ledger.append([draft(1, id=ID)], "ci")
    with pytest.raises(Conflict):
        ledger.append([draft(1, id=ID)], "someone-else")


def test_an_id_twice_in_one_batch_is_appended_once(ledger: Ledger) -> None:
    acks = ledger.append([draft(1, id=ID), draft(1, id=ID)], "ci")
    assert acks[0] == acks[1]
    assert ledger.head().seq == 1


def test_an_empty_batch_is_refused(ledger: Ledger) -> None:
    with pytest.raises(InvalidEvent):
        ledger.append([], "ci")


def test_a_batch_that_fails_in_the_store_appends_nothing(ledger: Ledger) -> None:
    ledger.append([draft(1)], "ci")

    class Boom(Exception):
        pass

    original = ledger.store.transaction

    def failing():  # type: ignore[no-untyped-def]
        cm = original()

        class Wrapper:
            def __enter__(self):  # type: ignore[no-untyped-def]
                tx = cm.__enter__()
                real_insert = tx.insert_merkle_nodes

                def insert(nodes):  # type: ignore[no-untyped-def]
                    real_insert(nodes)
                    raise Boom

                tx.insert_merkle_nodes = insert  # type: ignore[method-assign]
                return tx

            def __exit__(self, *exc):  # type: ignore[no-untyped-def]
                return cm.__exit__(*exc)

        return Wrapper()

    ledger.store.transaction = failing  # type: ignore[method-assign]
    with pytest.raises(Boom):
        ledger.append([draft(2), draft(3)], "ci")
    ledger.store.transaction = original  # type: ignore[method-assign]
    assert ledger.head().seq == 1
    assert ledger.verify().ok


@pytest.mark.parametrize("statement", ["UPDATE events SET actor = 'mallory'", "DELETE FROM events"])
def test_the_database_refuses_update_and_delete(
    db_path: Path, ledger: Ledger, statement: str
) -> None:
    ledger.append([draft(1), draft(2)], "ci")
    conn = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(statement)
    conn.close()


def test_merkle_nodes_and_checkpoints_are_append_only_too(db_path: Path, ledger: Ledger) -> None:
    ledger.append([draft(i) for i in range(4)], "ci")
    conn = sqlite3.connect(db_path)
    for statement in ("UPDATE merkle_nodes SET hash = x'00'", "DELETE FROM merkle_nodes"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(statement)
    conn.close()


def test_a_second_store_on_the_same_file_continues_the_same_chain(db_path: Path) -> None:
    first = open_store(db_path)
    Ledger(first, clock=StepClock()).append([draft(1)], "ci")
    second = open_store(db_path)
    Ledger(second, clock=StepClock()).append([draft(2)], "ci")
    Ledger(first, clock=StepClock()).append([draft(3)], "ci")
    assert [e.seq for e in first.read()] == [1, 2, 3]
    assert Ledger(first).verify().ok
    first.close()
    second.close()


def test_a_stale_cached_frontier_is_not_used_after_another_writer(db_path: Path) -> None:
    a_store, b_store = open_store(db_path), open_store(db_path)
    a, b = Ledger(a_store, new_id=id_factory()), Ledger(b_store)
    a.append([draft(1)], "ci")
    b.append([draft(2), draft(3)], "ci")
    a.append([draft(4)], "ci")
    assert a.verify().ok
    a_store.close()
    b_store.close()


def test_read_streams_a_range(ledger: Ledger) -> None:
    ledger.append([draft(i) for i in range(10)], "ci")
    assert [e.seq for e in ledger.events(3, 5)] == [3, 4, 5]
    store: EventStore = ledger.store
    assert store.get(4) is not None
    assert store.get(11) is None


def test_the_batch_limit_applies_to_callers_that_set_it_and_the_cli_sets_none(
    ledger: Ledger,
) -> None:
    with pytest.raises(InvalidEvent, match="at most 3"):
        ledger.append([draft(i) for i in range(5)], "ci", max_batch=3)
    assert ledger.head().seq == 0
    assert len(ledger.append([draft(i) for i in range(5)], "ci", max_batch=None)) == 5
