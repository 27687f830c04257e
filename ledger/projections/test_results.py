"""A version's latest test results, read from its ``test.result.recorded`` events.

The registry keeps the latest result per (kind, environment, suite) of each
version (``tests:<version>``, :data:`ledger.projections.keys.TESTS_PREFIX`).
They are not stored: a version's results are the events whose subject is the
version key (``test.result.recorded`` fits only such subjects, and its
handler's key *is* the subject), so the stores answer ``tests:<version>``
from those events up to the projection position (:func:`latest_tests_doc`).
Upserting a row per result dirtied about one page per result in every
transaction, the largest share of a projecting append's writes (issue 4,
round 5 in docs/benchmarks-projections.md); the reads are few (a gated
draft's policy check, the GraphQL ``tests`` field).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import orjson

from ledger.projections.base import Doc
from ledger.projections.keys import test_slot, tests_doc

__all__ = ["FIELDS", "TEST_RESULT", "latest_tests_doc", "test_entry"]

TEST_RESULT = "test.result.recorded"
"""The event type whose events are a version's test results."""

FIELDS = ("suite", "kind", "passed", "metrics", "environment", "evaluated_on", "run")
"""The payload fields a kept result holds, besides its event's seq, hash and time."""


def test_entry(seq: int, hash: str, time: str, data: Mapping[str, object]) -> Doc:
    """The kept entry of one result (``time`` is the event's ``recorded_at``)."""
    return {"seq": seq, "hash": hash, "time": time, **{name: data.get(name) for name in FIELDS}}


def latest_tests_doc(version: str, events: Iterable[tuple[int, str, str, bytes]]) -> bytes | None:
    """``tests:<version>`` as JSON from the version's results (seq, hash, recorded_at, body).

    ``events`` come in seq order, projected ones only; the latest per slot
    wins, and the document lists them by seq (None when there are none).
    """
    # Entries are built for the winners only: a long-lived version has
    # hundreds of results (monitoring) and about ten slots.
    latest: dict[tuple[str, str, str], tuple[int, str, str, Mapping[str, object]]] = {}
    for seq, hash, time, body in events:
        data = orjson.loads(body).get("data")
        if not isinstance(data, dict):
            data = {}
        slot = test_slot(data)  # the entry's kind, environment and suite are the payload's
        latest.pop(slot, None)  # re-inserted last: dict order is then seq order
        latest[slot] = (seq, hash, time, data)
    if not latest:
        return None
    entries = [orjson.dumps(test_entry(*result)) for result in latest.values()]
    return tests_doc(version, entries)
