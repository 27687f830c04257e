"""verify's hot loop (ledger.verification._verify_chunk) never accepts a row that
ChainVerifier rejects, and words every break as ChainVerifier does.

The loop accepts a row by a cheap sufficient test and hands every other row to
ChainVerifier; a false accept would be a hole in tamper detection. Rows here
are tampered the way someone with the database could: the payload re-encoded
(orjson, json with and without ASCII escapes, spacing, the reference JCS) with
edge numbers and keys, the hash recomputed so that only canonicality and the
envelope can give it away, and a column rewritten.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import orjson
import rfc8785
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.chain import GENESIS_HASH, verify_chain
from ledger.events import Event
from ledger.verification import _verify_chunk

_Row = tuple[Any, ...]

_EDGE_FLOATS = [
    -0.0,
    0.0,
    5e-324,
    1e21,
    1e-7,
    1e-4,
    1e16,
    float(2**53),
    float(2**53 - 1),
    float(2**53 + 2),
    0.1,
    1e15 + 0.5,
    120.0,
]
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**54), 2**54),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(_EDGE_FLOATS),
    st.text(max_size=4),
)
_keys = st.text(max_size=3) | st.sampled_from(["\ue000", "\U0001f600", "a", "\x7f", "é"])
_json = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=8,
)


def _encode(value: object, how: int) -> bytes | None:
    encoders = (
        lambda v: orjson.dumps(v, option=orjson.OPT_SORT_KEYS),
        lambda v: json.dumps(v, sort_keys=True, separators=(",", ":")).encode(),
        lambda v: json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(),
        lambda v: json.dumps(v, sort_keys=True).encode(),
        rfc8785.dumps,
    )
    try:
        return encoders[how](value)  # type: ignore[no-any-return,operator]
    except (TypeError, ValueError, OverflowError, rfc8785.CanonicalizationError):
        return None


class _Rows:
    """A store reduced to what ``_verify_chunk`` reads without node checks."""

    def __init__(self, rows: list[_Row]) -> None:
        self.rows = rows

    def read_rows(self, start: int, end: int) -> Iterator[_Row]:
        return iter([r for r in self.rows if start <= r[0] <= end])


def _envelope(seq: int, prev: str, data: object) -> dict[str, object]:
    return {
        "actor": "ci",
        "data": data,
        "id": f"00000000-0000-4000-8000-{seq:012d}",
        "occurred_at": "2026-01-01T00:00:00.000000Z",
        "prev_hash": prev,
        "recorded_at": "2026-01-01T00:00:01.000000Z",
        "seq": seq,
        "subject": "model:m",
        "type": "t.x",
    }


def _row(body: bytes, envelope: dict[str, Any]) -> _Row:
    return (
        envelope["seq"],
        envelope["id"],
        envelope["type"],
        envelope["subject"],
        envelope["actor"],
        envelope["occurred_at"],
        envelope["recorded_at"],
        envelope["prev_hash"],
        hashlib.sha256(body).hexdigest(),
        body,
    )


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=_json,
    how=st.integers(0, 4),
    column=st.one_of(st.none(), st.integers(0, 9)),
    mutate_envelope=st.sampled_from([None, "seq-float", "seq-bool", "extra-key", "drop-actor"]),
)
def test_the_hot_loop_agrees_with_chain_verifier(
    data: object, how: int, column: int | None, mutate_envelope: str | None
) -> None:
    first = _envelope(1, GENESIS_HASH, {"a": 1})
    first_body = rfc8785.dumps(first)
    rows = [_row(first_body, first)]
    second = _envelope(2, rows[0][8], data)
    tampered: dict[str, Any] = dict(second)
    if mutate_envelope == "seq-float":
        tampered["seq"] = 2.0
    elif mutate_envelope == "seq-bool":
        tampered["seq"] = True
    elif mutate_envelope == "extra-key":
        tampered["zz"] = 1
    elif mutate_envelope == "drop-actor":
        del tampered["actor"]
    body = _encode(tampered, how)
    if body is None:
        return
    row = list(_row(body, second))
    if column is not None:  # one column rewritten (the hash and body stay consistent)
        original = row[column]
        row[column] = (
            original + 1 if isinstance(original, int) else original[:-1] + original[-1:] * 2
        )
    rows.append(tuple(row))
    third = _envelope(3, rows[1][8], {"b": 2})
    rows.append(_row(rfc8785.dumps(third), third))

    fast = _verify_chunk(_Rows(rows), 1, 3, -1, False)  # type: ignore[arg-type]
    exact = verify_chain(Event(*r) for r in rows)
    broken = fast.broken
    if exact.ok:
        assert broken is None, (body, broken)
    else:
        # verify_chain stops at the first break; the hot loop must find the same one.
        assert broken is not None, (body, exact)
        assert (broken.first_bad_seq, broken.kind) == (exact.first_bad_seq, exact.kind), body
