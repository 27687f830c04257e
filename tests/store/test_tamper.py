"""The tamper matrix: history edited behind the ledger's back, caught by verify.

Each case builds a real SQLite ledger of eight events, then opens the file with
a raw ``sqlite3`` connection, drops the append-only triggers and rewrites it the
way a careless (or malicious) operator could. ``Ledger.verify()`` and the
``verify`` command must both name the first bad seq and the kind of break.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger import verification
from ledger.chain import BreakKind, ChainReport, seal
from ledger.cli import cli
from ledger.errors import ProofInvalid
from ledger.merkle import verify_inclusion
from ledger.note import generate_signer
from ledger.service import Ledger
from ledger.store import open_store
from tests.helpers import StepClock, draft, id_factory
from tests.merkle.reference import ReferenceTree

EVENTS = 8
CLI_BREAK = re.compile(r"error: seq (\d+): ([a-z_]+): \S.*")
TRIGGERS = [
    f"{table}_no_{verb}"
    for table in ("events", "merkle_nodes", "checkpoints")
    for verb in ("update", "delete")
]
COLUMNS = [
    "id",
    "type",
    "subject",
    "actor",
    "occurred_at",
    "recorded_at",
    "prev_hash",
    "hash",
    "body",
]


def build_ledger(db_path: Path, *, checkpoint: bool) -> None:
    """Eight events in batches of 1, 2 and 5 (and a signed checkpoint when asked)."""
    store = open_store(db_path)
    ledger = Ledger(
        store,
        clock=StepClock(),
        new_id=id_factory(),
        signer=generate_signer("test.example/log"),
    )
    ledger.append([draft(1)], "ci")
    ledger.append([draft(2), draft(3)], "ci")
    ledger.append([draft(n) for n in range(4, EVENTS + 1)], "ci")
    if checkpoint:
        ledger.checkpoint()
    store.close()


def behind_the_back(db_path: Path) -> sqlite3.Connection:
    """A raw autocommit connection with the append-only triggers dropped."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    for trigger in TRIGGERS:
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    return conn


def body_of(conn: sqlite3.Connection, seq: int) -> bytes:
    (body,) = conn.execute("SELECT body FROM events WHERE seq = ?", (seq,)).fetchone()
    assert isinstance(body, bytes)
    return body


def rewrite_body(conn: sqlite3.Connection, seq: int, body: bytes, *, rehash: bool) -> None:
    if rehash:
        conn.execute(
            "UPDATE events SET body = ?, hash = ? WHERE seq = ?",
            (body, hashlib.sha256(body).hexdigest(), seq),
        )
    else:
        conn.execute("UPDATE events SET body = ? WHERE seq = ?", (body, seq))


def edited_payload(body: bytes) -> bytes:
    """The same event with one payload value changed; still canonical JSON."""
    assert b'"suite":"offline-eval"' in body
    return body.replace(b'"suite":"offline-eval"', b'"suite":"offline-evil"')


# ---- the tampering, one function per row of the matrix -----------------------------


def edit_payload_keep_hash(conn: sqlite3.Connection) -> None:
    rewrite_body(conn, 3, edited_payload(body_of(conn, 3)), rehash=False)


def edit_payload_and_rehash(conn: sqlite3.Connection) -> None:
    rewrite_body(conn, 3, edited_payload(body_of(conn, 3)), rehash=True)


def edit_head_payload_and_rehash(conn: sqlite3.Connection) -> None:
    rewrite_body(conn, EVENTS, edited_payload(body_of(conn, EVENTS)), rehash=True)


def delete_a_row(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM events WHERE seq = 5")


def delete_the_first_row(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM events WHERE seq = 1")


def swap_two_rows(conn: sqlite3.Connection) -> None:
    """Rows 4 and 5 trade every column but seq."""
    names = ", ".join(COLUMNS)
    row4, row5 = (
        conn.execute(f"SELECT {names} FROM events WHERE seq = ?", (seq,)).fetchone()
        for seq in (4, 5)
    )
    conn.execute("DELETE FROM events WHERE seq IN (4, 5)")
    marks = ", ".join("?" * len(COLUMNS))
    conn.execute(f"INSERT INTO events (seq, {names}) VALUES (?, {marks})", (4, *row5))
    conn.execute(f"INSERT INTO events (seq, {names}) VALUES (?, {marks})", (5, *row4))


def forged_event_row(seq: int, prev_hash: str, n: int) -> tuple[object, ...]:
    event = seal(
        draft(100 + n),
        seq=seq,
        prev_hash=prev_hash,
        actor="ci",
        recorded_at="2026-11-02T00:00:00.000000Z",
        id=f"00000000-0000-4000-8000-{n:012d}",
    )
    return tuple(getattr(event, name) for name in ("seq", *COLUMNS))


def insert_rows(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    marks = ", ".join("?" * (len(COLUMNS) + 1))
    conn.executemany(f"INSERT INTO events (seq, {', '.join(COLUMNS)}) VALUES ({marks})", rows)


def append_forged_row_with_wrong_link(conn: sqlite3.Connection) -> None:
    insert_rows(conn, [forged_event_row(EVENTS + 1, "ab" * 32, 1)])


def add_whitespace_and_rehash(conn: sqlite3.Connection) -> None:
    body = body_of(conn, 6)
    assert body.startswith(b'{"actor":')
    rewrite_body(conn, 6, b'{ "actor":' + body[len(b'{"actor":') :], rehash=True)


def edit_subject_column(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE events SET subject = 'model:fraud-detector@9.9.9' WHERE seq = 2")


def truncate_last_three(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM events WHERE seq > ?", (EVENTS - 3,))


def rewrite_last_three_consistently(conn: sqlite3.Connection) -> None:
    """Replace events 6..8 by a well-linked forged history of the same length, and
    recompute every stored Merkle node to match: only the checkpoint can tell."""
    truncate_last_three(conn)
    (prev,) = conn.execute("SELECT hash FROM events WHERE seq = ?", (EVENTS - 3,)).fetchone()
    rows = []
    for n, seq in enumerate(range(EVENTS - 2, EVENTS + 1), start=1):
        row = forged_event_row(seq, prev, n)
        rows.append(row)
        prev = str(row[-2])
    insert_rows(conn, rows)
    bodies = [body for (body,) in conn.execute("SELECT body FROM events ORDER BY seq")]
    nodes = ReferenceTree(bodies).perfect_nodes(EVENTS)
    conn.execute("DELETE FROM merkle_nodes")
    conn.executemany(
        "INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)",
        [(level, index, h) for (level, index), h in nodes.items()],
    )


def edit_merkle_node(level: int, index: int) -> Callable[[sqlite3.Connection], None]:
    def tamper(conn: sqlite3.Connection) -> None:
        changed = conn.execute(
            "UPDATE merkle_nodes SET hash = ? WHERE level = ? AND idx = ?",
            (hashlib.sha256(b"forged").digest(), level, index),
        ).rowcount
        assert changed == 1, f"no stored Merkle node ({level}, {index})"

    tamper.__name__ = f"edit_merkle_node_{level}_{index}"
    return tamper


def delete_merkle_root_node(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM merkle_nodes WHERE level = 3 AND idx = 0")


@dataclass(frozen=True)
class Case:
    tamper: Callable[[sqlite3.Connection], None]
    seq: int
    kind: str
    checkpoint: bool = False


# The tree of 8 events stores perfect nodes (1, 0..3), (2, 0..1) and (3, 0); the
# root at size 8 is (3, 0). A node (L, i) is complete from seq (i + 1) * 2**L on.
MATRIX: dict[str, Case] = {
    "payload edited, hash kept": Case(edit_payload_keep_hash, 3, BreakKind.ALTERED_CONTENT),
    "payload edited, hash recomputed": Case(edit_payload_and_rehash, 4, BreakKind.BROKEN_LINK),
    "head payload edited, hash recomputed": Case(
        edit_head_payload_and_rehash, EVENTS, BreakKind.MERKLE_MISMATCH
    ),
    "a row deleted": Case(delete_a_row, 5, BreakKind.MISSING_SEQ),
    "the first row deleted": Case(delete_the_first_row, 1, BreakKind.MISSING_SEQ),
    "two rows swapped": Case(swap_two_rows, 4, BreakKind.REORDERED),
    "forged row appended with a wrong prev_hash": Case(
        append_forged_row_with_wrong_link, EVENTS + 1, BreakKind.BROKEN_LINK
    ),
    "whitespace added, hash recomputed": Case(
        add_whitespace_and_rehash, 6, BreakKind.NON_CANONICAL
    ),
    "subject column edited, body intact": Case(edit_subject_column, 2, BreakKind.ALTERED_CONTENT),
    "last 3 rows deleted after a checkpoint": Case(
        truncate_last_three, EVENTS - 2, BreakKind.TRUNCATED, checkpoint=True
    ),
    "last 3 rows and the tree rewritten consistently after a checkpoint": Case(
        rewrite_last_three_consistently, EVENTS, BreakKind.MERKLE_MISMATCH, checkpoint=True
    ),
    "root Merkle node edited": Case(edit_merkle_node(3, 0), EVENTS, BreakKind.MERKLE_MISMATCH),
    "root Merkle node deleted": Case(delete_merkle_root_node, EVENTS, BreakKind.MERKLE_MISMATCH),
    # Nodes off the head's frontier feed inclusion and consistency proofs, so verify
    # must check them too (test_an_edited_interior_merkle_node_breaks_inclusion_proofs).
    "interior Merkle node edited": Case(edit_merkle_node(1, 1), 4, BreakKind.MERKLE_MISMATCH),
    "interior Merkle node edited, with a checkpoint": Case(
        edit_merkle_node(2, 1), EVENTS, BreakKind.MERKLE_MISMATCH, checkpoint=True
    ),
}


@pytest.fixture(params=sorted(MATRIX), ids=sorted(MATRIX))
def tampered(request: pytest.FixtureRequest, db_path: Path) -> tuple[Path, Case]:
    case = MATRIX[request.param]
    build_ledger(db_path, checkpoint=case.checkpoint)
    conn = behind_the_back(db_path)
    case.tamper(conn)
    conn.close()
    return db_path, case


def verify(db_path: Path, *, workers: int = 1) -> ChainReport:
    store = open_store(db_path)
    try:
        return Ledger(store).verify(workers=workers)
    finally:
        store.close()


def test_verify_names_the_first_bad_seq_and_kind_of_each_tampering(
    tampered: tuple[Path, Case],
) -> None:
    db_path, case = tampered
    report = verify(db_path)
    assert not report.ok
    assert (report.first_bad_seq, report.kind) == (case.seq, case.kind), report.reason
    assert report.reason


@pytest.fixture
def chunks_of_four(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verify in chunks of 4 events, so the 8-event ledger has a chunk boundary at 4|5."""
    monkeypatch.setattr(verification, "CHUNK", 4)
    monkeypatch.setattr(verification, "PARALLEL_THRESHOLD", 8)


@pytest.mark.usefixtures("chunks_of_four")
def test_verify_in_chunks_finds_the_same_first_break_across_a_chunk_boundary(
    tampered: tuple[Path, Case],
) -> None:
    db_path, case = tampered
    report = verify(db_path)
    assert (report.ok, report.first_bad_seq, report.kind) == (False, case.seq, case.kind), (
        report.reason
    )


@pytest.mark.usefixtures("chunks_of_four")
@pytest.mark.parametrize(
    "name", ["a row deleted", "two rows swapped", "payload edited, hash recomputed"]
)
def test_verify_with_worker_processes_finds_the_same_first_break(db_path: Path, name: str) -> None:
    case = MATRIX[name]
    build_ledger(db_path, checkpoint=case.checkpoint)
    conn = behind_the_back(db_path)
    case.tamper(conn)
    conn.close()
    report = verify(db_path, workers=2)
    assert (report.ok, report.first_bad_seq, report.kind) == (False, case.seq, case.kind), (
        report.reason
    )


def test_the_verify_command_exits_5_with_one_line_naming_seq_and_kind(
    tampered: tuple[Path, Case],
) -> None:
    db_path, case = tampered
    result = CliRunner().invoke(cli, ["--db", str(db_path), "verify"])
    assert result.exit_code == 5, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    match = CLI_BREAK.fullmatch(lines[0])
    assert match, lines[0]
    assert (int(match[1]), match[2]) == (case.seq, case.kind)


def test_an_untouched_ledger_verifies_through_the_service_and_the_command(db_path: Path) -> None:
    build_ledger(db_path, checkpoint=True)
    behind_the_back(db_path).close()  # dropping the triggers alone changes no history
    store = open_store(db_path)
    report = Ledger(store).verify()
    store.close()
    assert (report.ok, report.checked) == (True, EVENTS)
    result = CliRunner().invoke(cli, ["--db", str(db_path), "verify"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"ok: {EVENTS} events verified, head ")


def test_the_installed_console_script_reports_a_break_the_same_way(db_path: Path) -> None:
    build_ledger(db_path, checkpoint=False)
    conn = behind_the_back(db_path)
    edit_payload_keep_hash(conn)
    conn.close()
    script = Path(sys.executable).with_name("rollout-ledger")
    done = subprocess.run(
        [str(script), "--db", str(db_path), "verify"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 5
    assert done.stdout == ""
    assert CLI_BREAK.fullmatch(done.stderr.rstrip("\n")), done.stderr
    assert done.stderr.startswith(f"error: seq 3: {BreakKind.ALTERED_CONTENT}: ")


def test_an_edited_interior_merkle_node_breaks_inclusion_proofs(db_path: Path) -> None:
    """Why verify must check every stored node, not only the head's frontier."""
    build_ledger(db_path, checkpoint=False)
    store = open_store(db_path)
    root = Ledger(store).root()
    store.close()
    conn = behind_the_back(db_path)
    edit_merkle_node(1, 1)(conn)  # on the audit path of seq 1: (0, 1), (1, 1), (2, 1)
    conn.close()
    store = open_store(db_path)
    proof = Ledger(store).inclusion_proof(1)
    store.close()
    with pytest.raises(ProofInvalid):
        verify_inclusion(proof.leaf_hash, proof.leaf_index, proof.tree_size, proof.path, root)


@pytest.mark.parametrize("seq", [1, 3])
@pytest.mark.parametrize("value", ["CAST(body AS TEXT)", "5"], ids=["text", "integer"])
def test_a_body_rewritten_as_another_type_is_reported_not_a_crash(
    db_path: Path, value: str, seq: int
) -> None:
    """SQLite keeps a value's type per row: the same bytes stored as TEXT are not
    the hashed bytes any more, and verify must say where instead of raising."""
    build_ledger(db_path, checkpoint=False)
    conn = behind_the_back(db_path)
    conn.execute(f"UPDATE events SET body = {value} WHERE seq = ?", (seq,))
    conn.close()
    report = verify(db_path)
    assert (report.ok, report.first_bad_seq, report.kind) == (
        False,
        seq,
        BreakKind.ALTERED_CONTENT,
    ), report.reason
