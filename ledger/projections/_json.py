"""Typed reads of JSON values (payloads and documents) without ``Any``.

Payloads are schema-checked before they are sealed, but documents come back
from a store and events from older schema versions, so every read tolerates a
missing or mistyped value by returning a default instead of raising.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

__all__ = ["as_dict", "as_list", "dict_list", "get_bool", "get_int", "get_num", "get_str"]


def as_dict(value: object) -> dict[str, object]:
    """``value`` if it is a JSON object, else an empty dict (a new one, safe to fill)."""
    return cast(dict[str, object], value) if isinstance(value, dict) else {}


def as_list(value: object) -> list[object]:
    """``value`` if it is a JSON array, else an empty list."""
    return cast(list[object], value) if isinstance(value, list) else []


def dict_list(value: object) -> list[dict[str, object]]:
    """The JSON objects in ``value`` (an array); other items are skipped."""
    return [cast(dict[str, object], item) for item in as_list(value) if isinstance(item, dict)]


def get_str(obj: Mapping[str, object], key: str) -> str | None:
    """``obj[key]`` if it is a string."""
    value = obj.get(key)
    return value if isinstance(value, str) else None


def get_num(obj: Mapping[str, object], key: str) -> float | None:
    """``obj[key]`` as a float if it is a number (never a bool)."""
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def get_int(obj: Mapping[str, object], key: str) -> int | None:
    """``obj[key]`` if it is an integer (an integral float counts: canonical JSON
    writes ``5.0`` as ``5``, and a round trip must not change meaning)."""
    value = obj.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def get_bool(obj: Mapping[str, object], key: str) -> bool | None:
    """``obj[key]`` if it is a boolean."""
    value = obj.get(key)
    return value if isinstance(value, bool) else None
