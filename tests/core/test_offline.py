"""Offline verification of exports (ledger.offline) and receipts (ledger.receipt)."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
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

ALTERED, LINK, MERKLE = BreakKind.ALTERED_CONTENT, BreakKind.BROKEN_LINK, BreakKind.MERKLE_MISMATCH
MALFORMED, REORDERED = BreakKind.NON_CANONICAL, BreakKind.REORDERED
ORIGIN = "test.example/log"
SIGNER = generate_signer(ORIGIN)


def chain(n: int, payloads: Sequence[dict[str, object]] = ()) -> list[Event]:
    """A chain sealed by the core alone; event ``seq`` carries ``payloads[seq - 1]`` if given."""
    events: list[Event] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        given = payloads[seq - 1] if seq <= len(payloads) else None
        event = seal(
            draft(seq) if given is None else draft(seq, data=given),
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
    root = root_from_frontier(append_leaves([], 0, [leaf_hash(e.body) for e in events]).frontier)
    return sign_checkpoint(Checkpoint(origin, len(events), root), signer)


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


@pytest.mark.parametrize(
    ("size", "signed_size", "tail", "uncovered"),
    [(0, 0, [], 0), (10, 10, [b"\n", b""], 0), (13, 10, [], 3)],
    ids=["empty", "blank lines at the end", "longer than the checkpoint"],
)
def test_an_intact_export_verifies_and_counts_events_after_the_checkpoint(
    size: int, signed_size: int, tail: list[bytes], uncovered: int
) -> None:
    events = chain(size)
    r = check([*lines(events), *tail], signed(events[:signed_size]))
    assert (r.ok, r.checked, r.tree_size, r.uncovered) == (True, size, signed_size, uncovered)


def _at(export: list[bytes], index: int, line: bytes) -> list[bytes]:
    return [*export[:index], line, *export[index + 1 :]]


def _flipped(line: bytes, *, rehash: bool) -> bytes:
    obj = orjson.loads(line)
    data = {**obj["data"], "passed": not obj["data"]["passed"]}
    return rewrite(line, data=data) if rehash else rewrite(line, data=data, hash=obj["hash"])


TAMPERS: dict[str, Callable[[list[bytes]], list[bytes]]] = {
    "altered, old hash": lambda x: _at(x, 3, _flipped(x[3], rehash=False)),
    "altered, rehashed": lambda x: _at(x, 3, _flipped(x[3], rehash=True)),
    "last altered, rehashed": lambda x: _at(x, 9, _flipped(x[9], rehash=True)),
    "dropped": lambda x: x[:6] + x[7:],
    "swapped": lambda x: [*x[:2], x[3], x[2], *x[4:]],
    "duplicated": lambda x: [*x[:5], x[4], *x[5:]],
    "truncated": lambda x: x[:7],
    "blank inside": lambda x: [*x[:3], b"\n", *x[3:]],
    "uppercase hash": lambda x: _at(x, 3, rewrite(x[3], hash=orjson.loads(x[3])["hash"].upper())),
    "keys unsorted": lambda x: _at(x, 3, orjson.dumps(dict(reversed(orjson.loads(x[3]).items())))),
    "not json": lambda x: _at(x, 3, b"not json\n"),
    "an array": lambda x: _at(x, 3, b"[1,2]\n"),
    "one field": lambda x: _at(x, 3, b'{"seq":4}\n'),
}


@pytest.mark.parametrize(
    ("how", "seq", "kind", "reason"),
    [
        ("altered, old hash", 4, ALTERED, "line 4: stored bytes do not match the stored hash"),
        ("altered, rehashed", 5, LINK, "line 5: prev_hash does not match the hash of seq 4"),
        ("last altered, rehashed", None, MERKLE, "the root of the first 10 events is "),
        ("dropped", 7, BreakKind.MISSING_SEQ, "line 7: seq 7 is missing (next is 8)"),
        ("swapped", 3, REORDERED, "line 3: seq 3 is at line 4, after seq 4"),
        ("duplicated", 5, REORDERED, "line 6: seq 5 appears twice"),
        ("truncated", 8, BreakKind.TRUNCATED, "the export holds 7 events but the checkpoint "),
        ("blank inside", 4, MALFORMED, "line 4: blank line inside the export"),
        ("uppercase hash", 4, MALFORMED, "line 4: hash is not 64 lowercase hex digits"),
        ("keys unsorted", 4, MALFORMED, "line 4: not RFC 8785 canonical JSON"),
        ("not json", 4, MALFORMED, "line 4: not JSON"),
        ("an array", 4, MALFORMED, "line 4: not a JSON object"),
        ("one field", 4, MALFORMED, "line 4: not an exported event (missing actor)"),
    ],
)
def test_a_tampered_export_fails_at_the_first_bad_seq_with_its_kind(
    how: str, seq: int | None, kind: str, reason: str
) -> None:
    report = check(TAMPERS[how](lines(chain(10))))
    assert (report.ok, report.first_bad_seq, report.kind) == (False, seq, kind)
    assert (report.reason or "")[: len(reason)] == reason


def test_a_longer_export_still_checks_the_chain_after_the_checkpoint() -> None:
    events = chain(13)
    export = lines(events)
    del export[11]
    report = check(export, signed(events[:10]))
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 12, BreakKind.MISSING_SEQ)


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("another key", "note has no signature by a trusted key"),
        ("another origin", "checkpoint is for origin 'other.example/log', expected 'test."),
        ("tampered", "invalid signature for key test.example/log+"),
    ],
)
def test_a_checkpoint_not_signed_for_this_log_is_refused(how: str, message: str) -> None:
    events = chain(10)
    other = generate_signer("other.example/log")
    note = {
        "another key": signed(events, signer=generate_signer(ORIGIN)),
        "another origin": signed(events, signer=other, origin="other.example/log"),
        "tampered": signed(events).replace("\n10\n", "\n11\n", 1),
    }[how]
    verifier = other.verifier if how == "another origin" else SIGNER.verifier
    with pytest.raises(CheckpointInvalid) as caught:
        verify_export(lines(events), note, verifier, origin=ORIGIN)
    assert str(caught.value)[: len(message)] == message


SCALARS = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=12)
JSON_VALUES = st.recursive(
    SCALARS | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
PAYLOADS = st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads=st.lists(PAYLOADS, min_size=1, max_size=60), data=st.data())
def test_any_single_byte_change_to_an_export_is_caught(
    payloads: list[dict[str, object]], data: st.DataObject
) -> None:
    events = chain(len(payloads), payloads)
    note = signed(events)
    blob = bytearray(b"".join(lines(events)))
    assert verify_export(io.BytesIO(bytes(blob)), note, SIGNER.verifier).ok
    at = data.draw(st.integers(0, len(blob) - 1), label="offset")
    blob[at] ^= data.draw(st.integers(1, 255), label="xor")
    assert not verify_export(io.BytesIO(bytes(blob)), note, SIGNER.verifier).ok


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

    assert (receipt.seq, receipt.event) == (6, signing_ledger.store.get(6))
    assert receipt.line == export_line(receipt.event)
    assert (receipt.checkpoint.size, receipt.checkpoint.root_hash) == (11, signing_ledger.root())
    assert text.startswith(f"{RECEIPT_HEADER}\nextra ")
    assert text.split("\n")[2] == "index 5"
    assert text.endswith("\n\n" + note)


def test_a_receipt_for_a_one_event_ledger_has_an_empty_path(signing_ledger: Ledger) -> None:
    signing_ledger.append([draft(1)], "pipeline:ci")
    text, _ = receipt_for(signing_ledger, 1)
    assert text.split("\n")[2:4] == ["index 0", ""]
    assert verify_receipt(text.encode(), SIGNER.verifier).seq == 1


def tampered_receipt(text: str, how: str) -> str:
    """The receipt with one kind of damage done to it."""
    parts = text.split("\n")
    obj = orjson.loads(base64.b64decode(parts[1].removeprefix("extra ")))
    match how:
        case "header":
            parts[0] = "c2sp.org/tlog-proof@v2"
        case "index":
            parts[2] = "index 4"
        case "event, old hash":
            obj["data"]["passed"] = not obj["data"]["passed"]
            parts[1] = "extra " + base64.b64encode(canonical_bytes(obj)).decode()
        case "event, rehashed":
            line = rewrite(canonical_bytes(obj), data={"passed": True}).rstrip(b"\n")
            parts[1] = "extra " + base64.b64encode(line).decode()
        case "path hash":
            parts[3] = base64.b64encode(bytes(32)).decode()
        case "path base64":
            parts[3] = parts[3][:-1] + "?"
        case "checkpoint":
            parts[parts.index("", 3) + 2] = "12"  # the signed tree size
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("how", "error", "message"),
    [
        ("header", ProofInvalid, "receipt line 1: expected 'c2sp.org/tlog-proof@v1'"),
        ("index", ProofInvalid, "receipt index 4 is not leaf seq - 1 of event seq 6"),
        ("event, old hash", ProofInvalid, "event seq 6: its hash does not match its content"),
        ("event, rehashed", ProofInvalid, "event seq 6 is not proven in checkpoint size 11: "),
        ("path hash", ProofInvalid, "event seq 6 is not proven in checkpoint size 11: "),
        ("path base64", ProofInvalid, "receipt line 4: not standard base64"),
        ("checkpoint", CheckpointInvalid, "invalid signature for key test.example/log+"),
        ("another key", CheckpointInvalid, "note has no signature by a trusted key"),
    ],
)
def test_a_tampered_receipt_fails_with_a_one_line_reason(
    signing_ledger: Ledger, how: str, error: type[Exception], message: str
) -> None:
    signing_ledger.append([draft(n) for n in range(11)], "pipeline:ci")
    text, _ = receipt_for(signing_ledger, 6)
    verifier = generate_signer(ORIGIN).verifier if how == "another key" else SIGNER.verifier
    with pytest.raises(error) as caught:
        verify_receipt(tampered_receipt(text, how), verifier)
    assert str(caught.value)[: len(message)] == message
    assert "\n" not in str(caught.value)


def test_format_receipt_refuses_a_proof_at_another_size_than_the_checkpoint(
    signing_ledger: Ledger,
) -> None:
    signing_ledger.append([draft(n) for n in range(8)], "pipeline:ci")
    note = signing_ledger.checkpoint()
    event = signing_ledger.store.get(3)
    assert event is not None
    with pytest.raises(ProofInvalid, match="the proof is for tree size 5, the checkpoint for 8"):
        format_receipt(export_line(event), signing_ledger.inclusion_proof(3, 5), note)
