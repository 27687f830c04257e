"""The compiled validator (jsonschema-rs) and the reference (jsonschema) agree on every type."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.catalogue import Catalogue
from ledger.errors import SchemaViolation
from ledger.schema_files import load_catalogue

CATALOGUE = load_catalogue()
TYPES = [t for t in CATALOGUE.types if CATALOGUE.get(t).schema.get("examples")]

leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
    | st.sampled_from(
        ["2026-11-25T14:02:00Z", "not-a-time", "https://x.example/a", "sha256:" + "a" * 64]
    )
)
values = st.recursive(
    leaf,
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3)
    ),
    max_leaves=6,
)


def _reference_accepts(catalogue: Catalogue, name: str, data: object) -> bool:
    fast = catalogue._fast.pop(name)  # the reference alone
    try:
        catalogue.validate(name, data)
        return True
    except SchemaViolation:
        return False
    finally:
        catalogue._fast[name] = fast


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(TYPES), st.data())
def test_both_validators_agree_on_mutated_examples(name: str, data: st.DataObject) -> None:
    payload = copy.deepcopy(CATALOGUE.get(name).schema["examples"][0])  # type: ignore[index]
    assert isinstance(payload, dict)
    for _ in range(data.draw(st.integers(0, 3))):
        keys = sorted(payload)
        action = data.draw(st.sampled_from(["drop", "set", "add"]))
        if action == "drop" and keys:
            payload.pop(data.draw(st.sampled_from(keys)))
        elif action == "set" and keys:
            payload[data.draw(st.sampled_from(keys))] = data.draw(values)
        else:
            payload[data.draw(st.text(min_size=1, max_size=6))] = data.draw(values)
    fast_ok = CATALOGUE._fast[name].is_valid(payload)  # type: ignore[attr-defined]
    assert fast_ok == _reference_accepts(CATALOGUE, name, payload), (name, payload)


@pytest.mark.parametrize("name", TYPES)
def test_every_example_is_valid_for_both(name: str) -> None:
    example = CATALOGUE.get(name).schema["examples"][0]  # type: ignore[index]
    assert CATALOGUE._fast[name].is_valid(example)  # type: ignore[attr-defined]
    assert _reference_accepts(CATALOGUE, name, example)
