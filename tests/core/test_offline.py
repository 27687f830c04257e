"""Offline verification of exports (ledger.offline) and receipts (ledger.receipt)."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.canonical import canonical_bytes
from ledger.chain import GENESIS_HASH, BreakKind, export_line, seal
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.errors import CheckpointInvalid, ProofInvalid
from ledger.events import Event
from ledger.merkle import append_leaves, leaf_hash, root_from_frontier
from ledger.note import Signer, generate_signer
from ledger.offline import ExportReport, parse_export_line, verify_export
from ledger.receipt import RECEIPT_HEADER, format_receipt, verify_receipt
from ledger.service import Ledger
from ledger.store import open_store
from tests.helpers import StepClock, draft, id_factory

ORIGIN = "test.example/log"
SIGNER = generate_signer(ORIGIN)


def chain(n: int) -> list[Event]:
    """A sealed chain of ``n`` realistic events, built with the core alone."""
    events: list[Event] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        event = seal(
            draft(seq),
            seq=seq,
            prev_hash=prev,
            actor="pipeline:ci",
            recorded_at=f"2026-11-01T12:00:{seq % 60:02d}.000000Z",
            id=f"00000000-0000-0000-0000-{seq:012d}",
        )
        events.append(event)
        prev = event.hash
    return events


def signed(events: list[Event], *, signer: Signer = SIGNER, origin: str = ORIGIN) -> str:
    """A checkpoint note over ``events``, root computed with the merkle core."""
    step = append_leaves([], 0, [leaf_hash(e.body) for e in events])
    return sign_checkpoint(
        Checkpoint(origin, len(events), root_from_frontier(step.frontier)), signer
    )


def lines(events: list[Event]) -> list[bytes]:
    return [export_line(e) + b"\n" for e in events]


def rewrite(line: bytes, **changes: object) -> bytes:
    """The line with fields changed; ``hash`` recomputed unless it is among the changes."""
    obj = orjson.loads(line)
    obj.update(changes)
    if "hash" not in changes:
        body = {k: v for k, v in obj.items() if k != "hash"}
        obj["hash"] = hashlib.sha256(canonical_bytes(body)).hexdigest()
    return canonical_bytes(obj) + b"\n"


def check(export: list[bytes], note: str | None = None, **kwargs: str) -> ExportReport:
    return verify_export(export, note or signed(chain(10)), SIGNER.verifier, **kwargs)


def failure(report: ExportReport) -> tuple[bool, int | None, str | None]:
    return report.ok, report.first_bad_seq, report.kind


@pytest.fixture
def signing_ledger(tmp_path: Path) -> Iterator[Ledger]:
    store = open_store(tmp_path / "ledger.db")
    yield Ledger(store, clock=StepClock(), new_id=id_factory(), signer=SIGNER)
    store.close()


def test_an_export_of_a_real_ledger_verifies_against_its_checkpoint(
    signing_ledger: Ledger,
) -> None:
    signing_ledger.append([draft(n) for n in range(25)], "pipeline:ci")
    note = signing_ledger.checkpoint()
    export = io.BytesIO(b"".join(lines(list(signing_ledger.events()))))

    report = verify_export(export, note, SIGNER.verifier, origin=ORIGIN)

    assert report == ExportReport(True, 25, 25, signing_ledger.root(), ORIGIN)


def test_every_export_line_parses_back_into_the_event_it_came_from() -> None:
    events = chain(5)
    assert [parse_export_line(export_line(e)) for e in events] == events


def test_an_empty_export_matches_the_empty_checkpoint() -> None:
    assert check([], signed([])).ok


def test_a_line_with_altered_data_and_its_old_hash_is_altered_content_at_its_seq() -> None:
    export = lines(chain(10))
    obj = orjson.loads(export[3])
    altered = {**obj["data"], "passed": not obj["data"]["passed"]}
    export[3] = rewrite(export[3], data=altered, hash=obj["hash"])
    assert failure(check(export)) == (False, 4, BreakKind.ALTERED_CONTENT)


def test_a_line_with_altered_data_and_a_recomputed_hash_breaks_the_next_link() -> None:
    export = lines(chain(10))
    export[3] = rewrite(export[3], data={"passed": True})
    report = check(export)
    assert failure(report) == (False, 5, BreakKind.BROKEN_LINK)
    assert report.reason == "line 5: prev_hash does not match the hash of seq 4"


def test_a_rewritten_last_line_with_a_recomputed_hash_fails_the_signed_root() -> None:
    export = lines(chain(10))
    export[9] = rewrite(export[9], data={"passed": True})
    assert failure(check(export)) == (False, None, BreakKind.MERKLE_MISMATCH)


def test_a_dropped_line_is_reported_as_its_missing_seq() -> None:
    export = lines(chain(10))
    del export[6]
    report = check(export)
    assert failure(report) == (False, 7, BreakKind.MISSING_SEQ)
    assert report.checked == 6


def test_two_swapped_lines_are_reported_as_reordered_at_the_first() -> None:
    export = lines(chain(10))
    export[2], export[3] = export[3], export[2]
    report = check(export)
    assert failure(report) == (False, 3, BreakKind.REORDERED)
    assert report.reason == "line 3: seq 3 is at line 4, after seq 4"


def test_a_duplicated_line_is_reported_as_reordered() -> None:
    export = lines(chain(10))
    export.insert(5, export[4])
    assert failure(check(export)) == (False, 5, BreakKind.REORDERED)


def test_an_export_shorter_than_the_checkpoint_is_truncated() -> None:
    report = check(lines(chain(7)))
    assert failure(report) == (False, 8, BreakKind.TRUNCATED)
    assert report.reason == "the export holds 7 events but the checkpoint covers 10"


def test_an_export_longer_than_the_checkpoint_is_ok_and_counts_the_uncovered_events() -> None:
    events = chain(13)
    report = check(lines(events), signed(events[:10]))
    assert (report.ok, report.checked, report.tree_size, report.uncovered) == (True, 13, 10, 3)


def test_a_longer_export_still_checks_the_chain_after_the_checkpoint() -> None:
    events = chain(13)
    export = lines(events)
    del export[11]
    assert failure(check(export, signed(events[:10]))) == (False, 12, BreakKind.MISSING_SEQ)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"not json\n", "line 4: not JSON"),
        (b"[1,2]\n", "line 4: not a JSON object"),
        (b'{"seq":4}\n', "line 4: not an exported event (missing actor)"),
        (b"{}", "line 4: not an exported event (missing actor)"),
    ],
)
def test_a_malformed_line_is_named_by_its_line_number(line: bytes, reason: str) -> None:
    export = lines(chain(10))
    export[3] = line
    report = check(export)
    assert (failure(report), report.reason) == ((False, 4, BreakKind.NON_CANONICAL), reason)


def test_a_line_with_an_uppercase_hash_is_malformed() -> None:
    export = lines(chain(10))
    obj = orjson.loads(export[3])
    export[3] = rewrite(export[3], hash=obj["hash"].upper())
    report = check(export)
    assert (failure(report), report.reason) == (
        (False, 4, BreakKind.NON_CANONICAL),
        "line 4: hash is not 64 lowercase hex digits",
    )


def test_a_non_canonical_line_with_the_same_content_is_refused() -> None:
    export = lines(chain(10))
    obj = orjson.loads(export[3])
    export[3] = orjson.dumps(dict(reversed(obj.items()))) + b"\n"
    report = check(export)
    assert (failure(report), report.reason) == (
        (False, 4, BreakKind.NON_CANONICAL),
        "line 4: not RFC 8785 canonical JSON",
    )


def test_blank_lines_may_end_an_export_but_not_sit_inside_it() -> None:
    export = lines(chain(10))
    assert check([*export, b"\n", b""]).ok
    export.insert(4, b"\n")
    assert (check(export).reason, check(export).first_bad_seq) == (
        "line 5: blank line inside the export",
        5,
    )


def test_a_checkpoint_signed_by_another_key_is_refused() -> None:
    events = chain(10)
    with pytest.raises(CheckpointInvalid, match="no signature by a trusted key"):
        check(lines(events), signed(events, signer=generate_signer(ORIGIN)))


def test_a_checkpoint_for_another_origin_is_refused_when_the_origin_is_given() -> None:
    events = chain(10)
    other = generate_signer("other.example/log")
    note = signed(events, signer=other, origin="other.example/log")
    with pytest.raises(CheckpointInvalid, match=r"expected 'test\.example/log'"):
        verify_export(lines(events), note, other.verifier, origin=ORIGIN)


def test_a_tampered_checkpoint_is_refused() -> None:
    events = chain(10)
    note = signed(events).replace("\n10\n", "\n11\n", 1)
    with pytest.raises(CheckpointInvalid, match="invalid signature"):
        check(lines(events), note)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=st.integers(1, 60), data=st.data())
def test_any_single_byte_change_to_an_export_is_caught(size: int, data: st.DataObject) -> None:
    events = chain(size)
    blob = bytearray(b"".join(lines(events)))
    at = data.draw(st.integers(0, len(blob) - 1), label="offset")
    blob[at] ^= data.draw(st.integers(1, 255), label="xor")
    try:
        report = verify_export(io.BytesIO(bytes(blob)), signed(events), SIGNER.verifier)
    except CheckpointInvalid:
        raise AssertionError("the checkpoint was not changed") from None
    assert not report.ok


# ---- receipts ----------------------------------------------------------------------


def receipt_for(ledger: Ledger, seq: int) -> tuple[str, str]:
    note = ledger.checkpoint()
    proof = ledger.inclusion_proof(seq, ledger.head().seq)
    event = ledger.store.get(seq)
    assert event is not None
    return format_receipt(export_line(event), proof, note), note


def test_a_receipt_round_trips_and_names_the_event_and_checkpoint(
    signing_ledger: Ledger,
) -> None:
    signing_ledger.append([draft(n) for n in range(11)], "pipeline:ci")
    text, note = receipt_for(signing_ledger, 6)

    receipt = verify_receipt(text, SIGNER.verifier, origin=ORIGIN)

    event = signing_ledger.store.get(6)
    assert event is not None
    assert (receipt.seq, receipt.event, receipt.line) == (6, event, export_line(event))
    assert (receipt.checkpoint.size, receipt.checkpoint.root_hash) == (11, signing_ledger.root())
    assert text.startswith(f"{RECEIPT_HEADER}\nextra ")
    assert text.split("\n")[2] == "index 5"
    assert text.endswith("\n\n" + note)


def test_a_receipt_for_a_one_event_ledger_has_an_empty_path(signing_ledger: Ledger) -> None:
    signing_ledger.append([draft(1)], "pipeline:ci")
    text, _ = receipt_for(signing_ledger, 1)
    assert text.split("\n")[2:4] == ["index 0", ""]
    assert verify_receipt(text.encode(), SIGNER.verifier).seq == 1


def _tamper(text: str, line: int, new: str) -> str:
    parts = text.split("\n")
    parts[line] = new
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("how", "error", "message"),
    [
        ("header", ProofInvalid, "receipt line 1: expected 'c2sp.org/tlog-proof@v1'"),
        ("index", ProofInvalid, "receipt index 4 is not leaf seq - 1 of event seq 6"),
        ("event data", ProofInvalid, "event seq 6: its hash does not match its content"),
        ("event rehashed", ProofInvalid, "event seq 6 is not proven in checkpoint size 11"),
        ("path hash", ProofInvalid, "event seq 6 is not proven in checkpoint size 11"),
        ("path base64", ProofInvalid, "receipt line 4: not standard base64"),
        ("checkpoint", CheckpointInvalid, "invalid signature for key test.example/log"),
    ],
)
def test_a_tampered_receipt_fails_with_a_one_line_reason(
    signing_ledger: Ledger, how: str, error: type[Exception], message: str
) -> None:
    signing_ledger.append([draft(n) for n in range(11)], "pipeline:ci")
    text, _ = receipt_for(signing_ledger, 6)
    parts = text.split("\n")
    line = orjson.loads(base64.b64decode(parts[1].removeprefix("extra ")))
    encode = base64.b64encode
    if how == "header":
        text = _tamper(text, 0, "c2sp.org/tlog-proof@v2")
    elif how == "index":
        text = _tamper(text, 2, "index 4")
    elif how == "event data":
        altered = {**line, "data": {**line["data"], "passed": not line["data"]["passed"]}}
        text = _tamper(text, 1, "extra " + encode(canonical_bytes(altered)).decode())
    elif how == "event rehashed":
        new = rewrite(canonical_bytes(line), data={"passed": True}).rstrip(b"\n")
        text = _tamper(text, 1, "extra " + encode(new).decode())
    elif how == "path hash":
        text = _tamper(text, 3, encode(b"\x00" * 32).decode())
    elif how == "path base64":
        text = _tamper(text, 3, parts[3][:-1] + "?")
    else:
        text = text.replace("\n11\n", "\n12\n", 1)
    with pytest.raises(error) as caught:
        verify_receipt(text, SIGNER.verifier)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_a_receipt_is_refused_under_another_key(signing_ledger: Ledger) -> None:
    signing_ledger.append([draft(n) for n in range(3)], "pipeline:ci")
    text, _ = receipt_for(signing_ledger, 2)
    with pytest.raises(CheckpointInvalid, match="no signature by a trusted key"):
        verify_receipt(text, generate_signer(ORIGIN).verifier)


def test_format_receipt_refuses_a_proof_at_another_size_than_the_checkpoint(
    signing_ledger: Ledger,
) -> None:
    signing_ledger.append([draft(n) for n in range(8)], "pipeline:ci")
    note = signing_ledger.checkpoint()
    event = signing_ledger.store.get(3)
    assert event is not None
    with pytest.raises(ProofInvalid, match="the proof is for tree size 5, the checkpoint for 8"):
        format_receipt(export_line(event), signing_ledger.inclusion_proof(3, 5), note)
