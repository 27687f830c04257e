"""The shared read helpers: cursors, filters and bounded pages."""

from __future__ import annotations

import pytest

from ledger.api.reads import EventFilter, decode_cursor, encode_cursor, page_events
from ledger.errors import BadRequest
from ledger.events import draft_from_json
from ledger.service import Ledger
from tests.api.conftest import make_event


@pytest.mark.parametrize("seq", [0, 1, 99, 2**53])
def test_cursors_round_trip(seq: int) -> None:
    assert decode_cursor(encode_cursor(seq)) == seq


@pytest.mark.parametrize("cursor", ["", "c2VxOi0x", "c2VxOg==", "bm9wZQ==", "%%%", "c2VxOjEK"])
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(BadRequest) as refused:
        decode_cursor(cursor)
    assert refused.value.field == "after"


@pytest.mark.parametrize(
    ("types", "subjects", "accepted"),
    [
        ((), (), True),
        (("test.result.recorded",), (), True),
        (("test.*",), (), True),
        (("test",), (), False),
        (("model.*",), (), False),
        ((), ("model:fraud-detector",), True),
        ((), ("model:fraud-detector@1.2.0",), True),
        ((), ("model:fraud-detector@1.2",), False),
        ((), ("model:fraud",), False),
        (("model.*", "test.*"), ("dataset:x", "model:fraud-detector"), True),
    ],
)
def test_filters_match_types_by_name_or_prefix_and_subjects_by_entity(
    ledger: Ledger, types: tuple[str, ...], subjects: tuple[str, ...], accepted: bool
) -> None:
    ledger.append([draft_from_json(make_event(2))], "ci")
    (event,) = ledger.events()
    assert event.subject == "model:fraud-detector@1.2.0"
    assert EventFilter(types, subjects).accept(event) is accepted


def test_a_sparse_filter_reads_a_bounded_window_per_page(ledger: Ledger) -> None:
    ledger.append([draft_from_json(make_event(n)) for n in range(25)], "ci")
    where = EventFilter(subjects=("model:fraud-detector@1.4.0",))
    pages = []
    after = 0
    while True:
        page = page_events(ledger.store, after, 2, where, scan_limit=4)
        pages.append([row[0] for row in page.rows])
        if not page.has_next:
            break
        assert page.end_seq > after
        after = page.end_seq
    assert [seq for page in pages for seq in page] == [5, 10, 15, 20, 25]
    assert all(len(page) <= 2 for page in pages)
    assert [] in pages
