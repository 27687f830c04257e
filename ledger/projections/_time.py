"""Time arithmetic on the ledger's RFC 3339 UTC strings; no clock is ever read.

The ledger writes times as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, which sort
lexicographically. Payload times (``expires_at``) may use any RFC 3339 form,
so they are normalised to that shape before they are stored or compared.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

__all__ = ["add_minutes", "minutes_between", "normalize", "parse"]

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
)


def parse(text: str) -> datetime | None:
    """An aware datetime for an RFC 3339 string, or None if it is not one.

    Fractions finer than a microsecond are truncated, as the ledger does.
    """
    m = _RFC3339.fullmatch(text)
    if m is None:
        return None
    fraction = (m.group(7) or ".0")[1:7].ljust(6, "0")
    offset = m.group(8).upper()
    try:
        return datetime.fromisoformat(
            f"{m.group(1)}-{m.group(2)}-{m.group(3)}T{m.group(4)}:{m.group(5)}:{m.group(6)}"
            f".{fraction}{'+00:00' if offset == 'Z' else offset}"
        )
    except ValueError:
        return None


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalize(text: object) -> str | None:
    """``text`` in the ledger's sortable UTC form, or None if it is not a time."""
    if not isinstance(text, str):
        return None
    moment = parse(text)
    return None if moment is None else _format(moment)


def add_minutes(text: str, minutes: float) -> str | None:
    """The time ``minutes`` after ``text``, in the ledger's form."""
    moment = parse(text)
    return None if moment is None else _format(moment + timedelta(minutes=minutes))


def minutes_between(start: str, end: str) -> float | None:
    """Minutes from ``start`` to ``end`` (negative if ``end`` is earlier)."""
    a, b = parse(start), parse(end)
    if a is None or b is None:
        return None
    return (b - a).total_seconds() / 60
