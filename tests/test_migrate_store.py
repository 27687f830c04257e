"""``rollout-ledger migrate-store``: verbatim copies between SQLite and PostgreSQL.

The demo ledger (110 events, a signed checkpoint, a token) is the source. A
round trip SQLite -> PostgreSQL -> SQLite must export byte for byte what the
source exports; an interrupted copy resumes; a destination that is not a
prefix of the source, or a source that does not verify, is refused with a
one-line error.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ledger import migration
from ledger.errors import StoreError
from ledger.events import Event
from ledger.store import open_store
from ledger.store.protocol import EventStore

pytestmark = pytest.mark.filterwarnings("error")

BATCH = 20


def _cli(*args: str) -> Result:
    from ledger.cli import cli

    return CliRunner().invoke(cli, list(args))


def _ok(*args: str) -> Result:
    result = _cli(*args)
    assert result.exit_code == 0, result.output
    return result


def _export(db: str, out: Path) -> bytes:
    _ok("--db", db, "export", "--out", str(out))
    return out.read_bytes()


def _refused(result: Result) -> str:
    """The one-line error of a refused command."""
    assert result.exit_code not in (0, None), result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def _head(location: str) -> int:
    store = open_store(location)
    try:
        return store.head().seq
    finally:
        store.close()


@pytest.fixture(scope="module")
def demo_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised SQLite ledger with the demo story, a checkpoint and two tokens."""
    db = tmp_path_factory.mktemp("source") / "source.db"
    _ok("--db", str(db), "init")
    _ok("--db", str(db), "demo")
    _ok("--db", str(db), "token", "create", "--name", "ci", "--role", "pipeline")
    _ok("--db", str(db), "token", "create", "--name", "gone", "--role", "auditor")
    _ok("--db", str(db), "token", "revoke", "gone")
    return db


@pytest.fixture
def source(demo_source: Path, tmp_path: Path) -> Path:
    """A private copy of the demo source (tests may damage it) and of its key directory."""
    copy = tmp_path / "source.db"
    shutil.copytree(_keys(demo_source), _keys(copy))
    with sqlite3.connect(demo_source) as original, sqlite3.connect(copy) as target:
        original.backup(target)
    target.close()
    original.close()
    return copy


def _keys(db: Path) -> str:
    """The key directory ``init`` made beside a SQLite file."""
    return str(db.with_name(db.stem + ".keys"))


def _docs(store: EventStore) -> list[tuple[str, bytes]]:
    docs = store.docs_with_prefix("", 10_000)  # type: ignore[attr-defined]
    assert isinstance(docs, list)
    return docs


def test_sqlite_to_postgres_to_sqlite_round_trip_is_byte_identical(
    demo_source: Path, pg_url: str, tmp_path: Path
) -> None:
    keys = _keys(demo_source)
    back = str(tmp_path / "back.db")
    head = _head(str(demo_source))
    assert head > 100

    there = _ok("migrate-store", "--from", str(demo_source), "--to", pg_url, "--batch-size", "32")
    assert f"copied {head} events (seq 1..{head})" in there.stdout
    assert f"checkpoint of size {head} verified" in there.stdout
    again = _ok("migrate-store", "--from", pg_url, "--to", back)
    assert f"copied {head} events" in again.stdout

    original = _export(str(demo_source), tmp_path / "source.jsonl")
    assert original.count(b"\n") == head
    assert _export(pg_url, tmp_path / "pg.jsonl") == original
    assert _export(back, tmp_path / "back.jsonl") == original
    for db in (pg_url, back):
        verified = _ok("--db", db, "--key-dir", keys, "verify")
        assert f"ok: {head} events verified" in verified.stdout

    src, pg, dst = open_store(demo_source), open_store(pg_url), open_store(back)
    try:
        for copy in (pg, dst):
            assert copy.get_meta("origin") == src.get_meta("origin")
            assert copy.get_meta("verifier_key") == src.get_meta("verifier_key")
            assert copy.checkpoints() == src.checkpoints()
            assert copy.tokens() == src.tokens()
            assert copy.merkle_node_count() == src.merkle_node_count()
            # Projections rebuilt from the copy equal the ones the demo built as it went.
            assert copy.get_meta("projection_seq") == str(head)
            assert _docs(copy) == _docs(src)
    finally:
        for store in (src, pg, dst):
            store.close()

    # Nothing left to do: a rerun copies nothing and still checks the checkpoint.
    rerun = _ok("migrate-store", "--from", str(demo_source), "--to", pg_url)
    assert f"all {head} events were already there" in rerun.stdout
    assert f"checkpoint of size {head} verified" in rerun.stdout


@pytest.mark.parametrize("target", ["sqlite", "postgres"])
def test_an_interrupted_copy_resumes_where_it_stopped(
    target: str,
    source: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    destination = (
        str(tmp_path / "dest.db") if target == "sqlite" else str(request.getfixturevalue("pg_url"))
    )
    real = migration._write_batch
    calls: list[int] = []

    def fail_after_the_first(store: EventStore, cursor: object, events: list[Event]) -> None:
        calls.append(len(events))
        if len(calls) > 1:
            raise StoreError("connection lost (simulated)")
        real(store, cursor, events)  # type: ignore[arg-type]

    monkeypatch.setattr(migration, "_write_batch", fail_after_the_first)
    stopped = _cli(
        "migrate-store", "--from", str(source), "--to", destination, "--batch-size", str(BATCH)
    )
    assert "connection lost (simulated)" in _refused(stopped)
    assert _head(destination) == BATCH  # exactly the committed first batch
    monkeypatch.setattr(migration, "_write_batch", real)

    head = _head(str(source))
    resumed = _ok(
        "migrate-store", "--from", str(source), "--to", destination, "--batch-size", str(BATCH)
    )
    assert f"copied {head - BATCH} events (seq {BATCH + 1}..{head}" in resumed.stdout
    assert f"resumed after seq {BATCH}" in resumed.stdout
    assert _export(destination, tmp_path / "dest.jsonl") == _export(
        str(source), tmp_path / "source.jsonl"
    )
    _ok("--db", destination, "--key-dir", _keys(source), "verify")


def test_a_destination_that_is_not_a_prefix_is_refused(source: Path, tmp_path: Path) -> None:
    keys = _keys(source)
    origin = open_store(source)
    try:
        name = origin.get_meta("origin")
    finally:
        origin.close()
    assert name is not None

    # Same origin and key, but its own first event: the chains part at seq 1.
    other = str(tmp_path / "other.db")
    _ok("--db", other, "--key-dir", keys, "init", "--origin", name)
    _ok(
        "--db",
        other,
        "append",
        "--type",
        "test.result.recorded",
        "--subject",
        "model:x@1.0",
        "--data",
        '{"suite":"s","kind":"unit","passed":true,"metrics":{}}',
    )
    line = _refused(_cli("migrate-store", "--from", str(source), "--to", other))
    assert "not a prefix of the source" in line
    assert "seq 1" in line
    assert _head(other) == 1

    # A full copy that went on by itself: longer than the source.
    ahead = str(tmp_path / "ahead.db")
    _ok("migrate-store", "--from", str(source), "--to", ahead)
    head = _head(ahead)
    _ok(
        "--db",
        ahead,
        "--key-dir",
        keys,
        "append",
        "--type",
        "test.result.recorded",
        "--subject",
        "model:x@1.0",
        "--data",
        '{"suite":"s","kind":"unit","passed":true,"metrics":{}}',
    )
    line = _refused(_cli("migrate-store", "--from", str(source), "--to", ahead))
    assert f"holds {head + 1} events, more than the source's {head}" in line

    # Another ledger altogether (its own origin and key), even while empty.
    empty = str(tmp_path / "stranger.db")
    _ok("--db", empty, "init")
    line = _refused(_cli("migrate-store", "--from", str(source), "--to", empty))
    assert "belongs to another ledger" in line
    assert _head(empty) == 0

    line = _refused(_cli("migrate-store", "--from", str(source), "--to", str(source)))
    assert "the destination is the source" in line


def test_a_source_event_that_does_not_verify_stops_the_copy_before_it(
    source: Path, tmp_path: Path
) -> None:
    with sqlite3.connect(source) as raw:
        raw.execute("DROP TRIGGER events_no_update")
        (body,) = raw.execute("SELECT body FROM events WHERE seq = 50").fetchone()
        raw.execute(
            "UPDATE events SET body = ? WHERE seq = 50", (bytes(body).replace(b'"', b"'", 1),)
        )
    raw.close()
    destination = str(tmp_path / "dest.db")
    line = _refused(
        _cli("migrate-store", "--from", str(source), "--to", destination, "--batch-size", "8")
    )
    assert line.startswith("error: source seq 50: altered_content")
    assert _head(destination) == 49  # every verified event before it, nothing after


def test_a_checkpoint_the_verifier_key_does_not_sign_is_refused_before_copying(
    source: Path, tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger.db"
    _ok("--db", str(stranger), "init")
    theirs, ours = open_store(stranger), open_store(source)
    try:
        key = theirs.get_meta("verifier_key")
        assert key is not None
        ours.set_meta("verifier_key", key)
    finally:
        theirs.close()
        ours.close()
    destination = str(tmp_path / "dest.db")
    line = _refused(_cli("migrate-store", "--from", str(source), "--to", destination))
    assert "latest checkpoint (size" in line
    assert "does not verify with its verifier_key" in line
    assert _head(destination) == 0


def test_a_missing_source_is_refused(tmp_path: Path) -> None:
    line = _refused(
        _cli("migrate-store", "--from", str(tmp_path / "nope.db"), "--to", str(tmp_path / "x.db"))
    )
    assert "no ledger at" in line
    assert not (tmp_path / "x.db").exists()


def test_a_copy_made_before_a_key_rotation_is_extended_and_takes_the_new_key(
    source: Path, tmp_path: Path
) -> None:
    backup = str(tmp_path / "backup.db")
    _ok("migrate-store", "--from", str(source), "--to", backup)
    keys = Path(_keys(source))
    keys.rename(tmp_path / "retired.keys")
    _ok("--db", str(source), "init")  # a new key for the same origin
    _ok("--db", str(source), "checkpoint")
    _ok(
        "--db",
        str(source),
        "append",
        "--type",
        "test.result.recorded",
        "--subject",
        "model:x@1.0",
        "--data",
        '{"suite":"s","kind":"unit","passed":true,"metrics":{}}',
    )
    head = _head(str(source))
    again = _ok("migrate-store", "--from", str(source), "--to", backup)
    assert f"copied 1 event (seq {head}..{head}, resumed after seq {head - 1})" in again.stdout
    src, dst = open_store(source), open_store(backup)
    try:
        assert dst.get_meta("verifier_key") == src.get_meta("verifier_key")
        assert dst.checkpoints() == src.checkpoints()
    finally:
        src.close()
        dst.close()
    _ok("--db", backup, "verify")


def test_an_empty_destination_initialised_with_another_key_is_refused(
    source: Path, tmp_path: Path
) -> None:
    store = open_store(source)
    try:
        origin = store.get_meta("origin")
    finally:
        store.close()
    assert origin is not None
    empty = str(tmp_path / "fresh.db")
    _ok("--db", empty, "--key-dir", str(tmp_path / "other.keys"), "init", "--origin", origin)
    line = _refused(_cli("migrate-store", "--from", str(source), "--to", empty))
    assert "verifier_key" in line
    assert "belongs to another ledger" in line
