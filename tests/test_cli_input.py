"""Bad input through the command line: one clear line on stderr, non-zero, nothing appended."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ledger.cli import cli
from ledger.store import open_store
from tests.helpers import open_files_under

ID = "6f1f2c8e-8f7d-4b8e-9a53-0d8b1f7c7a11"
GOOD: dict[str, object] = {
    "type": "test.result.recorded",
    "subject": "model:fraud-detector@1.4.0",
    "data": {
        "suite": "offline-eval",
        "kind": "evaluation",
        "passed": True,
        "metrics": {"auc": 0.95},
    },
}


def invoke(db: Path, *args: str, input: bytes | str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), *args], input=input)


def head(db: Path) -> int:
    store = open_store(db)
    try:
        return store.head().seq
    finally:
        store.close()


def error_line(result: Result) -> str:
    """The single stderr line of a failed command, without its ``error: `` prefix."""
    assert result.exit_code != 0, result.stdout
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0].removeprefix("error: ")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialized ledger already holding one event, so "nothing appended" means something."""
    path = tmp_path_factory.mktemp("template") / "ledger.db"
    assert invoke(path, "init").exit_code == 0
    result = invoke(
        path,
        "append",
        "--type",
        str(GOOD["type"]),
        "--subject",
        str(GOOD["subject"]),
        "--data",
        json.dumps(GOOD["data"]),
    )
    assert result.exit_code == 0, result.stderr
    assert head(path) == 1
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    """A private copy of the template ledger (database and key directory)."""
    copy = tmp_path / "ledger"
    shutil.copytree(template.parent, copy)
    return copy / template.name


def jsonl(path: Path, third_line: str) -> Path:
    """A batch file whose lines 1, 2 and 4 are good and whose line 3 is ``third_line``."""
    good = json.dumps(GOOD)
    path.write_text("\n".join([good, good, third_line, good]) + "\n")
    return path


def line(**changes: object) -> str:
    return json.dumps({**GOOD, **changes})


def without(field: str) -> str:
    return json.dumps({k: v for k, v in GOOD.items() if k != field})


# (line 3 of the batch, words the one-line error must hold besides file and line number)
BAD_THIRD_LINES: dict[str, tuple[str, list[str]]] = {
    "malformed JSON": ('{"type": "test.result.recorded", "subject": ', ["not valid JSON"]),
    "not an object": ("[1, 2, 3]", ["JSON object"]),
    "missing type": (without("type"), ["type", "missing"]),
    "missing subject": (without("subject"), ["subject", "missing"]),
    "missing data": (without("data"), ["data", "missing"]),
    "subject of the wrong type": (line(subject=42), ["subject"]),
    "subject not a reference": (line(subject="fraud detector"), ["subject"]),
    "data of the wrong type": (line(data=[1, 2]), ["data", "object"]),
    "unknown field actor": (line(actor="mallory"), ["actor", "set by the ledger"]),
    "unknown field seq": (line(seq=3), ["seq", "set by the ledger"]),
    "unknown field hash": (line(hash="00" * 32), ["hash", "set by the ledger"]),
    "a field that does not exist": (line(colour="red"), ["colour", "not an event field"]),
    "type not dotted": (line(type="Approved"), ["type"]),
    "id not a UUID": (line(id="retry-1"), ["id", "UUID"]),
    "occurred_at not RFC 3339": (line(occurred_at="yesterday"), ["occurred_at", "RFC 3339"]),
    "a type the catalogue does not know": (line(type="model.blessed"), ["type", "model.blessed"]),
    "data against its type's schema": (line(data={"suite": "x"}), ["data.kind"]),
    "NaN literal": (line(data={"auc": 0.5}).replace("0.5", "NaN"), ["NaN"]),
    "Infinity literal": (line(data={"auc": 0.5}).replace("0.5", "Infinity"), ["Infinity"]),
    "integer 2**60": (line(data={"rows": 2**60}), ["rows", str(2**60)]),
    "data over 64 KiB": (line(data={"blob": "x" * 64 * 1024}), ["data", "65536"]),
}


@pytest.mark.parametrize("case", sorted(BAD_THIRD_LINES))
def test_a_bad_third_line_names_file_line_and_field_and_appends_nothing(
    db: Path, tmp_path: Path, case: str
) -> None:
    third, words = BAD_THIRD_LINES[case]
    batch = jsonl(tmp_path / "batch.jsonl", third)
    result = invoke(db, "append", "--file", str(batch))
    message = error_line(result)
    assert result.exit_code == 2
    assert message.startswith(f"{batch}:3: "), message
    for word in words:
        assert word in message, message
    assert head(db) == 1


APPEND_STDIN = ["append", "--file", "-"]


def test_a_bad_line_from_stdin_is_refused_naming_stdin_and_its_line(db: Path) -> None:
    # The installed script on a real pipe: under CliRunner stdin's binary stream is a
    # nameless BytesIO, which is not what `--file -` meets in use.
    done = subprocess.run(
        [str(Path(sys.executable).with_name("rollout-ledger")), "--db", str(db), *APPEND_STDIN],
        input=f"{json.dumps(GOOD)}\n{line(seq=9)}\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "error: <stdin>:2: seq: is set by the ledger, not the client\n"
    assert head(db) == 1


def test_a_batch_file_with_no_events_is_refused(db: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    message = error_line(invoke(db, "append", "--file", str(empty)))
    assert str(empty) in message
    assert "no events" in message
    assert head(db) == 1


def test_a_batch_file_that_is_not_utf8_is_refused_with_its_line(db: Path, tmp_path: Path) -> None:
    batch = tmp_path / "latin1.jsonl"
    batch.write_bytes(json.dumps(GOOD).encode() + b'\n{"type": "\xe9"}\n')
    result = invoke(db, "append", "--file", str(batch))
    assert f"{batch}:2: " in error_line(result)
    assert result.exit_code == 2
    assert head(db) == 1


# (extra arguments after --type/--subject/--data, words the error must hold)
BAD_SINGLE_EVENTS: dict[str, tuple[list[str], list[str]]] = {
    "malformed JSON in --data": (["--data", '{"suite": '], ["--data", "not valid JSON"]),
    "NaN in --data": (["--data", '{"auc": NaN}'], ["--data", "NaN"]),
    "--data not an object": (["--data", "[1, 2]"], ["data", "object"]),
    "integer 2**60 in --data": (["--data", json.dumps({"rows": 2**60})], ["rows"]),
    "--data over 64 KiB": (["--data", json.dumps({"blob": "x" * 65536})], ["data", "65536"]),
    "bad --subject": (["--subject", "no kind"], ["subject"]),
    "bad --type": (["--type", "approve"], ["type"]),
    "bad --id": (["--id", "123"], ["id", "UUID"]),
    "bad --occurred-at": (["--occurred-at", "2026-13-45T00:00:00Z"], ["occurred_at"]),
}


@pytest.mark.parametrize("case", sorted(BAD_SINGLE_EVENTS))
def test_a_bad_single_event_is_refused_with_one_line_and_appends_nothing(
    db: Path, case: str
) -> None:
    extra, words = BAD_SINGLE_EVENTS[case]
    options = {
        "--type": str(GOOD["type"]),
        "--subject": str(GOOD["subject"]),
        "--data": json.dumps(GOOD["data"]),
    }
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        options[flag] = value
    result = invoke(db, "append", *[part for pair in options.items() for part in pair])
    message = error_line(result)
    assert result.exit_code == 2
    for word in words:
        assert word in message, message
    assert head(db) == 1


def test_a_single_event_without_subject_is_refused(db: Path) -> None:
    message = error_line(invoke(db, "append", "--type", "a.b", "--data", "{}"))
    assert "--subject" in message
    assert head(db) == 1


def test_appending_before_init_says_to_run_init_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.db"
    result = invoke(path, "append", "--type", "a.b", "--subject", "model:m", "--data", "{}")
    message = error_line(result)
    assert result.exit_code == 4
    assert str(path) in message
    assert "init" in message
    assert not path.exists()


def append_with_id(db: Path, *, passed: bool) -> Result:
    data = {**GOOD["data"], "passed": passed}  # type: ignore[dict-item]
    return invoke(
        db,
        "append",
        "--type",
        str(GOOD["type"]),
        "--subject",
        str(GOOD["subject"]),
        "--data",
        json.dumps(data),
        "--id",
        ID,
    )


def test_retrying_with_the_same_id_prints_the_original_seq_and_hash_as_existing(db: Path) -> None:
    first = append_with_id(db, passed=True)
    assert first.exit_code == 0, first.stderr
    seq, hash_ = first.stdout.split()
    assert seq == "2"
    again = append_with_id(db, passed=True)
    assert again.exit_code == 0, again.stderr
    assert again.stdout == f"2\t{hash_}\texisting\n"
    assert head(db) == 2


def test_the_same_id_with_other_content_is_a_conflict_that_exits_3(db: Path) -> None:
    assert append_with_id(db, passed=True).exit_code == 0
    result = append_with_id(db, passed=False)
    message = error_line(result)
    assert result.exit_code == 3
    assert ID in message
    assert "seq 2" in message
    assert head(db) == 2


def test_a_batch_reusing_an_id_with_other_content_is_a_conflict_that_appends_nothing(
    db: Path, tmp_path: Path
) -> None:
    batch = tmp_path / "twice.jsonl"
    other = {**GOOD["data"], "passed": False}  # type: ignore[dict-item]
    batch.write_text(line(id=ID) + "\n" + line(id=ID, data=other) + "\n")
    result = invoke(db, "append", "--file", str(batch))
    message = error_line(result)
    assert result.exit_code == 3
    assert ID in message
    assert head(db) == 1


def test_retrying_a_whole_batch_file_marks_every_event_existing(db: Path, tmp_path: Path) -> None:
    batch = tmp_path / "batch.jsonl"
    ids = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(3)]
    batch.write_text("".join(line(id=i) + "\n" for i in ids))
    first = invoke(db, "append", "--file", str(batch))
    assert first.exit_code == 0, first.stderr
    again = invoke(db, "append", "--file", str(batch))
    assert again.exit_code == 0, again.stderr
    assert again.stdout.splitlines() == [f"{row}\texisting" for row in first.stdout.splitlines()]
    assert head(db) == 4


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize(
    "args",
    [
        ("append", "--type", str(GOOD["type"]), "--subject", str(GOOD["subject"]), "--data", "{}"),
        ("append", "--type", str(GOOD["type"]), "--subject", str(GOOD["subject"])),
        ("verify",),
        ("export", "--out", "-"),
        ("checkpoint",),
    ],
    ids=["refused", "bad-flags", "verify", "export", "checkpoint"],
)
def test_a_command_closes_the_database_before_it_returns(db: Path, args: tuple[str, ...]) -> None:
    """No connection outlives the command: one left to the garbage collector
    (whose cycles the projection cache freezes for minutes) closes later, at a
    random moment, as the file's last connection, and deletes -wal and -shm from
    under whoever is copying the directory then (the template copy above)."""
    invoke(db, *args)
    assert open_files_under(db.parent) == []


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_a_successful_append_closes_the_database(db: Path) -> None:
    result = invoke(
        db,
        "append",
        "--type",
        str(GOOD["type"]),
        "--subject",
        str(GOOD["subject"]),
        "--data",
        json.dumps(GOOD["data"]),
    )
    assert result.exit_code == 0, result.stderr
    assert open_files_under(db.parent) == []
