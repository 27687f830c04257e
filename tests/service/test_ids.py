"""Ids the ledger generates are RFC 9562 UUIDv7: valid, unique, ordered by time."""

from __future__ import annotations

import time
import uuid

from ledger.service import time_ordered_uuid


def test_generated_ids_are_version_7_with_the_rfc_variant() -> None:
    for _ in range(1000):
        value = uuid.UUID(time_ordered_uuid())
        assert value.version == 7
        assert value.variant == uuid.RFC_4122


def test_generated_ids_carry_the_current_unix_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid.UUID(time_ordered_uuid())
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after


def test_ids_from_later_milliseconds_sort_after_earlier_ones() -> None:
    first = time_ordered_uuid()
    time.sleep(0.002)
    assert time_ordered_uuid() > first
    assert len({time_ordered_uuid() for _ in range(10_000)}) == 10_000
