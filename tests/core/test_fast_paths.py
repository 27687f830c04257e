"""The append path's shortcuts give exactly what the plain code gives.

- ``normalize_time``'s UTC fast path (slices instead of regex groups, the
  ledger's own form returned as is) against the previous implementation,
  kept here as the reference;
- ``make_event`` and the other slot-setter constructors against the
  dataclass constructors.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.appending import Appended, _make_appended
from ledger.errors import InvalidEvent
from ledger.events import (
    Event,
    EventDraft,
    format_time,
    make_event,
    normalize_time,
    slot_setters,
)

_ZULU = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d+))?[Zz]", re.ASCII)
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _reference(text: object) -> str:
    """normalize_time as it was before the fast path (commit 84c98de), digits ASCII only."""
    if isinstance(text, str) and (z := _ZULU.fullmatch(text)):
        try:
            datetime.fromisoformat(f"{z.group(1)}T{z.group(2)}")
        except ValueError as exc:
            raise InvalidEvent(f"occurred_at: bad ({exc})", field="occurred_at") from None
        return f"{z.group(1)}T{z.group(2)}.{(z.group(3) or '')[:6].ljust(6, '0')}Z"
    if not isinstance(text, str) or not (m := _RFC3339.fullmatch(text)):
        raise InvalidEvent("occurred_at: not RFC 3339", field="occurred_at")
    fraction = (m.group(7) or ".0")[1:7].ljust(6, "0")
    offset = m.group(8).upper()
    try:
        moment = datetime.fromisoformat(
            f"{m.group(1)}-{m.group(2)}-{m.group(3)}T{m.group(4)}:{m.group(5)}:{m.group(6)}"
            f".{fraction}{'+00:00' if offset == 'Z' else offset}"
        )
        return format_time(moment)
    except (ValueError, OverflowError) as exc:  # out of range once in UTC: still invalid
        raise InvalidEvent(f"occurred_at: bad ({exc})", field="occurred_at") from None


def _outcome(fn: object, text: object) -> str:
    try:
        return fn(text)  # type: ignore[operator,no-any-return]
    except InvalidEvent:
        return "<invalid>"


_digits = st.text(alphabet="0123456789", min_size=1, max_size=3)


@st.composite
def _timestamps(draw: st.DrawFn) -> str:
    """Mostly well-formed UTC times, with invalid dates, odd separators and fractions."""
    year = draw(st.integers(0, 9999))
    month = draw(st.integers(0, 13))
    day = draw(st.integers(0, 32))
    hour = draw(st.integers(0, 25))
    minute = draw(st.integers(0, 61))
    second = draw(st.integers(0, 61))
    sep = draw(st.sampled_from("Tt Tx"))
    fraction = draw(st.one_of(st.just(""), st.text("0123456789", min_size=0, max_size=9)))
    zone = draw(st.sampled_from(["Z", "z", "+00:00", "-05:30", "+14:00", ""]))
    dot = "." if fraction or draw(st.booleans()) else ""
    date = f"{year:04d}-{month:02d}-{day:02d}"
    return f"{date}{sep}{hour:02d}:{minute:02d}:{second:02d}{dot}{fraction}{zone}"


@given(
    st.one_of(
        _timestamps(), st.text(max_size=30), st.datetimes(timezones=st.just(UTC)).map(format_time)
    )
)
@settings(max_examples=1500, deadline=None)
def test_normalize_time_equals_the_reference(text: str) -> None:
    assert _outcome(normalize_time, text) == _outcome(_reference, text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-05T13:45:00.123456Z",  # the ledger's form: returned as is
        "2026-11-05T13:45:00.123Z",
        "2026-11-05t13:45:00z",
        "2026-11-05T13:45:00Z",
        "2026-11-05T13:45:00.1234567890Z",
        "2026-02-30T13:45:00.000000Z",
        "2026-11-05T24:00:00.000000Z",
        "2026-11-05T13:45:00.123456z",
    ],
)
def test_normalize_time_examples(text: str) -> None:
    assert _outcome(normalize_time, text) == _outcome(_reference, text)


@pytest.mark.parametrize(
    "text",
    ["0001-01-01T00:00:00.0+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+00:01"],
)
def test_an_offset_that_carries_the_instant_out_of_range_is_refused_not_a_crash(
    text: str,
) -> None:
    assert _outcome(normalize_time, text) == "<invalid>"


def test_non_strings_are_refused_as_before() -> None:
    for value in (None, 5, b"2026-11-05T13:45:00Z"):
        assert _outcome(normalize_time, value) == "<invalid>"


_text = st.text(max_size=12)


@given(
    st.integers(), _text, _text, _text, _text, _text, _text, _text, _text, st.binary(max_size=20)
)
@settings(max_examples=200, deadline=None)
def test_make_event_builds_the_same_event(
    seq: int, a: str, b: str, c: str, d: str, e: str, f: str, g: str, h: str, body: bytes
) -> None:
    args = (seq, a, b, c, d, e, f, g, h, body)
    fast, plain = make_event(*args), Event(*args)
    assert type(fast) is Event
    assert fast == plain
    assert hash(fast) == hash(plain)
    assert repr(fast) == repr(plain)


@given(st.integers(), _text, _text, st.booleans())
@settings(max_examples=100, deadline=None)
def test_make_appended_builds_the_same_ack(seq: int, h: str, i: str, created: bool) -> None:
    fast, plain = _make_appended(seq, h, i, created), Appended(seq, h, i, created)
    assert type(fast) is Appended
    assert fast == plain
    assert hash(fast) == hash(plain)


def test_fast_objects_stay_frozen() -> None:
    draft = EventDraft.create("a.b", "model:x", {"k": 1}, occurred_at="2026-11-05T13:45:00Z")
    assert type(draft) is EventDraft
    assert draft == EventDraft("a.b", "model:x", b'{"k":1}', None, "2026-11-05T13:45:00.000000Z")
    with pytest.raises(AttributeError):
        draft.type = "c.d"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        make_event(1, "", "", "", "", "", "", "", "", b"").seq = 2  # type: ignore[misc]


def test_slot_setters_refuse_post_init() -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True, slots=True)
    class WithPostInit:
        x: int

        def __post_init__(self) -> None:
            pass

    with pytest.raises(AssertionError):
        slot_setters(WithPostInit)


@pytest.mark.parametrize(
    "text",
    [
        # Arabic-Indic digits, six of them: the length of the ledger's own form
        "2026-11-25T14:02:00.\u0661\u0662\u0663\u0664\u0665\u0666Z",
        "2026-11-25T14:02:00.\u0661\u0662Z",
        "2026-11-25T14:02:00.\uff11Z",  # fullwidth
        "2026-11-25T14:02:00.\u0661+00:00",
    ],
)
def test_a_fraction_in_non_ascii_digits_is_refused_not_stored(text: str) -> None:
    """RFC 3339 digits are ASCII; ``\\d`` in a str pattern is not."""
    assert _outcome(normalize_time, text) == "<invalid>"
