"""The PostgreSQL write transaction's fast path keeps every guarantee of the slow one.

The transaction starts with its first call (BEGIN, lock and head in one
pipeline) and keeps events and Merkle nodes until the commit or until a read
could see them (ledger.store.postgres_rows). These tests pin what that must
not change: reads see the kept rows, a failure anywhere leaves nothing behind
and frees the lock, the head is read after the lock whatever the server's
default isolation, and a nested transaction is a savepoint.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import psycopg
import pytest
from psycopg import pq

from ledger.chain import seal
from ledger.errors import StoreError
from ledger.events import Event
from ledger.merkle import frontier_ids
from ledger.service import Ledger
from ledger.store import EventStore, open_store
from ledger.store.postgres import APPEND_LOCK, PostgresStore
from ledger.store.postgres_rows import PostgresTransaction
from ledger.store.protocol import Head
from tests.helpers import draft


@pytest.fixture
def backend() -> str:
    """Every store in this module is a PostgreSQL one."""
    return "postgres"


def _chain(count: int, after: Event | None = None) -> list[Event]:
    """``count`` events following ``after`` (or starting the chain), sealed outside any ledger."""
    events: list[Event] = []
    for _ in range(count):
        seq = 1 if after is None else after.seq + 1
        after = seal(
            draft(seq),
            seq=seq,
            prev_hash="0" * 64 if after is None else after.hash,
            actor="ci",
            recorded_at="2026-11-26T00:00:00.000Z",
            id=f"00000000-0000-4000-8000-{seq:012d}",
        )
        events.append(after)
    return events


def _in_thread(fn: Callable[[], object], timeout: float = 20.0) -> list[BaseException]:
    """Run ``fn`` in a thread and wait for it; the errors it raised (TimeoutError if stuck)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # reported to the test's thread
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        errors.append(TimeoutError(f"still running after {timeout} s"))
    return errors


@pytest.mark.parametrize("size", [1, 20], ids=["pipelined-insert", "copy"])
def test_reads_inside_a_write_see_the_events_it_has_not_sent_yet(ledger: Ledger, size: int) -> None:
    ledger.append([draft(1)], "ci")
    (first,) = ledger.events()
    new = _chain(size, first)
    with ledger.store.transaction() as tx:
        tx.insert_events(new)
        assert tx.head() == Head(new[-1].seq, new[-1].hash)
        assert ledger.store.get(new[-1].seq) == new[-1]
        assert list(ledger.store.read(2)) == new
        assert tx.events_by_id([new[0].id]) == {new[0].id: new[0]}
    assert list(ledger.events()) == [first, *new]


def test_a_large_batch_is_streamed_while_the_caller_goes_on(store_url: str) -> None:
    # The events' COPY is left open after insert_events, so the server indexes
    # the rows while the service computes the Merkle tree; any use of the
    # connection (here: a read) ends it first.
    store = open_store(store_url)
    events = _chain(20)
    try:
        with store.transaction() as tx, psycopg.connect(store_url, autocommit=True) as watcher:
            pid = tx.conn.info.backend_pid
            tx.insert_events(events)
            row = watcher.execute(
                "SELECT state, query FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            assert row is not None
            assert row[0] == "active"
            assert str(row[1]).startswith("COPY events")
            assert tx.events_by_id([events[-1].id]) == {events[-1].id: events[-1]}
        assert list(store.read()) == events
    finally:
        store.close()


@pytest.mark.parametrize("size", [3, 20], ids=["kept", "copy-open"])
def test_a_write_that_raises_leaves_nothing_and_frees_the_lock(store_url: str, size: int) -> None:
    # 20 events are streamed at once and their COPY left open: giving up must cancel it.
    store, other = open_store(store_url), open_store(store_url)

    def give_up() -> None:
        with store.transaction() as tx:
            tx.insert_events(_chain(size))
            tx.insert_merkle_nodes([(1, 0, b"\x01" * 32)])
            raise RuntimeError("the caller gave up")

    with pytest.raises(RuntimeError):
        give_up()
    assert store.head() == Head(0, "0" * 64)
    assert store.merkle_node_count() == 0
    assert _in_thread(lambda: Ledger(other).append([draft(1)], "ci")) == []
    assert Ledger(store).append([draft(2)], "ci")[0].seq == 2
    assert Ledger(store).verify().ok
    store.close()
    other.close()


@pytest.mark.parametrize("size", [1, 20], ids=["pipelined-insert", "copy"])
def test_a_write_refused_at_the_commit_leaves_nothing_and_the_store_usable(
    ledger: Ledger, size: int
) -> None:
    ledger.append([draft(1)], "ci")
    (first,) = ledger.events()
    # A seq that is taken: refused by the primary key, which only the commit's
    # round trip finds out now that rows are kept until then.
    clash = [*_chain(size - 1, first), first] if size > 1 else [first]
    with pytest.raises(StoreError, match="append failed"), ledger.store.transaction() as tx:
        tx.insert_events(clash)
    assert list(ledger.events()) == [first]
    assert ledger.append([draft(2)], "ci")[0].seq == 2
    assert ledger.verify().ok


def test_an_untouched_transaction_takes_no_lock(store_url: str) -> None:
    store, other = open_store(store_url), open_store(store_url)
    with store.transaction():
        assert _in_thread(lambda: Ledger(other).append([draft(1)], "ci")) == []
    assert store.head().seq == 1
    store.close()
    other.close()


@pytest.mark.parametrize("size", [1, 20], ids=["kept", "copy-open"])
def test_a_nested_transaction_is_a_savepoint_of_the_open_one(store_url: str, size: int) -> None:
    # With 20 events each side, both the outer and the inner COPY are open when
    # the next part begins: the inner's must be cancelled, the outer's ended.
    store = open_store(store_url)
    outer_events = _chain(2 if size == 1 else size)

    def inner_gives_up() -> None:
        with store.transaction() as inner:
            inner.insert_events(_chain(size, outer_events[-1]))
            raise RuntimeError("undo the inner part only")

    with store.transaction() as tx:
        tx.insert_events(outer_events)
        with pytest.raises(RuntimeError):
            inner_gives_up()
        more = _chain(size, outer_events[-1])
        tx.insert_events(more)
    assert list(store.read()) == [*outer_events, *more]
    store.close()


@pytest.mark.parametrize(
    "isolation", ["repeatable%5C%20read", "serializable"], ids=["repeatable-read", "serializable"]
)
def test_a_writer_queued_on_the_lock_reads_the_head_after_it_whatever_the_default(
    store_url: str, isolation: str
) -> None:
    # The waiting writer's BEGIN, lock and head query go out together; the head
    # must still come from a snapshot taken after the lock is granted.
    strict = store_url.replace(
        "-csearch_path", f"-cdefault_transaction_isolation%3D{isolation}%20-csearch_path"
    )
    holder, waiter = open_store(store_url), open_store(strict)
    first = _chain(1)
    with holder.transaction() as tx:
        tx.head()  # holds the append lock from here on
        errors: list[BaseException] = []
        thread = threading.Thread(
            target=lambda: _record(errors, lambda: Ledger(waiter).append([draft(2)], "ci"))
        )
        thread.start()
        _wait_for_a_lock_waiter(store_url, holder)
        tx.insert_events(first)
        tx.insert_merkle_nodes([])
    thread.join(20)
    assert errors == []
    assert [e.seq for e in holder.read()] == [1, 2]
    assert next(iter(holder.read(2))).prev_hash == first[0].hash
    holder.close()
    waiter.close()


def _record(errors: list[BaseException], fn: Callable[[], object]) -> None:
    try:
        fn()
    except BaseException as exc:  # reported to the test's thread
        errors.append(exc)


def _wait_for_a_lock_waiter(url: str, store: EventStore, timeout: float = 20.0) -> None:
    """Return once some connection waits for ``store``'s append lock."""
    assert isinstance(store, PostgresStore)
    key = store._lock_key & 0xFFFFFFFF  # pg_locks shows the int4 key as an unsigned oid
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND classid = %s AND objid = %s AND objsubid = 2",
                (APPEND_LOCK, key),
            ).fetchone()
            if row is not None and row[0] > 0:
                return
            time.sleep(0.02)
    raise AssertionError("no writer ever queued on the append lock")


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 13])
def test_the_first_round_trip_reads_the_heads_merkle_frontier(ledger: Ledger, size: int) -> None:
    ledger.append([draft(n) for n in range(size)], "ci")
    ids = frontier_ids(size)
    expected = ledger.store.merkle_nodes(ids)
    assert sorted(expected) == sorted(ids)
    with ledger.store.transaction() as tx:
        tx.head()
        # Read with the lock, so a writer whose cached frontier is stale needs no
        # further round trip (white box: the transaction's node cache).
        assert isinstance(tx, PostgresTransaction)
        assert {node: tx._nodes_known[node] for node in ids} == expected
        assert tx.merkle_nodes(ids) == expected


def _round_trips(trace: Path) -> int:
    """Turns from client to server messages in a libpq trace: one per round trip."""
    turns, last = 0, ""
    for line in trace.read_text().splitlines():
        side = line.split("\t", 1)[0]
        turns += side == "B" and last == "F"
        last = side if side in ("F", "B") else last
    return turns


@contextmanager
def _tracing(store: PostgresStore, directory: Path) -> Iterator[list[Path]]:
    """A libpq trace file per pooled connection while the block runs (the pool hands its
    idle connections out in turn, so any of them may carry the append)."""
    size = store._pool.get_stats()["pool_size"]
    files = [directory / f"libpq-{n}.trace" for n in range(size)]
    with ExitStack() as stack:
        outs = [stack.enter_context(path.open("w")) for path in files]
        with ExitStack() as borrowed:
            conns = [borrowed.enter_context(store._pool.connection()) for _ in files]
        for conn, out in zip(conns, outs, strict=True):
            conn.pgconn.trace(out.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield files
        finally:
            for conn in conns:
                conn.pgconn.untrace()


@pytest.mark.parametrize(("size", "expected"), [(1, 2), (1000, 4)])
def test_an_append_costs_two_round_trips_and_four_with_copy(
    ledger: Ledger, tmp_path: Path, size: int, expected: int
) -> None:
    # Every round trip is spent holding the append lock: BEGIN, the lock, the
    # head, the frontier and the id lookup share one; the rows share COMMIT's
    # (the events' COPY, for 8 rows or more, costs two round trips; the Merkle
    # nodes of 1,000 events are a dozen merkle_runs rows, INSERTed with COMMIT).
    store = ledger.store
    assert isinstance(store, PostgresStore)
    ledger = Ledger(store, project=False)  # the core: projections add their own reads and writes
    ledger.append([draft(0, id=str(uuid.uuid4()))], "ci")
    with _tracing(store, tmp_path) as traces:
        ledger.append([draft(n, id=str(uuid.uuid4())) for n in range(size)], "ci")
    assert sum(_round_trips(trace) for trace in traces) == expected
    assert ledger.verify().ok


def test_a_transaction_whose_statement_failed_is_not_reported_committed(ledger: Ledger) -> None:
    # PostgreSQL turns COMMIT of a failed transaction into a silent ROLLBACK; an
    # append must not be acknowledged as if it had been written.
    store = ledger.store

    def fail_and_go_on() -> None:
        with store.transaction() as tx:
            tx.head()
            assert isinstance(tx, PostgresTransaction)
            with suppress(psycopg.errors.DivisionByZero):
                tx.conn.execute("SELECT 1 / 0")

    with pytest.raises(StoreError, match="nothing was written"):
        fail_and_go_on()
    assert store.head() == Head(0, "0" * 64)
    assert ledger.append([draft(1)], "ci")[0].seq == 1


def test_after_a_nested_transaction_commits_its_part_the_outer_head_includes_it(
    store_url: str,
) -> None:
    """The outer transaction keeps its head (it is the only writer under the lock);
    a savepoint of it that appended moves that head too, or the outer's next
    append would reuse the inner's seqs and the whole commit would fail."""
    store = open_store(store_url)
    events = _chain(4)
    try:
        with store.transaction() as tx:
            tx.insert_events(events[:2])
            with store.transaction() as inner:
                assert inner.head() == Head(2, events[1].hash)
                inner.insert_events(events[2:3])
            assert tx.head() == Head(3, events[2].hash)
            tx.insert_events(events[3:])
        assert list(store.read()) == events
    finally:
        store.close()


def test_a_first_round_trip_that_fails_leaves_the_pooled_connection_idle(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # BEGIN goes out with the lock in one pipeline: when the lock statement
    # fails (here lock_timeout), the transaction is open and aborted although
    # the store's transaction never counted as started (rollback() sends no
    # ROLLBACK); the pool's context rolls it back before pooling it.
    impatient = store_url.replace("options=", "options=-clock_timeout%3D100%20", 1)
    assert impatient != store_url
    store = open_store(impatient)
    assert isinstance(store, PostgresStore)
    returned: list[pq.TransactionStatus] = []
    putconn = store._pool.putconn

    def watched(conn: psycopg.Connection[tuple[object, ...]]) -> None:
        returned.append(conn.info.transaction_status)
        putconn(conn)

    monkeypatch.setattr(store._pool, "putconn", watched)
    try:
        with psycopg.connect(store_url, autocommit=True) as holder:
            holder.execute("BEGIN")
            holder.execute("SELECT pg_advisory_xact_lock(%s, %s)", store._lock)
            with pytest.raises(StoreError, match="lock timeout"):
                Ledger(store).append([draft(1)], "ci")
        assert returned == [pq.TransactionStatus.IDLE]
        assert Ledger(store).append([draft(2)], "ci")[0].seq == 1
    finally:
        store.close()
