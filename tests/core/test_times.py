"""Timestamps: the UTC fast path gives exactly what the general RFC 3339 path gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidEvent
from ledger.events import format_time, normalize_time

moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)


@given(moments, st.integers(0, 9), st.booleans())
def test_the_zulu_fast_path_equals_the_offset_path(
    moment: datetime, digits: int, lower: bool
) -> None:
    base = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment:%H:%M:%S}"
    fraction = (
        f".{moment.microsecond:06d}{'7' * max(0, digits - 6)}"[: digits + 1] if digits else ""
    )
    zulu = f"{base}{fraction}{'z' if lower else 'Z'}"
    offset = f"{base}{fraction}+00:00"
    assert normalize_time(zulu) == normalize_time(offset)
    assert normalize_time(zulu) == format_time(
        moment.replace(microsecond=int((fraction[1:7] or "0").ljust(6, "0")))
    )


@given(moments, st.integers(-14 * 60, 14 * 60))
def test_an_offset_is_converted_to_utc(moment: datetime, minutes: int) -> None:
    local = moment.astimezone(timezone(timedelta(minutes=minutes)))
    if not 1 <= local.year <= 9999:
        return
    assert normalize_time(local.isoformat()) == format_time(moment)


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-30T00:00:00Z",
        "2026-11-25T25:00:00Z",
        "2026-11-25 14:02:00Z",
        "2026-11-25T14:02Z",
        "2026-11-25T14:02:00",
        "2026-11-25T14:02:00+0100",
        "20261125T140200Z",
    ],
)
def test_malformed_or_impossible_times_are_refused(text: str) -> None:
    with pytest.raises(InvalidEvent, match="occurred_at"):
        normalize_time(text)


def test_years_before_1000_keep_four_digits() -> None:
    assert normalize_time("0999-01-02T03:04:05+01:00") == "0999-01-02T02:04:05.000000Z"


@given(st.uuids(), st.sampled_from(["lower", "upper", "braces", "urn"]))
def test_draft_ids_are_normalized_to_the_canonical_uuid_form(value: object, style: str) -> None:
    from ledger.events import EventDraft

    text = str(value)
    spelled = {"lower": text, "upper": text.upper(), "braces": "{" + text + "}",
               "urn": "urn:uuid:" + text}[style]  # fmt: skip
    draft = EventDraft.create("a.b", "model:x", {}, id=spelled)
    assert draft.id == text
