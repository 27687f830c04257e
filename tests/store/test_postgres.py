"""What only the PostgreSQL store must show: triggers, cross-process serialization, migrations.

The shared store tests (tests/store/test_sqlite_append.py and every test on the
``store`` / ``ledger`` fixtures) already run on PostgreSQL through the
parametrized ``backend`` fixture; this module pins ``backend`` to postgres.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result
from psycopg import errors as pg_errors

import ledger.store.postgres as pg_store
from ledger.chain import BreakKind
from ledger.cli import cli
from ledger.errors import StoreError
from ledger.events import Event
from ledger.note import generate_signer
from ledger.service import Ledger
from ledger.store import EventStore, open_store, postgres_schema, postgres_session
from ledger.store.postgres_events import EVENT_COLUMNS
from ledger.store.postgres_runs import node_page, node_runs
from ledger.store.postgres_schema import MIGRATIONS, RUN_MAX, SCHEMA_VERSION, migrate
from ledger.store.protocol import StoredCheckpoint, TokenRecord
from tests.helpers import draft

ROOT = Path(__file__).resolve().parents[2]
ALL_VERSIONS = [(version,) for version, _ in MIGRATIONS]
SchemaFactory = Callable[[], AbstractContextManager[str]]


@pytest.fixture
def backend() -> str:
    """Every store in this module is a PostgreSQL one."""
    return "postgres"


def _raw(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """A plain superuser connection onto the test's schema, outside the store."""
    return psycopg.connect(url, autocommit=True)


def _seqs(store: EventStore) -> list[int]:
    return [e.seq for e in store.read()]


# ---- append-only in the database ---------------------------------------------------


@pytest.mark.parametrize("table", ["events", "merkle_runs", "checkpoints"])
@pytest.mark.parametrize(
    "statement",
    ["UPDATE {t} SET {c} = {c}", "DELETE FROM {t}", "TRUNCATE {t}"],
    ids=["update", "delete", "truncate"],
)
def test_the_database_refuses_update_delete_and_truncate(
    store_url: str, ledger: Ledger, table: str, statement: str
) -> None:
    ledger.signer = generate_signer("test.example/ledger")
    ledger.append([draft(i) for i in range(4)], "ci")
    ledger.checkpoint()
    column = {"events": "actor", "merkle_runs": "hashes", "checkpoints": "note"}[table]
    with _raw(store_url) as conn, pytest.raises(pg_errors.RestrictViolation, match="append-only"):
        conn.execute(statement.format(t=table, c=column))
    assert ledger.verify().ok


def test_rebuilding_the_tree_twice_keeps_it_whole_and_append_only(
    store_url: str, ledger: Ledger
) -> None:
    ledger.append([draft(i) for i in range(13)], "ci")
    root, count = ledger.root(), ledger.store.merkle_node_count()
    assert ledger.rebuild_tree() == root
    assert ledger.rebuild_tree() == root
    assert ledger.store.merkle_node_count() == count
    ledger.append([draft(20)], "ci")
    assert ledger.verify().ok
    with _raw(store_url) as conn:
        names = conn.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'merkle_runs'::regclass"
        ).fetchall()
        assert sorted(n for (n,) in names) == [
            "merkle_runs_disjoint",
            "merkle_runs_pkey",
            "node_position",
            "run_end",
            "whole_hashes",
        ]
        with pytest.raises(pg_errors.ExclusionViolation):
            conn.execute("INSERT INTO merkle_runs VALUES (1, 3, %s)", (b"\x07" * 64,))
        # A run may not reach past the 56-bit index range into the next level's span.
        last = (1 << 56) - 1
        with pytest.raises(pg_errors.CheckViolation, match="run_end"):
            conn.execute("INSERT INTO merkle_runs VALUES (1, %s, %s)", (last, b"\x07" * 64))
        conn.execute("INSERT INTO merkle_runs VALUES (1, %s, %s)", (last, b"\x07" * 32))
        with pytest.raises(pg_errors.RestrictViolation, match="append-only"):
            conn.execute("DELETE FROM merkle_runs")


@pytest.mark.parametrize(
    ("level", "first_idx", "count"),
    [(1, 1, 1), (1, 2, 3), (2, 0, 2), (1, 0, 1)],
    ids=["inside", "over-the-end", "whole-level", "same-start"],
)
def test_the_database_refuses_a_run_over_stored_nodes(
    store_url: str, ledger: Ledger, level: int, first_idx: int, count: int
) -> None:
    # One row per node could not hold a node twice (its primary key); runs
    # may not overlap either, or an INSERT alone could shadow a stored node.
    ledger.append([draft(i) for i in range(6)], "ci")  # level 1: 0..2, level 2: 0
    root = ledger.root()
    with _raw(store_url) as conn, pytest.raises(pg_errors.IntegrityError):
        conn.execute(
            "INSERT INTO merkle_runs VALUES (%s, %s, %s)", (level, first_idx, b"\x07" * 32 * count)
        )
    ledger.append([draft(6), draft(7)], "ci")  # the next runs still fit: (1, 3), (2, 1), (3, 0)
    assert ledger.verify().ok
    assert ledger.root(6) == root


# ---- tampering by a superuser with the triggers off ----------------------------------


def _edit_node(level: int, idx: int) -> str:
    """SQL replacing the hash of stored node (level, idx) inside its merkle_runs row."""
    at = f"(({idx} - first_idx)::int * 32 + 1)"
    return (
        f"UPDATE merkle_runs SET hashes = overlay(hashes PLACING"
        f" sha256(substring(hashes FROM {at} FOR 32)) FROM {at} FOR 32)"
        f" WHERE level = {level} AND first_idx <= {idx}"
        f" AND first_idx + length(hashes) / 32 > {idx}"
    )


_REWRITE_SEQ_3 = (
    "UPDATE events SET body = t.b, hash = encode(sha256(t.b), 'hex') FROM"
    " (SELECT convert_to(replace(convert_from(body, 'UTF8'), '\"n\":2', '\"n\":7'), 'UTF8')"
    " AS b FROM events WHERE seq = 3) AS t WHERE seq = 3"
)


@pytest.mark.parametrize(
    ("statements", "seq", "kind"),
    [
        (["UPDATE events SET actor = 'mallory' WHERE seq = 3"], 3, BreakKind.ALTERED_CONTENT),
        (
            [
                "UPDATE events SET body = convert_to(replace(convert_from(body, 'UTF8'),"
                " '\"n\":2', '\"n\":7'), 'UTF8') WHERE seq = 3"
            ],
            3,
            BreakKind.ALTERED_CONTENT,
        ),
        ([_REWRITE_SEQ_3], 4, BreakKind.BROKEN_LINK),
        (["DELETE FROM events WHERE seq = 3"], 3, BreakKind.MISSING_SEQ),
        (
            [
                "UPDATE events SET seq = 100 WHERE seq = 3",
                "UPDATE events SET seq = 3 WHERE seq = 4",
                "UPDATE events SET seq = 4 WHERE seq = 100",
            ],
            3,
            BreakKind.REORDERED,
        ),
        (["DELETE FROM events WHERE seq >= 5"], 5, BreakKind.TRUNCATED),
        (["TRUNCATE events"], 1, BreakKind.TRUNCATED),
        # The 6 events' level-1 nodes 0..2 are one merkle_runs row; node
        # (1, 2) covers seqs 5..6, (2, 0) seqs 1..4, (1, 0) seqs 1..2.
        ([_edit_node(1, 2)], 6, BreakKind.MERKLE_MISMATCH),
        (["DELETE FROM merkle_runs WHERE level = 2"], 4, BreakKind.MERKLE_MISMATCH),
        (
            # A run inserted over another shadows its nodes in proofs: verify
            # reads nodes the same way, so it names the first one shadowed.
            [
                "ALTER TABLE merkle_runs DROP CONSTRAINT merkle_runs_disjoint",
                "INSERT INTO merkle_runs VALUES (1, 1, sha256('x') || sha256('y'))",
            ],
            4,
            BreakKind.MERKLE_MISMATCH,
        ),
        (
            # The run cut short: node (1, 2) is missing.
            ["UPDATE merkle_runs SET hashes = substring(hashes FROM 1 FOR 64) WHERE level = 1"],
            6,
            BreakKind.MERKLE_MISMATCH,
        ),
        (
            # The run cut in two around a gap at (1, 0).
            [
                "WITH cut AS (DELETE FROM merkle_runs WHERE level = 1 RETURNING hashes)"
                " INSERT INTO merkle_runs SELECT 1, 1, substring(hashes FROM 33) FROM cut"
            ],
            2,
            BreakKind.MERKLE_MISMATCH,
        ),
    ],
    ids=[
        "column",
        "body",
        "rehashed-body",
        "deleted",
        "swapped",
        "tail-cut",
        "truncated",
        "tree",
        "tree-row-deleted",
        "tree-run-shadowed",
        "tree-run-shortened",
        "tree-gap",
    ],
)
def test_verify_names_the_seq_and_kind_of_an_edit_made_with_triggers_disabled(
    store_url: str, ledger: Ledger, statements: list[str], seq: int, kind: str
) -> None:
    ledger.signer = generate_signer("test.example/ledger")
    ledger.append([draft(i) for i in range(6)], "ci")
    ledger.checkpoint()
    with _raw(store_url) as conn:
        for table in ("events", "merkle_runs"):
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
        for statement in statements:
            conn.execute(statement)
        for table in ("events", "merkle_runs"):
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER ALL")
    report = Ledger(ledger.store).verify()
    assert (report.ok, report.first_bad_seq, report.kind) == (False, seq, kind)


@pytest.mark.parametrize(("level", "idx"), [(1, 300), (1, 247), (1, 248), (3, 100), (9, 0)])
def test_verify_finds_a_node_edited_anywhere_in_a_run(
    store_url: str, ledger: Ledger, level: int, idx: int
) -> None:
    # Level 1 of 1,001 events is three rows (first_idx 0, 248, 496): the
    # edited node sits inside a run, at a row's end or start, or alone.
    ledger.append([draft(0)], "ci")
    ledger.append([draft(n) for n in range(1000)], "ci")
    with _raw(store_url) as conn:
        conn.execute("ALTER TABLE merkle_runs DISABLE TRIGGER ALL")
        assert conn.execute(_edit_node(level, idx)).rowcount == 1
        conn.execute("ALTER TABLE merkle_runs ENABLE TRIGGER ALL")
    report = Ledger(ledger.store).verify()
    assert (report.ok, report.first_bad_seq, report.kind) == (
        False,
        (idx + 1) << level,
        BreakKind.MERKLE_MISMATCH,
    )


# ---- serialized appends ------------------------------------------------------------


@pytest.mark.parametrize(
    "server_default",
    ["", "-cdefault_transaction_isolation%3Dserializable%20"],
    ids=["read-committed", "serializable-default"],
)
def test_two_stores_appending_from_threads_make_one_gapless_chain(
    store_url: str, server_default: str
) -> None:
    # The store pins its transactions to READ COMMITTED: under a stricter
    # default the head would be read from a snapshot older than the lock.
    url = store_url.replace("-csearch_path", f"{server_default}-csearch_path")
    stores = [open_store(url), open_store(url)]
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(n: int) -> None:
        ledger = Ledger(stores[n % 2])
        start.wait()
        try:
            for b in range(15):
                ledger.append([draft(n * 100 + b) for _ in range(1 + b % 4)], f"thread-{n}")
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    total = 4 * sum(1 + b % 4 for b in range(15))
    assert _seqs(stores[0]) == list(range(1, total + 1))
    assert Ledger(stores[1]).verify().ok
    for s in stores:
        s.close()


_WORKER = """
import sys
from ledger.service import Ledger
from ledger.store import open_store
from tests.helpers import draft

url, worker = sys.argv[1], int(sys.argv[2])
store = open_store(url)
ledger = Ledger(store)
for b in range(20):
    ledger.append([draft(worker * 100 + b) for _ in range(1 + b % 5)], f"process-{worker}")
store.close()
"""


def test_four_processes_appending_at_once_make_one_gapless_chain(
    store_url: str, tmp_path: Path
) -> None:
    open_store(store_url).close()  # migrate first, so the workers race on appends only
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    logs = [tmp_path / f"worker-{n}.err" for n in range(4)]
    workers = []
    for n, log in enumerate(logs):
        with log.open("wb") as err:
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-c", _WORKER, store_url, str(n)],
                    cwd=ROOT,
                    env=env,
                    stderr=err,
                )
            )
    codes = [w.wait(timeout=120) for w in workers]
    assert codes == [0] * 4, [log.read_text() for log in logs]
    store = open_store(store_url)
    total = 4 * sum(1 + b % 5 for b in range(20))
    assert _seqs(store) == list(range(1, total + 1))
    assert {e.actor for e in store.read()} == {f"process-{n}" for n in range(4)}
    assert Ledger(store).verify().ok
    store.close()


def _kill_appender_mid_flight(url: str, side_file: Path, seed: str, delay: float) -> None:
    """Run tests/store/_crash_child.py on ``url`` and SIGKILL it ``delay`` s into appending."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store._crash_child", url, str(side_file), seed],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        time.sleep(delay)  # the kill moment, not a synchronization
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


def test_a_killed_appender_loses_nothing_acknowledged_and_leaves_no_half_batch(
    store_url: str, tmp_path: Path
) -> None:
    open_store(store_url).close()
    side_file = tmp_path / "side.jsonl"
    seed = os.environ.get("LEDGER_CRASH_SEED", str(random.randrange(10**9)))
    rng = random.Random(seed)
    for round_ in range(3):
        _kill_appender_mid_flight(store_url, side_file, f"{seed}:{round_}", rng.uniform(0.2, 0.8))
    intents: list[set[str]] = []
    acked: list[str] = []
    for line in side_file.read_bytes().split(b"\n"):
        record = json.loads(line) if line.endswith(b"}") else {}  # a cut line was never logged
        intents += [set(record["intent"])] if "intent" in record else []
        acked += [id for _, _, id in record.get("acked", [])]
    store = open_store(store_url)
    stored = {e.id for e in store.read()}
    assert set(acked) <= stored, f"seed {seed}"
    assert all(batch <= stored or not batch & stored for batch in intents), f"seed {seed}"
    assert Ledger(store).verify().ok, f"seed {seed}"
    Ledger(store).append([draft(1)], "ci")  # the killed writer's lock is gone
    store.close()


def test_a_writer_waits_for_the_open_append_of_another_store(store_url: str) -> None:
    first, second = open_store(store_url), open_store(store_url)
    done = threading.Event()

    def append() -> None:
        Ledger(second).append([draft(2)], "ci")
        done.set()

    with first.transaction() as tx:
        assert tx.head().seq == 0
        thread = threading.Thread(target=append)
        thread.start()
        assert not done.wait(0.5)  # queued on the advisory lock, not forking the chain
    thread.join(10)
    assert done.is_set()
    assert _seqs(first) == [1]
    first.close()
    second.close()


def test_ledgers_in_different_schemas_do_not_wait_for_each_other(
    store_url: str, pg_schema: SchemaFactory
) -> None:
    first = open_store(store_url)
    with pg_schema() as other_url:
        other = open_store(other_url)
        with first.transaction():
            started = time.monotonic()
            Ledger(other).append([draft(1)], "ci")
            assert time.monotonic() - started < 5
        assert (first.head().seq, other.head().seq) == (0, 1)
        other.close()
    first.close()


# ---- live updates across processes ------------------------------------------------


def test_a_waiter_wakes_when_another_store_appends(store_url: str) -> None:
    waiter, writer = open_store(store_url), open_store(store_url)
    assert isinstance(waiter, pg_store.PostgresStore)
    waiter.wait_for_append(-1, 10)  # listening
    woke: list[tuple[int, float]] = []

    def wait() -> None:
        started = time.monotonic()
        woke.append((waiter.wait_for_append(0, 30), time.monotonic() - started))

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.2)
    Ledger(writer).append([draft(1), draft(2)], "ci")
    thread.join(30)
    ((head, waited),) = woke
    assert head == 2
    assert waited < 10  # woken by NOTIFY, not by the 30 s timeout
    waiter.close()
    writer.close()


def test_a_waiter_behind_the_head_returns_at_once(ledger: Ledger) -> None:
    ledger.append([draft(i) for i in range(3)], "ci")
    store = ledger.store
    assert isinstance(store, pg_store.PostgresStore)
    started = time.monotonic()
    assert store.wait_for_append(1, 30) == 3
    assert time.monotonic() - started < 10


def test_a_rolled_back_append_wakes_nobody(ledger: Ledger) -> None:
    store = ledger.store
    assert isinstance(store, pg_store.PostgresStore)
    ledger.append([draft(1)], "ci")
    assert store.wait_for_append(0, 10) == 1
    (event,) = ledger.events()

    class Abandon(Exception):
        pass

    later = pg_store.PostgresStore(store.url)

    def insert_then_give_up() -> None:
        with later.transaction() as tx:
            tx.insert_events([_next_event(event)])
            raise Abandon

    with pytest.raises(Abandon):
        insert_then_give_up()
    later.close()
    started = time.monotonic()
    assert store.wait_for_append(1, 0.5) == 1
    assert time.monotonic() - started >= 0.4


def _next_event(event: Event) -> Event:
    """A row at the next seq (its content does not matter: it is rolled back)."""
    return replace(event, seq=event.seq + 1, id=str(uuid.uuid4()))


# ---- reading -----------------------------------------------------------------------


def test_read_pages_through_ranges_across_page_boundaries(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pg_store, "READ_PAGE", 7)
    ledger.append([draft(i) for i in range(30)], "ci")
    assert _seqs(ledger.store) == list(range(1, 31))
    assert [e.seq for e in ledger.events(6, 22)] == list(range(6, 23))
    assert [e.seq for e in ledger.events(29)] == [29, 30]
    assert list(ledger.events(31)) == []
    assert ledger.verify().ok


def test_events_read_back_byte_for_byte(ledger: Ledger) -> None:
    acks = ledger.append([draft(i) for i in range(20)], "ci")
    events = list(ledger.events())
    assert [e.hash for e in events] == [a.hash for a in acks]
    assert ledger.store.get_by_id(events[4].id) == events[4]
    assert ledger.store.get(5) == events[4]


# ---- tokens, meta, checkpoints -------------------------------------------------------


def test_tokens_keep_their_contract(store: EventStore) -> None:
    alice = TokenRecord("alice", "admin", "a" * 64, "2026-11-01T00:00:00Z")
    store.add_token(alice)
    store.add_token(TokenRecord("Bob", "auditor", "b" * 64, "2026-11-01T00:00:01Z"))
    with pytest.raises(StoreError, match="'alice' already exists"):
        store.add_token(TokenRecord("alice", "pipeline", "c" * 64, "2026-11-01T00:00:02Z"))
    assert store.token_by_hash("a" * 64) == alice
    assert [t.name for t in store.tokens()] == ["Bob", "alice"]  # byte order, as on SQLite
    assert store.revoke_token("alice", "2026-11-02T00:00:00Z") is True
    assert store.revoke_token("alice", "2026-11-03T00:00:00Z") is False
    assert store.token_by_hash("a" * 64) == replace(alice, revoked_at="2026-11-02T00:00:00Z")


def test_meta_is_overwritten_and_checkpoints_are_kept_in_order(store: EventStore) -> None:
    store.set_meta("verifier_key", "one")
    store.set_meta("verifier_key", "two")
    assert (store.get_meta("verifier_key"), store.get_meta("absent")) == ("two", None)
    kept = [
        StoredCheckpoint(size, bytes([size]) * 32, f"note {size}", f"2026-11-0{size}T00:00:00Z")
        for size in (3, 5, 4)
    ]
    for checkpoint in kept:
        store.add_checkpoint(checkpoint)
    assert store.checkpoints() == kept
    assert store.latest_checkpoint() == kept[1]


# ---- migrations and opening ----------------------------------------------------------


def test_opening_again_applies_no_migration_twice(store_url: str, ledger: Ledger) -> None:
    ledger.append([draft(1)], "ci")
    open_store(store_url).close()
    with _raw(store_url) as conn:
        assert migrate(conn, 0) == []
        versions = conn.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    assert versions == ALL_VERSIONS
    assert ledger.head().seq == 1


def test_stores_opening_a_fresh_schema_at_once_migrate_it_once(pg_url: str) -> None:
    start = threading.Barrier(4)
    opened: list[EventStore] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        start.wait()
        try:
            opened.append(open_store(pg_url))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with _raw(pg_url) as conn:
        versions = conn.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    assert versions == ALL_VERSIONS
    for s in opened:
        s.close()


def test_a_database_at_an_older_version_is_brought_up_to_date_keeping_its_events(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as old_code:
        old_code.setattr(postgres_schema, "MIGRATIONS", MIGRATIONS[:1])
        old_code.setattr(postgres_schema, "SCHEMA_VERSION", MIGRATIONS[0][0])
        open_store(pg_url).close()
    with _raw(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('proj_docs')").fetchone() == (None,)
    store = open_store(pg_url)
    Ledger(store).append([draft(1)], "ci")
    assert Ledger(store).verify().ok
    store.close()
    with _raw(pg_url) as conn:
        versions = conn.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    assert versions == ALL_VERSIONS


def test_a_version_7_database_keeps_its_merkle_nodes_as_runs_of_a_level(
    pg_schema: SchemaFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Migration 8 turns one row per node into one per run of consecutive
    # nodes: proofs, roots, verify and the node count must not change.
    with pg_schema() as ref_url, pg_schema() as old_url:
        ref = open_store(ref_url)
        ledger = Ledger(ref, project=False)
        for size in (1, 7, 300, 1, 1, 600, 2, 513):  # level 1 runs beyond RUN_MAX, lone nodes
            ledger.append([draft(n) for n in range(size)], "ci")
        events = list(ref.read())
        head = len(events)
        nodes = [
            (level, idx, hash_)
            for level in range(1, head.bit_length())
            for idx, hash_ in ref.merkle_node_page(level, 0, head)
        ]
        assert len(nodes) == head - head.bit_count()
        proofs = [ledger.inclusion_proof(seq) for seq in (1, 300, 911, head)]
        old_proof = ledger.inclusion_proof(17, 309)
        consistency = ledger.consistency_proof(309)
        root = ledger.root()
        ref.close()
        with monkeypatch.context() as old_code:
            old_code.setattr(postgres_schema, "MIGRATIONS", MIGRATIONS[:7])
            old_code.setattr(postgres_schema, "SCHEMA_VERSION", 7)
            open_store(old_url).close()
        columns = EVENT_COLUMNS.split(", ")
        with _raw(old_url) as conn, conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO events ({EVENT_COLUMNS}) VALUES ({', '.join(['%s'] * 10)})",
                [tuple(getattr(e, c) for c in columns) for e in events],
            )
            cursor.executemany(
                "INSERT INTO merkle_nodes (level, idx, hash) VALUES (%s, %s, %s)", nodes
            )
        store = open_store(old_url)
        try:
            upgraded = Ledger(store, project=False)
            assert store.merkle_node_count() == len(nodes)
            assert upgraded.root() == root
            assert [upgraded.inclusion_proof(p.seq) for p in proofs] == proofs
            assert upgraded.inclusion_proof(17, 309) == old_proof
            assert upgraded.consistency_proof(309) == consistency
            assert upgraded.verify().ok
            with _raw(old_url) as conn:
                assert conn.execute("SELECT to_regclass('merkle_nodes')").fetchone() == (None,)
                rows = conn.execute(
                    "SELECT level, count(*), sum(length(hashes) / 32), max(length(hashes) / 32)"
                    " FROM merkle_runs GROUP BY level ORDER BY level"
                ).fetchall()
                for level, count, width, widest in rows:
                    # Consecutive nodes are merged, RUN_MAX to a row at most.
                    assert count <= width // RUN_MAX + 1, level
                    assert widest <= RUN_MAX
                with pytest.raises(pg_errors.RestrictViolation, match="append-only"):
                    conn.execute("DELETE FROM merkle_runs WHERE level = 1")
            upgraded.append([draft(n) for n in range(5)], "ci")
            assert upgraded.verify().ok
        finally:
            store.close()


def test_a_migration_waits_for_an_append_of_older_code(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Servers of older code go on appending while a new one migrates (they
    # take the append lock, not the migration's): migration 8 copied
    # merkle_nodes, then its DROP waited for such an append, which committed
    # nodes the copy had not seen; they were dropped with the table (and the
    # next append found no frontier).
    with monkeypatch.context() as old_code:
        old_code.setattr(postgres_schema, "MIGRATIONS", MIGRATIONS[:7])
        old_code.setattr(postgres_schema, "SCHEMA_VERSION", 7)
        old = open_store(pg_url)
        assert isinstance(old, pg_store.PostgresStore)
        lock = old._lock
        old.close()
    opened: list[EventStore] = []
    with _raw(pg_url) as writer, _raw(pg_url) as watcher:
        writer.execute("BEGIN")
        writer.execute("SELECT pg_advisory_xact_lock(%s, %s)", lock)
        writer.execute("INSERT INTO merkle_nodes (level, idx, hash) VALUES (1, 0, %s)", [b"1" * 32])
        opener = threading.Thread(target=lambda: opened.append(open_store(pg_url)))
        opener.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the migration waits on a lock
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND pid <> %s",
                [writer.info.backend_pid],
            ).fetchone()
            if row is not None and row[0] > 0:
                break
            time.sleep(0.02)
        writer.execute("COMMIT")
        opener.join(20)
    (store,) = opened
    try:
        assert store.merkle_node_count() == 1
        assert store.merkle_nodes([(1, 0)]) == {(1, 0): b"1" * 32}
    finally:
        store.close()


def test_a_1000_event_append_stores_its_nodes_in_a_dozen_rows(
    store_url: str, ledger: Ledger
) -> None:
    ledger.append([draft(0)], "ci")
    ledger.append([draft(n) for n in range(1000)], "ci")
    with _raw(store_url) as conn:
        rows = conn.execute("SELECT count(*) FROM merkle_runs").fetchone()
    assert rows is not None
    assert rows[0] <= 14  # a run per level of ~500, 250, ... nodes; level 1 in 3 rows
    assert ledger.store.merkle_node_count() == 1001 - (1001).bit_count()


def test_node_runs_merge_consecutive_nodes_and_sort_the_rest() -> None:
    h = [n.to_bytes(32) for n in range(600)]
    assert node_runs([(1, 5, h[5]), (1, 6, h[6]), (2, 3, h[3])]) == [
        (1, 5, h[5] + h[6]),
        (2, 3, h[3]),
    ]
    long = node_runs([(1, n, h[n]) for n in range(600)])
    assert [(level, first, len(hashes) // 32) for level, first, hashes in long] == [
        (1, 0, RUN_MAX),
        (1, RUN_MAX, RUN_MAX),
        (1, 2 * RUN_MAX, 600 - 2 * RUN_MAX),
    ]
    assert node_runs([(1, 9, h[9]), (1, 3, h[3]), (1, 4, h[4])]) == [
        (1, 3, h[3] + h[4]),
        (1, 9, h[9]),
    ]
    with pytest.raises(StoreError, match="twice"):
        node_runs([(1, 3, h[3]), (1, 3, h[4])])
    with pytest.raises(StoreError, match="32 bytes"):
        node_runs([(1, 3, b"short")])


def test_a_node_page_reads_across_runs_and_gaps(store_url: str, store: EventStore) -> None:
    h = [bytes([n]) * 32 for n in range(40)]
    with _raw(store_url) as conn, conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO merkle_runs (level, first_idx, hashes) VALUES (%s, %s, %s)",
            [(1, 0, b"".join(h[0:3])), (1, 3, b"".join(h[3:5])), (1, 9, b"".join(h[9:12]))]
            + [(1, n, h[n]) for n in range(20, 40)]
            + [(2, 0, h[0])],
        )
        page = store.merkle_node_page
        assert page(1, 0, 4) == [(n, h[n]) for n in range(4)]
        assert page(1, 2, 3) == [(2, h[2]), (3, h[3]), (4, h[4])]
        assert page(1, 4, 3) == [(4, h[4]), (9, h[9]), (10, h[10])]  # past the gap 5..8
        assert page(1, 6, 2) == [(9, h[9]), (10, h[10])]  # from inside the gap
        assert page(1, 11, 30) == [(n, h[n]) for n in [11, *range(20, 40)]]
        assert page(1, 40, 5) == []
        assert page(3, 0, 5) == []
        with conn.transaction():
            assert node_page(conn, 1, 18, 25) == [(n, h[n]) for n in range(20, 40)]
        assert store.merkle_node_count() == 3 + 2 + 3 + 20 + 1
        assert store.merkle_nodes([(1, 4), (1, 5), (1, 11), (1, 39), (2, 0), (2, 1)]) == {
            (1, 4): h[4],
            (1, 11): h[11],
            (1, 39): h[39],
            (2, 0): h[0],
        }


def test_a_database_at_a_newer_schema_version_is_refused(store_url: str, store: EventStore) -> None:
    with _raw(store_url) as conn:
        conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer"):
        open_store(store_url)


def test_a_search_path_naming_no_schema_is_a_store_error(pg_url: str) -> None:
    url = pg_url.replace("ledger_test_", "ledger_absent_")
    with pytest.raises(StoreError, match="no existing schema"):
        open_store(url)


def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    with pytest.raises(StoreError, match="cannot open PostgreSQL store") as caught:
        open_store("postgresql://u:s3cret@127.0.0.1:1/ledger?connect_timeout=2")
    assert "s3cret" not in str(caught.value)


def test_a_driver_error_inside_a_write_surfaces_as_a_store_error(ledger: Ledger) -> None:
    ledger.append([draft(1)], "ci")
    (event,) = ledger.events()
    with pytest.raises(StoreError, match="append failed"), ledger.store.transaction() as tx:
        tx.insert_events([event])
    assert ledger.head().seq == 1


def test_commits_are_durable_even_if_the_server_default_is_async(pg_url: str) -> None:
    url = pg_url.replace("-csearch_path", "-csynchronous_commit%3Doff%20-csearch_path")
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("off",)
        postgres_session.configure(conn)
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)


def test_the_schema_is_dropped_after_use(pg_schema: SchemaFactory) -> None:
    with pg_schema() as url:
        store = open_store(url)
        Ledger(store).append([draft(1)], "ci")
        schema = store.schema  # type: ignore[attr-defined]
        store.close()
    with psycopg.connect(url.split("?", 1)[0]) as conn:  # the query names the dropped schema
        found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    assert found is None


# ---- the same answers as SQLite ------------------------------------------------------


def _cli(db: str, key_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", db, "--key-dir", str(key_dir), *args])


@pytest.fixture(scope="module")
def demo_pair(
    pg_schema: SchemaFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[EventStore, EventStore]]:
    """The demo story loaded on SQLite by the CLI, and the same events copied to PostgreSQL.

    The copy goes through the store's own write transaction, then the tree and
    the projections are rebuilt from the events on both sides.
    """
    tmp = tmp_path_factory.mktemp("demo")
    db = str(tmp / "demo.db")
    for command in ("init", "demo"):
        result = _cli(db, tmp / "keys", command)
        assert result.exit_code == 0, result.output
    with pg_schema() as url:
        sqlite, pg = open_store(db), open_store(url)
        events = list(sqlite.read())
        with pg.transaction() as tx:
            tx.insert_events(events)
        for store in (sqlite, pg):
            Ledger(store).rebuild_tree()
            Ledger(store).rebuild_projections()
        yield sqlite, pg
        sqlite.close()
        pg.close()


def _answers(store: Any) -> dict[str, object]:
    """Every projection and search read the API builds on, over the demo story."""
    events = list(store.read())
    middle = events[len(events) // 2]
    refs = sorted({e.subject for e in events})[:5]
    return {
        "head": store.head(),
        "root": Ledger(store).root(),
        "position": store.projection_position(),
        "docs": store.docs_with_prefix("", limit=100_000),
        "model docs": store.docs_with_prefix("model:", limit=100_000),
        "intervals": store.status_intervals(),
        "prod at mid time": store.status_intervals(environment="prod", at_time=middle.recorded_at),
        "at mid seq": store.status_intervals(at_seq=middle.seq),
        "edges": list(store.edges()),
        "edges after mid": list(store.edges(middle.seq)),
        "edges of": sorted(store.edges_of(refs)),
        "find by subject": store.find_events(subjects=refs),
        "find by type and time": store.find_events(
            types=["deployment.decided", "rollout.stage.changed"],
            time_from=events[3].occurred_at,
            time_to=middle.occurred_at,
        ),
        "find window": store.find_events(after_seq=10, until_seq=40, limit=7),
        "find nothing": store.find_events(subjects=[]),
    }


def test_postgres_answers_every_projection_read_exactly_as_sqlite(
    demo_pair: tuple[EventStore, EventStore],
) -> None:
    sqlite, pg = demo_pair
    expected, got = _answers(sqlite), _answers(pg)
    assert all(expected[name] for name in ("docs", "intervals", "edges", "find by subject"))
    for name, value in expected.items():
        assert got[name] == value, name


def test_the_demo_runs_and_verifies_on_postgres_through_the_cli(
    pg_url: str, tmp_path: Path
) -> None:
    for command in ("init", "demo", "verify"):
        result = _cli(pg_url, tmp_path / "keys", command)
        assert result.exit_code == 0, f"{command}: {result.output}"
