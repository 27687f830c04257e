"""Fitting a large OpenLineage event into one record: elide its largest facets.

A Spark logical plan or a wide schema can push an event past the ledger's
payload limit; the event is still recorded, with those facets replaced by
their digest, and its lineage is derived from the whole event first.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

from ledger.canonical import canonical_bytes
from ledger.errors import PayloadTooLarge
from ledger.events import MAX_DATA_BYTES
from ledger.integrations._common import digest
from ledger.integrations._openlineage_facets import FACET_KEYS

__all__ = ["fit"]


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _facet_slots(event: dict[str, object]) -> Iterator[tuple[str, dict[str, object], str]]:
    """(path, the dict holding the facet, facet name) for every facet of the event."""
    for owner in ("run", "job", "dataset"):
        node = event.get(owner)
        group = node.get("facets") if isinstance(node, dict) else None
        if isinstance(group, dict):
            yield from ((f"{owner}.facets.{k}", group, k) for k in group)
    for key in ("inputs", "outputs"):
        for index, item in enumerate(_list(event.get(key))):
            for slot in FACET_KEYS:
                group = item.get(slot) if isinstance(item, dict) else None
                if isinstance(group, dict):
                    yield from ((f"{key}[{index}].{slot}.{k}", group, k) for k in group)


def fit(data: dict[str, object]) -> dict[str, object]:
    """``data`` itself when it fits the payload limit; else a copy with the largest facets
    of ``data["event"]`` replaced by ``{"_elided": {"sha256", "bytes"}}`` until it fits.

    The copy names each elided facet in ``elided`` and carries ``event_sha256``,
    the digest of the whole received event, so the producer's own copy can
    still be matched against the record.

    Raises:
        PayloadTooLarge: it does not fit even with every facet elided.
    """
    size = len(canonical_bytes(data))
    if size <= MAX_DATA_BYTES:
        return data
    original = data["event"]
    event = copy.deepcopy(original)
    assert isinstance(event, dict)
    slots = []
    for path, group, name in _facet_slots(event):
        blob = canonical_bytes(group[name])
        slots.append((len(blob), path, group, name))
    slots.sort(key=lambda s: (-s[0], s[1]))
    out = {**data, "event": event, "event_sha256": digest(original)}
    elided: list[dict[str, object]] = []
    out["elided"] = elided
    for length, path, group, name in slots:
        sha = digest(group[name])
        group[name] = {"_elided": {"sha256": sha, "bytes": length}}
        elided.append({"path": path[:2048], "sha256": sha, "bytes": length})
        size -= length
        if size <= MAX_DATA_BYTES and len(canonical_bytes(out)) <= MAX_DATA_BYTES:
            return out
    raise PayloadTooLarge(
        f"body: the event is over the {MAX_DATA_BYTES}-byte record limit even with every "
        "facet elided (too many datasets?); split it into several events",
        field="body",
    )
