"""Property tests on the pure hash chain (ledger.chain): seal, verify_chain, export_line.

The reference for every byte is the ``rfc8785`` package applied to the event as
a plain dict built from the raw inputs, never the product's own fast paths.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import rfc8785
from hypothesis import assume, example, given, settings
from hypothesis import event as event_note
from hypothesis import strategies as st

from ledger.canonical import MAX_SAFE_INTEGER, canonical_bytes, parse_json
from ledger.chain import (
    BODY_FIELDS,
    GENESIS_HASH,
    BreakKind,
    export_line,
    seal,
    verify_chain,
)
from ledger.events import Event, EventDraft, format_time


def jcs(value: Any) -> bytes:
    """The reference RFC 8785 bytes (the rfc8785 package)."""
    return rfc8785.dumps(value)


# ---- strategies ------------------------------------------------------------------

texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=10)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(texts, children, max_size=4),
    max_leaves=10,
)
payloads = st.dictionaries(texts, json_values, max_size=5)
event_types = st.from_regex(r"[a-z][a-z0-9_]{0,8}(\.[a-z][a-z0-9_]{0,8}){1,3}", fullmatch=True)
# A reference name: no whitespace, no control characters, no "@" (that starts the version).
_ref_names = st.text(
    st.characters(exclude_categories=["Cs", "Cc", "Zs", "Zl", "Zp"], exclude_characters="@"),
    min_size=1,
    max_size=12,
)
subjects = st.builds(
    lambda kind, name, version: f"{kind}:{name}" + ("" if version is None else f"@{version}"),
    st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True),
    _ref_names,
    st.none() | _ref_names,
)
times = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(format_time)
ids = st.uuids().map(str)
seqs = st.integers(1, MAX_SAFE_INTEGER)
hashes = st.binary(min_size=32, max_size=32).map(bytes.hex)
actors = texts


@dataclass(frozen=True)
class Fields:
    """Everything that goes into one sealed event, as raw inputs."""

    type: str
    subject: str
    data: dict[str, object]
    occurred_at: str | None
    actor: str
    recorded_at: str
    id: str
    seq: int
    prev_hash: str

    def draft(self) -> EventDraft:
        return EventDraft.create(
            self.type, self.subject, self.data, id=self.id, occurred_at=self.occurred_at
        )

    def seal(self) -> Event:
        return seal(
            self.draft(),
            seq=self.seq,
            prev_hash=self.prev_hash,
            actor=self.actor,
            recorded_at=self.recorded_at,
            id=self.id,
        )

    def as_json(self) -> dict[str, Any]:
        """The event without ``hash`` as DESIGN.md defines it, built by hand."""
        return {
            "actor": self.actor,
            "data": self.data,
            "id": self.id,
            "occurred_at": self.occurred_at or self.recorded_at,
            "prev_hash": self.prev_hash,
            "recorded_at": self.recorded_at,
            "seq": self.seq,
            "subject": self.subject,
            "type": self.type,
        }


FIELD_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "type": event_types,
    "subject": subjects,
    "data": payloads,
    "occurred_at": st.none() | times,
    "actor": actors,
    "recorded_at": times,
    "id": ids,
    "seq": seqs,
    "prev_hash": hashes,
}
fields = st.builds(Fields, **FIELD_STRATEGIES)
# Chains need varied bytes more than varied envelopes (the single-event properties
# cover those), so their events draw type and subject from a fixed menu: cheaper.
_chain_event = st.builds(
    Fields,
    **{
        **FIELD_STRATEGIES,
        "type": st.sampled_from(["model.version.registered", "test.result.recorded"]),
        "subject": st.sampled_from(["model:fraud-detector@1.4.0", "dataset:tx@2026-11-01"]),
        "seq": st.just(0),
        "prev_hash": st.just(GENESIS_HASH),
    },
)
# A chain is drawn as its events' fields; seq and prev_hash are then set by position.
chain_fields = st.lists(_chain_event, min_size=1, max_size=5)
longer_chain_fields = st.lists(_chain_event, min_size=2, max_size=5)


def build_chain(items: list[Fields]) -> tuple[list[Fields], list[Event]]:
    """Seal ``items`` as events 1..n, each linked to the previous one."""
    linked: list[Fields] = []
    events: list[Event] = []
    prev = GENESIS_HASH
    for seq, item in enumerate(items, start=1):
        item = dataclasses.replace(item, seq=seq, prev_hash=prev)
        event = item.seal()
        linked.append(item)
        events.append(event)
        prev = event.hash
    return linked, events


def flip(data: bytes, position: int, mask: int) -> bytes:
    """``data`` with the byte at ``position`` XORed with ``mask`` (non-zero)."""
    out = bytearray(data)
    out[position] ^= mask
    return bytes(out)


def effective(item: Fields, name: str) -> object:
    """The value a field contributes to the event (data by its canonical bytes)."""
    if name == "data":
        return jcs(item.data)
    if name == "occurred_at":
        return item.occurred_at or item.recorded_at
    return getattr(item, name)


# ---- sealing -----------------------------------------------------------------------


@given(fields)
@settings(max_examples=200, deadline=None)
def test_a_sealed_body_is_the_rfc8785_encoding_of_the_event_without_hash(item: Fields) -> None:
    event = item.seal()
    assert event.body == jcs(item.as_json())
    assert event.body == canonical_bytes(parse_json(event.body, numbers_as_doubles=True))
    assert event.hash == hashlib.sha256(event.body).hexdigest()
    assert (event.seq, event.id, event.prev_hash, event.actor) == (
        item.seq,
        item.id,
        item.prev_hash,
        item.actor,
    )
    assert event.occurred_at == (item.occurred_at or item.recorded_at)


@given(fields, st.sampled_from(sorted(FIELD_STRATEGIES)), st.data())
@settings(max_examples=200, deadline=None)
def test_changing_any_field_changes_the_hash(item: Fields, name: str, data: st.DataObject) -> None:
    value: Any = data.draw(FIELD_STRATEGIES[name], label=name)
    changed = dataclasses.replace(item, **{name: value})
    assume(effective(changed, name) != effective(item, name))
    assert changed.seal().hash != item.seal().hash


@given(fields, st.sampled_from(["seq", "prev_hash", "recorded_at", "id"]))
def test_the_smallest_change_to_a_chain_field_changes_the_hash(item: Fields, name: str) -> None:
    nudged: dict[str, Any] = {
        "seq": item.seq + 1 if item.seq < MAX_SAFE_INTEGER else item.seq - 1,
        "prev_hash": item.prev_hash[:-1] + ("1" if item.prev_hash[-1] == "0" else "0"),
        "recorded_at": format_time(
            datetime.fromisoformat(item.recorded_at) + timedelta(microseconds=1)
        ),
        "id": item.id[:-1] + ("1" if item.id[-1] == "0" else "0"),
    }
    changed = dataclasses.replace(item, **{name: nudged[name]})
    assume(effective(changed, name) != effective(item, name))
    assert changed.seal().hash != item.seal().hash


# ---- verifying ---------------------------------------------------------------------


@given(chain_fields)
@settings(deadline=None)
def test_a_chain_of_random_events_always_verifies(items: list[Fields]) -> None:
    _, events = build_chain(items)
    report = verify_chain(events)
    assert report.ok, report
    assert report.checked == len(events)
    assert report.head_hash == events[-1].hash
    assert report.first_bad_seq is None
    assert report.kind is None


# What a single flipped byte in a stored column looks like when the stored hash is
# left alone: the body no longer hashes to the stored hash, at that very seq.
KIND_WHEN_A_STORED_COLUMN_FLIPS = {
    "body": BreakKind.ALTERED_CONTENT,
    "hash": BreakKind.ALTERED_CONTENT,
}


@given(chain_fields, st.sampled_from(sorted(KIND_WHEN_A_STORED_COLUMN_FLIPS)), st.data())
@settings(max_examples=200, deadline=None)
def test_a_flipped_byte_in_a_stored_body_or_hash_is_found_at_its_seq(
    items: list[Fields], column: str, data: st.DataObject
) -> None:
    _, events = build_chain(items)
    index = data.draw(st.integers(0, len(events) - 1), label="index")
    event = events[index]
    if column == "body":
        position = data.draw(st.integers(0, len(event.body) - 1), label="position")
        mask = data.draw(st.integers(1, 255), label="mask")
        events[index] = dataclasses.replace(event, body=flip(event.body, position, mask))
    else:
        position = data.draw(st.integers(0, 63), label="position")
        mask = data.draw(st.integers(1, 127), label="mask")  # keeps the column ASCII text
        stored = flip(event.hash.encode(), position, mask).decode("ascii")
        events[index] = dataclasses.replace(event, hash=stored)
    report = verify_chain(events)
    assert not report.ok
    assert report.first_bad_seq == event.seq
    assert report.kind == KIND_WHEN_A_STORED_COLUMN_FLIPS[column]
    assert report.checked == index


def _jcs_number(text: str) -> int | float:
    """Read an integer literal as JCS does: beyond 2**53 it is a double."""
    value = int(text)
    return value if abs(value) <= MAX_SAFE_INTEGER else float(text)


def _refuse(name: str) -> object:
    raise ValueError(name)


def what_a_flip_changed(original: dict[str, Any], body: bytes) -> str:
    """Name what a rewritten body differs in, judged by the rfc8785 reference alone.

    ``"not canonical"`` when the bytes are not the JCS form of an event object;
    otherwise the one body field whose value changed.
    """
    try:
        parsed = json.loads(body.decode("utf-8"), parse_int=_jcs_number, parse_constant=_refuse)
        if type(parsed) is not dict or set(parsed) != set(BODY_FIELDS):
            return "not canonical"
        if jcs(parsed) != body:
            return "not canonical"
    except (ValueError, UnicodeError):  # rfc8785.CanonicalizationError is a ValueError
        return "not canonical"
    changed = [k for k in BODY_FIELDS if jcs(parsed[k]) != jcs(original[k])]
    assert len(changed) == 1, changed
    return changed[0]


# When the stored hash is recomputed over the flipped body (a consistent rewrite of
# one row), the first honest symptom depends on what the byte belonged to:
# (offset from the rewritten seq, kind). None: the chain alone cannot see it.
SYMPTOM_OF_A_REHASHED_FLIP: dict[str, tuple[int, str]] = {
    "not canonical": (0, BreakKind.NON_CANONICAL),
    "seq": (0, BreakKind.REORDERED),
    "prev_hash": (0, BreakKind.BROKEN_LINK),
    "id": (0, BreakKind.ALTERED_CONTENT),
    "type": (0, BreakKind.ALTERED_CONTENT),
    "subject": (0, BreakKind.ALTERED_CONTENT),
    "actor": (0, BreakKind.ALTERED_CONTENT),
    "occurred_at": (0, BreakKind.ALTERED_CONTENT),
    "recorded_at": (0, BreakKind.ALTERED_CONTENT),
    # data has no column to disagree with: the next event's prev_hash no longer links.
    "data": (1, BreakKind.BROKEN_LINK),
}


@given(chain_fields, st.data())
@settings(max_examples=200, deadline=None)
def test_a_flipped_byte_in_a_rehashed_body_is_found_where_it_first_shows(
    items: list[Fields], data: st.DataObject
) -> None:
    linked, events = build_chain(items)
    index = data.draw(st.integers(0, len(events) - 1), label="index")
    event = events[index]
    position = data.draw(st.integers(0, len(event.body) - 1), label="position")
    # Low-bit flips mostly keep a digit a digit and a letter a letter, so they reach
    # every field's own check rather than stopping at "not JSON".
    mask = data.draw(st.sampled_from([1, 2, 4]) | st.integers(1, 255), label="mask")
    body = flip(event.body, position, mask)
    events[index] = dataclasses.replace(event, body=body, hash=hashlib.sha256(body).hexdigest())

    changed = what_a_flip_changed(linked[index].as_json(), body)
    event_note(f"the flip changed: {changed}")
    offset, kind = SYMPTOM_OF_A_REHASHED_FLIP[changed]
    report = verify_chain(events)
    if changed == "data" and index == len(events) - 1:
        # The head's payload rewritten and re-hashed: only the Merkle tree and
        # checkpoints can tell (tests/store/test_tamper.py), not the chain.
        assert report.ok
        return
    assert not report.ok, f"{changed} changed but the chain verified"
    assert (report.first_bad_seq, report.kind) == (event.seq + offset, kind), (
        changed,
        report,
    )


REWRITES: dict[str, Any] = {
    "seq": 7,
    "prev_hash": "ab" * 32,
    "id": "00000000-0000-4000-8000-0000000000ff",
    "type": "model.version.retired",
    "subject": "model:someone-else",
    "actor": "mallory",
    "occurred_at": "1999-12-31T23:59:59.000000Z",
    "recorded_at": "1999-12-31T23:59:59.000000Z",
    "data": {"passed": True},
}


@pytest.mark.parametrize("name", sorted(REWRITES))
def test_each_rewritten_and_rehashed_field_shows_its_own_symptom(name: str) -> None:
    items = [
        Fields(
            type="test.result.recorded",
            subject="model:fraud-detector@1.4.0",
            data={"passed": False, "n": n},
            occurred_at="2026-11-01T11:00:00.000000Z",
            actor="ci",
            recorded_at="2026-11-01T12:00:00.000000Z",
            id=f"00000000-0000-4000-8000-00000000000{n}",
            seq=0,
            prev_hash=GENESIS_HASH,
        )
        for n in (1, 2, 3)
    ]
    linked, events = build_chain(items)
    body = jcs({**linked[1].as_json(), name: REWRITES[name]})
    events[1] = dataclasses.replace(events[1], body=body, hash=hashlib.sha256(body).hexdigest())
    offset, kind = SYMPTOM_OF_A_REHASHED_FLIP[what_a_flip_changed(linked[1].as_json(), body)]
    report = verify_chain(events)
    assert (report.first_bad_seq, report.kind) == (2 + offset, kind), report


@given(longer_chain_fields, st.data())
@settings(max_examples=50, deadline=None)
def test_a_dropped_event_is_reported_as_the_missing_seq(
    items: list[Fields], data: st.DataObject
) -> None:
    _, events = build_chain(items)
    missing = data.draw(st.integers(0, len(events) - 2), label="dropped index")
    report = verify_chain(events[:missing] + events[missing + 1 :])
    assert (report.ok, report.first_bad_seq, report.kind) == (
        False,
        missing + 1,
        BreakKind.MISSING_SEQ,
    )


@given(longer_chain_fields)
@settings(max_examples=50, deadline=None)
def test_events_fed_out_of_order_are_reported_at_the_first_seq_out_of_place(
    items: list[Fields],
) -> None:
    _, events = build_chain(items)
    events[0], events[1] = events[1], events[0]
    report = verify_chain(events)
    # Seq 2 arrives where seq 1 was expected: the gap is the first symptom.
    assert (report.ok, report.first_bad_seq, report.kind) == (False, 1, BreakKind.MISSING_SEQ)


# ---- exporting ---------------------------------------------------------------------


@given(fields)
@settings(max_examples=150, deadline=None)
def test_an_export_line_is_the_canonical_event_json_with_its_hash(item: Fields) -> None:
    event = item.seal()
    line = export_line(event)
    assert line == jcs({**item.as_json(), "hash": event.hash})
    assert canonical_bytes(parse_json(line, numbers_as_doubles=True)) == line
    assert b"\n" not in line


@given(fields, subjects)
@example(
    Fields(
        type="metric.recorded",
        subject="model:m",
        data={"count": float(2**53)},  # canonical as 9007199254740992, a double
        occurred_at=None,
        actor="ci",
        recorded_at="2026-11-01T12:00:00.000000Z",
        id="00000000-0000-0000-0000-000000000001",
        seq=1,
        prev_hash=GENESIS_HASH,
    ),
    "model:other",
)
@settings(max_examples=100, deadline=None)
def test_an_export_line_of_an_inconsistent_row_is_still_canonical_json_of_its_body(
    item: Fields, other_subject: str
) -> None:
    # The subject column disagrees with the hashed body: export_line's re-encoding
    # fallback, which must read numbers as JCS does (2**53 and up are doubles).
    event = item.seal()
    assume(other_subject != event.subject)
    tampered = dataclasses.replace(event, subject=other_subject)
    assert export_line(tampered) == jcs({**item.as_json(), "hash": event.hash})
