"""Verification spread over processes finds exactly what the sequential pass finds."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ledger.chain import ChainReport
from ledger.note import generate_signer
from ledger.service import Ledger
from ledger.store import open_store
from ledger.verification import verify_ledger
from tests.helpers import StepClock, draft, id_factory


def _build(path: Path, size: int, checkpoint_at: int | None = None) -> None:
    ledger = Ledger(
        open_store(path),
        clock=StepClock(),
        new_id=id_factory(),
        signer=generate_signer("test.example/log"),
    )
    done = 0
    while done < size:
        step = min(97, size - done)
        if checkpoint_at is not None and done < checkpoint_at < done + step:
            step = checkpoint_at - done
        ledger.append([draft(done + i) for i in range(step)], "ci")
        done += step
        if done == checkpoint_at:
            ledger.checkpoint()
    ledger.store.close()


def _both(path: Path) -> tuple[ChainReport, ChainReport, list[bytes], list[bytes]]:
    store = open_store(path)
    one, f1 = verify_ledger(store, workers=1, chunk=64)
    two, f2 = verify_ledger(store, workers=2, chunk=64, min_parallel=0)
    store.close()
    return one, two, f1, f2


@pytest.mark.parametrize("size", [1, 63, 64, 65, 300, 1000])
def test_parallel_and_sequential_agree_on_an_intact_ledger(tmp_path: Path, size: int) -> None:
    path = tmp_path / "l.db"
    _build(path, size, checkpoint_at=size // 2 or None)
    one, two, f1, f2 = _both(path)
    assert one.ok
    assert two.ok
    assert (one.checked, one.head_hash, f1) == (two.checked, two.head_hash, f2)
    assert Ledger(open_store(path)).verify(workers=2).ok


@pytest.mark.parametrize(
    ("statement", "seq", "kind"),
    [
        (
            "UPDATE events SET body = CAST(replace(CAST(body AS TEXT), 'offline', 'OFFLINE')"
            " AS BLOB) WHERE seq = 200",
            200,
            "altered_content",
        ),
        ("DELETE FROM events WHERE seq = 64", 64, "missing_seq"),
        ("DELETE FROM events WHERE seq = 129", 129, "missing_seq"),
        ("DELETE FROM events WHERE seq > 500", 501, "truncated"),
    ],
)
def test_parallel_verification_names_the_same_first_break(
    tmp_path: Path, statement: str, seq: int, kind: str
) -> None:
    path = tmp_path / "l.db"
    _build(path, 700, checkpoint_at=650)
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("DROP TRIGGER events_no_delete")
    conn.execute(statement)
    conn.commit()
    conn.close()
    one, two, _, _ = _both(path)
    assert (one.ok, one.first_bad_seq, one.kind) == (False, seq, kind)
    assert (two.ok, two.first_bad_seq, two.kind) == (False, seq, kind)
