"""Canonical bytes: the fast path must be byte-identical to the rfc8785 package."""

from __future__ import annotations

import contextlib
import math

import orjson
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import (
    MAX_SAFE_INTEGER,
    canonical_bytes,
    fast_floats_only,
    is_canonical,
    parse_json,
    surely_canonical,
)
from ledger.errors import CanonicalizationError

safe_ints = st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)
# Keys and strings across the whole code space, including astral characters and
# the U+E000..U+FFFF band where UTF-16 and code-point order disagree.
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
json_values = st.recursive(
    st.none() | st.booleans() | safe_ints | finite_floats | texts,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(texts, children, max_size=5),
    max_leaves=30,
)


@given(json_values)
@settings(max_examples=600)
def test_canonical_bytes_equal_the_rfc8785_reference(value: object) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


# Floats where orjson and ECMAScript print differently: integral ones (120.0,
# -0.0, 1e16..1e21) and 1e-7 <= |x| < 1e-4; canonical_bytes splices these in.
awkward_floats = (
    st.integers(min_value=-(2**60), max_value=2**60).map(float)
    | st.floats(min_value=1e-8, max_value=1e-4)
    | st.floats(min_value=1e15, max_value=1e22)
    | finite_floats
)


@given(st.dictionaries(texts, awkward_floats | st.lists(awkward_floats, max_size=3), max_size=6))
@settings(max_examples=600)
def test_floats_off_the_fast_band_still_equal_the_reference(value: dict[str, object]) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)  # type: ignore[arg-type]


@given(awkward_floats)
@settings(max_examples=1000)
def test_a_single_awkward_float_equals_the_reference(x: float) -> None:
    assert canonical_bytes({"x": [x]}) == rfc8785.dumps({"x": [x]})


@given(json_values | st.dictionaries(texts, awkward_floats, max_size=4))
@settings(max_examples=600)
def test_surely_canonical_never_vouches_for_non_canonical_bytes(value: object) -> None:
    # Both orjson's own bytes (often not JCS) and the reference's must be judged
    # as is_canonical judges them whenever the fast test says yes.
    candidates = [rfc8785.dumps(value)]  # type: ignore[arg-type]
    with contextlib.suppress(orjson.JSONEncodeError):
        candidates.append(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
    for data in candidates:
        if surely_canonical(orjson.loads(data), data):
            assert is_canonical(data)


@given(json_values)
def test_surely_canonical_vouches_for_ascii_bytes_with_plain_floats(value: object) -> None:
    data = canonical_bytes(value)
    if data.isascii() and fast_floats_only(value):
        assert surely_canonical(orjson.loads(data), data)


@pytest.mark.parametrize(
    "data",
    [b'{"a":120.0}', b'{"a":1e+16}', b'{"a":9.9e-6}', b'{"a":9007199254740993}', b"[-0.0]"],
)
def test_surely_canonical_leaves_orjson_only_forms_to_the_exact_check(data: bytes) -> None:
    assert not surely_canonical(orjson.loads(data), data)
    assert not is_canonical(data)


@given(json_values)
def test_canonical_bytes_round_trip_through_a_parse(value: object) -> None:
    encoded = canonical_bytes(value)
    assert canonical_bytes(parse_json(encoded, numbers_as_doubles=True)) == encoded
    assert is_canonical(encoded)


@given(st.dictionaries(texts, safe_ints, min_size=2, max_size=8), st.randoms())
def test_canonical_bytes_do_not_depend_on_key_insertion_order(
    value: dict[str, int], rnd: object
) -> None:
    items = list(value.items())
    rnd.shuffle(items)  # type: ignore[attr-defined]
    assert canonical_bytes(dict(items)) == canonical_bytes(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 1, "a": 2}, b'{"a":2,"b":1}'),
        (1.0, b"1"),
        (-0.0, b"0"),
        (1e21, b"1e+21"),
        (1e-7, b"1e-7"),
        (0.1, b"0.1"),
        ('\u2028\n"\\', b'"\xe2\x80\xa8\\n\\"\\\\"'),
        ({"\U0001f600": 1, "\ue000": 2}, '{"\U0001f600":1,"\ue000":2}'.encode()),
        ([True, None, "x"], b'[true,null,"x"]'),
        # spliced floats nested in lists and objects, beside plain ones
        (
            {
                "a": [5e-324, float(2**53), float(2**53 - 1), float(2**53 + 2), {"b": -0.0}],
                "c": 0.5,
            },
            b'{"a":[5e-324,9007199254740992,9007199254740991,9007199254740994,{"b":0}],"c":0.5}',
        ),
        (
            [[1e21, [1e-7]], {"\U0001f600": [120.0], "\ue000": 1e16}],
            '[[1e+21,[1e-7]],{"\U0001f600":[120],"\ue000":10000000000000000}]'.encode(),
        ),
    ],
)
def test_known_answers_follow_rfc8785(value: object, expected: bytes) -> None:
    assert canonical_bytes(value) == expected


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"x": math.nan}, "$.x"),
        ({"x": [1, math.inf]}, "$.x[1]"),
        ({"a": {"b": 2**53}}, "$.a.b"),
        ({"a": -(2**60)}, "$.a"),
        ({1: "x"}, "$"),
        ({"o": object()}, "$.o"),
        ({"b": b"bytes"}, "$.b"),
    ],
)
def test_values_jcs_cannot_represent_are_rejected_naming_the_path(
    value: object, field: str
) -> None:
    with pytest.raises(CanonicalizationError) as info:
        canonical_bytes(value)
    assert info.value.field == field
    assert field in str(info.value)


def test_a_lone_surrogate_is_rejected() -> None:
    with pytest.raises(CanonicalizationError, match=r"non-UTF-8|surrogate"):
        canonical_bytes({"s": "\ud800"})


@pytest.mark.parametrize(
    "text", [b'{"b":1,"a":2}', b'{"a": 1}', b"1.0", b'{"a":1e2}', b"NaN", b"{"]
)
def test_non_canonical_or_broken_text_is_not_canonical(text: bytes) -> None:
    assert not is_canonical(text)


def test_parse_json_refuses_nan_literals() -> None:
    with pytest.raises(ValueError, match="NaN"):
        parse_json(b'{"x": NaN}')
