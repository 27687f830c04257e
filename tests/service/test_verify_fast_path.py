"""verify's tuple loop finds exactly what the event-by-event ChainVerifier finds.

The loop in ledger.verification accepts a row only when it certainly passes
every check and hands any other row to ChainVerifier; these tests feed it the
rows the fast test must not accept (floats printed differently by orjson and
RFC 8785, non-ASCII keys, edited bodies and columns) and compare verdicts.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.chain import ChainReport, seal, verify_chain
from ledger.events import EventDraft
from ledger.service import Ledger
from ledger.store import open_store
from ledger.verification import verify_ledger
from tests.helpers import StepClock, id_factory

AWKWARD = [120.0, -0.0, 5e-06, 2.5e-05, 1e16, 1.5e17, 1e-08, 0.25, 9007199254740992.0]


def _payload(n: int) -> dict[str, object]:
    return {
        "metrics": {"auc": 0.9 + n / 1000, "odd": AWKWARD[n % len(AWKWARD)]},
        "note": "café" if n % 4 == 0 else "plain",
        "\U0001f600" if n % 5 == 0 else "k": [n, 1.5, None, True],
    }


def _build(path: Path, size: int) -> None:
    ledger = Ledger(open_store(path), clock=StepClock(), new_id=id_factory(), project=False)
    drafts = [
        EventDraft.create("test.result.recorded", f"model:m@1.{n % 3}.0", _payload(n))
        for n in range(size)
    ]
    for start in range(0, size, 7):
        ledger.append(drafts[start : start + 7], "ci")
    ledger.store.close()


def _reference(path: Path) -> ChainReport:
    store = open_store(path)
    try:
        return verify_chain(store.read())
    finally:
        store.close()


def _fast(path: Path) -> ChainReport:
    store = open_store(path)
    try:
        return verify_ledger(store, check_nodes=False)[0]
    finally:
        store.close()


def test_awkward_but_canonical_bodies_verify(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    _build(path, 60)
    fast = _fast(path)
    assert fast.ok, fast
    assert fast == _reference(path)


def _tamper(path: Path, seq: int, body: bytes) -> None:
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET body = ? WHERE seq = ?", (body, seq))
    conn.commit()
    conn.close()


def _rehash(path: Path, seq: int, body: bytes) -> None:
    """Replace a body and its hash, so only the canonical form check can object."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute(
        "UPDATE events SET body = ?, hash = ? WHERE seq = ?",
        (body, hashlib.sha256(body).hexdigest(), seq),
    )
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'"auc":', b'"auc" :'),  # whitespace: not canonical
        (b'"odd":120}', b'"odd":120.0}'),  # integral float in orjson's spelling
        (b'"odd":0.000005}', b'"odd":5e-6}'),  # a small float in orjson's spelling
        (b'"note":"plain"', b'"note":"pla\\u0069n"'),  # a needless escape
        (b'"seq":', b'"seq":0,"seq":'),  # a duplicate key
        (b'"seq":8,', b'"seq":8.0,'),  # seq as a float: equal to the column, not canonical
        (b'"seq":1,', b'"seq":true,'),  # seq as a boolean: True == 1 in Python
    ],
)
def test_a_non_canonical_body_is_found_at_its_seq(tmp_path: Path, old: bytes, new: bytes) -> None:
    path = tmp_path / "l.db"
    _build(path, 30)
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT seq, body FROM events ORDER BY seq").fetchall()
    conn.close()
    seq, body = next((s, b) for s, b in rows if old in b)
    _rehash(path, seq, body.replace(old, new, 1))
    fast = _fast(path)
    assert (fast.ok, fast.first_bad_seq) == (False, seq)
    assert fast == _reference(path)


# From seq 2 on: a chunk's first event is judged by the link its body claims
# (ledger.verification), so at seq 1 an edited prev_hash reads as a broken
# link rather than altered content; the seq is the same.
@given(st.integers(min_value=2, max_value=40), st.integers(min_value=0, max_value=10**6))
@settings(max_examples=25, deadline=None)
def test_any_flipped_byte_is_reported_as_the_reference_reports_it(
    tmp_path_factory: pytest.TempPathFactory, seq: int, where: int
) -> None:
    path = tmp_path_factory.mktemp("flip") / "l.db"
    _build(path, 40)
    conn = sqlite3.connect(path)
    (body,) = conn.execute("SELECT body FROM events WHERE seq = ?", (seq,)).fetchone()
    conn.close()
    at = where % len(body)
    _tamper(path, seq, body[:at] + bytes([body[at] ^ 0x01]) + body[at + 1 :])
    fast = _fast(path)
    assert not fast.ok
    assert fast == _reference(path)


def test_a_column_edited_to_disagree_with_the_body_is_found(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    _build(path, 20)
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET subject = 'model:other@1.0.0' WHERE seq = 11")
    conn.commit()
    conn.close()
    fast = _fast(path)
    assert (fast.ok, fast.first_bad_seq) == (False, 11)
    assert fast == _reference(path)


def test_seal_matches_what_verify_accepts_for_awkward_payloads() -> None:
    prev = "0" * 64
    events = []
    for n in range(20):
        draft = EventDraft.create("test.result.recorded", "model:m@1.0.0", _payload(n))
        event = seal(
            draft,
            seq=n + 1,
            prev_hash=prev,
            actor="ci",
            recorded_at="2026-11-25T14:02:00.000000Z",
            id=f"00000000-0000-0000-0000-{n:012d}",
        )
        prev = event.hash
        events.append(event)
    assert verify_chain(events).ok
