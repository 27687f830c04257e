"""RFC 8785 (JSON Canonicalization Scheme) bytes, and nothing else.

The canonical bytes are a contract that clients re-implement, so they come from
one place. The ``rfc8785`` package is the reference; it is pure Python and
costs ~30 µs per event, so :func:`canonical_bytes` takes a fast path through
``orjson`` (sorted keys) whenever the result is provably identical, and falls
back to ``rfc8785`` otherwise. tests/core/test_canonical.py checks the two
byte for byte with hypothesis.

When is ``orjson.dumps(option=OPT_SORT_KEYS)`` identical to JCS?
  * strings: both escape only ``"``, ``\\`` and U+0000..U+001F, with the same
    short forms (``\\b \\f \\n \\r \\t``) and lowercase ``\\u00xx``;
  * key order: JCS sorts by UTF-16 code units, Python by code points; the two
    agree unless a key holds a character above U+D7FF (RFC 8785 3.2.3);
  * integers: identical while |n| <= 2**53 - 1, the only range JCS allows;
  * floats: ECMAScript's shortest round-trip digits equal ``repr``'s; the two
    formats agree for non-integral finite values with 1e-4 <= |x| < 1e16, and
    an integral float below 2**53 prints as that integer (RFC 8785 3.2.2.3).
Any other float is spliced in as the reference's own bytes for that number
(``orjson.Fragment``), so a payload with ``120.0`` or ``5e-06`` still takes
the fast path; only keys above U+D7FF send the whole value to the reference.

Checking stored bytes (:func:`surely_canonical`) is the same argument read
backwards: if orjson re-encodes the parsed bytes to themselves, they are
orjson's output, and that is JCS's too when every float is in the band above,
every integer within 2**53 - 1 and the bytes are ASCII (so key order agrees).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence

import orjson
import rfc8785

from ledger.errors import CanonicalizationError

__all__ = [
    "MAX_SAFE_INTEGER",
    "canonical_bytes",
    "fast_floats_only",
    "is_canonical",
    "parse_json",
    "surely_canonical",
]

MAX_SAFE_INTEGER = 2**53 - 1

_SORT = orjson.OPT_SORT_KEYS
_SORT_STRICT = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


class _NeedsReference(Exception):
    """Raised inside the fast-path check when only rfc8785 gets the bytes right."""


def canonical_bytes(value: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value.

    Raises:
        CanonicalizationError: the value holds something JCS cannot represent:
            NaN or Infinity, an integer beyond +-(2**53 - 1), a non-string object
            key, a lone surrogate, or a non-JSON type. The message names the path.
    """
    try:
        fast = _check(value)
        patched = value if fast else _patch_floats(value)
    except _NeedsReference:
        patched = None
    except _Rejected:
        fault = _find_fault(value, "$")
        path, reason = fault if fault else ("$", "value is not JSON")
        raise CanonicalizationError(f"{path}: {reason}", field=path) from None
    if patched is not None:
        try:
            return orjson.dumps(patched, option=_SORT)
        except orjson.JSONEncodeError:
            # orjson refuses lone surrogates; the reference names the problem.
            pass
    try:
        return rfc8785.dumps(value)  # type: ignore[arg-type]  # _check vetted the value
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalizationError(f"cannot canonicalize: {exc}", field="data") from None
    except UnicodeEncodeError as exc:
        raise CanonicalizationError(
            f"a string holds a lone surrogate ({exc.reason})", field="data"
        ) from None


def _check(value: object) -> bool:
    """Validate ``value`` for JCS and tell whether the fast encoder is exact for it.

    Returns False (use the reference) when a float or key needs JCS's own rules.
    Raises CanonicalizationError for values JCS rejects outright; the path is
    worked out only then, so the common case builds no strings.
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:  # type: ignore[operator]
            return True
        raise _rejection(value)
    if kind is dict:
        ok = True
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise _rejection(value)
            if not key.isascii() and max(key) > "\ud7ff":
                ok = False
            # The common leaves are judged inline: a call per value is most of the walk.
            kind = type(item)
            if kind is str or kind is bool or item is None:
                continue
            if kind is float:
                if not 1e-4 <= abs(item) < 1e16 or item.is_integer():
                    if not math.isfinite(item):
                        raise _rejection(item)
                    ok = False
                continue
            if not _check(item):
                ok = False
        return ok
    if kind is list or kind is tuple:
        ok = True
        for item in value:  # type: ignore[attr-defined]
            if not _check(item):
                ok = False
        return ok
    if kind is float:
        x: float = value  # type: ignore[assignment]
        if not math.isfinite(x):
            raise _rejection(value)
        # Non-integral floats in this band print identically in repr and ECMAScript;
        # integral ones (including -0.0) would print "1.0" where JCS wants "1".
        return 1e-4 <= abs(x) < 1e16 and not x.is_integer()
    if isinstance(value, Mapping | Sequence) and not isinstance(value, str | bytes):
        raise _NeedsReference
    raise _rejection(value)


def _patch_floats(value: object) -> object:
    """A copy of a value ``_check`` vetted, each float orjson would print differently
    replaced by the reference's bytes for it; raises _NeedsReference for a key that
    may sort differently (RFC 8785 3.2.3)."""
    kind = type(value)
    if kind is float:
        x: float = value  # type: ignore[assignment]
        if 1e-4 <= abs(x) < 1e16 and not x.is_integer():
            return x
        if x.is_integer() and abs(x) <= MAX_SAFE_INTEGER:
            return int(x)  # RFC 8785 3.2.2.3: an integral double prints as its integer
        return orjson.Fragment(rfc8785.dumps(x))
    if kind is dict:
        out: dict[str, object] = {}
        for key, item in value.items():  # type: ignore[attr-defined]
            if not key.isascii() and max(key) > "\ud7ff":
                raise _NeedsReference
            out[key] = _patch_floats(item)
        return out
    if kind is list or kind is tuple:
        return [_patch_floats(item) for item in value]  # type: ignore[attr-defined]
    return value


def fast_floats_only(value: object) -> bool:
    """Tell whether every float in a parsed JSON value prints alike in orjson and JCS
    (non-integral, 1e-4 <= |x| < 1e16; see the module docstring)."""
    kind = type(value)
    if kind is dict:
        items: Iterable[object] = value.values()  # type: ignore[attr-defined]
    elif kind is list:
        items = value  # type: ignore[assignment]
    else:
        x = value
        return kind is not float or (1e-4 <= abs(x) < 1e16 and not x.is_integer())  # type: ignore[arg-type,attr-defined]
    for item in items:
        kind = type(item)
        if kind is float:
            if not 1e-4 <= abs(item) < 1e16 or item.is_integer():  # type: ignore[arg-type,attr-defined]
                return False
        elif (kind is dict or kind is list) and not fast_floats_only(item):
            return False
    return True


def surely_canonical(parsed: object, data: bytes) -> bool:
    """True when ``data`` is certainly RFC 8785 canonical; False means "check exactly".

    ``parsed`` is ``orjson.loads(data)``. A cheap sufficient test for stored
    bodies (see the module docstring): ASCII, floats only in the band where
    orjson prints JCS, and orjson re-encodes them to themselves (integers
    beyond 2**53 - 1 refused). A False answer is not a verdict:
    :func:`is_canonical` settles it.
    """
    if not data.isascii() or not fast_floats_only(parsed):
        return False
    try:
        return orjson.dumps(parsed, option=_SORT_STRICT) == data
    except orjson.JSONEncodeError:
        return False


class _Rejected(Exception):
    pass


def _rejection(value: object) -> _Rejected:
    return _Rejected(value)


def _find_fault(value: object, path: str) -> tuple[str, str] | None:
    """Walk again, slowly, to name the path of the first value JCS rejects."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            return path, f"integer {value} is outside the IEEE-754 exact range +-(2**53 - 1)"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, f"{value} is not a finite number")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return path, f"object key {key!r} is not a string"
            found = _find_fault(item, f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        for i, item in enumerate(value):
            found = _find_fault(item, f"{path}[{i}]")
            if found:
                return found
        return None
    return path, f"value of type {type(value).__name__} is not JSON"


def is_canonical(data: bytes) -> bool:
    """Tell whether ``data`` is exactly the canonical form of the JSON it encodes.

    Numbers are read as JCS reads them, as IEEE-754 doubles: an integral double
    of 2**53 or more prints without an exponent, so its digits must be read
    back as a double, not rejected as an unsafe integer.
    """
    try:
        return canonical_bytes(parse_json(data, numbers_as_doubles=True)) == data
    except (ValueError, CanonicalizationError):
        return False


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _int_as_double(text: str) -> int | float:
    value = int(text)
    return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else float(text)


def parse_json(data: bytes | str, *, numbers_as_doubles: bool = False) -> object:
    """Parse JSON strictly: NaN and Infinity literals are refused, as JSON requires.

    With ``numbers_as_doubles`` integers outside the safe range are read as
    doubles (what a JCS reader does); otherwise they stay integers so that
    canonicalizing client input rejects them.

    Raises:
        ValueError: the text is not JSON (json.JSONDecodeError is a ValueError).
    """
    if numbers_as_doubles:
        return json.loads(data, parse_constant=_reject_constant, parse_int=_int_as_double)
    return json.loads(data, parse_constant=_reject_constant)
