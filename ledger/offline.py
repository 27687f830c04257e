"""Offline verification of an export against a signed checkpoint (``verify-export``).

Everything arrives as an argument -- the export's lines, the checkpoint note and
the verifier key -- and nothing is fetched, so an auditor needs no database
(STYLE.md 7.5). One pass in constant memory checks that:

* every line is the RFC 8785 canonical JSON of an event with exactly the
  exported fields (``hash`` included);
* the lines form the hash chain from seq 1 (``ledger.chain.ChainVerifier``, the
  same check ``rollout-ledger verify`` runs over the store);
* the RFC 9162 section 2.1.1 root of the first ``checkpoint.size`` events equals
  the root the log signed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import orjson

from ledger.canonical import canonical_bytes, is_canonical, parse_json
from ledger.chain import BODY_FIELDS, BreakKind, ChainVerifier, export_line
from ledger.checkpoint import verify_checkpoint
from ledger.errors import CanonicalizationError
from ledger.events import Event
from ledger.merkle import EMPTY_ROOT, append_leaves, leaf_hash, root_from_frontier
from ledger.note import Verifier

__all__ = ["EXPORT_FIELDS", "ExportReport", "parse_export_line", "verify_export"]

EXPORT_FIELDS = frozenset((*BODY_FIELDS, "hash"))
"""The keys of one export line: the hashed body's fields plus ``hash``."""

_HASH = re.compile(r"[0-9a-f]{64}")
_TEXT_FIELDS = ("id", "type", "subject", "actor", "occurred_at", "recorded_at", "prev_hash")
_BATCH = 4096  # leaf hashes folded into the frontier at a time


@dataclass(frozen=True, slots=True)
class ExportReport:
    """What :func:`verify_export` found.

    Attributes:
        ok: the export is whole, unaltered and matches the checkpoint.
        checked: how many lines passed the chain check.
        tree_size: the checkpoint's tree size.
        root_hash: the checkpoint's (signed) root hash.
        origin: the checkpoint's origin line.
        uncovered: events after ``tree_size`` that chain correctly but that the
            checkpoint does not vouch for (the export is newer than it).
        first_bad_seq: the first seq at fault, when one can be named.
        kind: a ``ledger.chain.BreakKind`` string naming what broke.
        reason: one line saying what broke, with the line number for a malformed line.
    """

    ok: bool
    checked: int
    tree_size: int
    root_hash: bytes
    origin: str
    uncovered: int = 0
    first_bad_seq: int | None = None
    kind: str | None = None
    reason: str | None = None


def parse_export_line(line: bytes) -> Event:
    """Read one export line (without its newline) back into an :class:`Event`.

    The event's ``body`` is the canonical encoding of the line without ``hash``;
    ``hash`` is taken from the line and *not* checked against the body here
    (ChainVerifier does that, and names the seq).

    Raises:
        ValueError: the line is not JSON, not an object with exactly the export
            fields of the right types, or not RFC 8785 canonical.
    """
    try:
        obj: object = orjson.loads(line)
    except orjson.JSONDecodeError:
        obj = None
    if obj is not None:
        event = _event(obj)
        if event is not None:
            # The line is canonical iff it is the canonical body with "hash"
            # spliced in at its sorted place, which is what export_line builds.
            if export_line(event) != line:
                raise ValueError("not RFC 8785 canonical JSON")
            return event
    # Rare: integral doubles >= 2**53 print as plain digits in JCS, and only the
    # exact reader of ledger.canonical reads them back as doubles.
    try:
        obj = parse_json(line, numbers_as_doubles=True)
    except ValueError:
        raise ValueError("not JSON") from None
    event = _event(obj)
    if event is None or not is_canonical(line) or export_line(event) != line:
        raise ValueError("not RFC 8785 canonical JSON")
    return event


def _event(obj: object) -> Event | None:
    """The event a parsed line holds, or None when its body needs the exact reader."""
    if type(obj) is not dict:
        raise ValueError("not a JSON object")
    if obj.keys() != EXPORT_FIELDS:
        missing = sorted(EXPORT_FIELDS - obj.keys())
        extra = sorted(obj.keys() - EXPORT_FIELDS)
        what = f"missing {missing[0]}" if missing else f"unexpected field {extra[0]!r}"
        raise ValueError(f"not an exported event ({what})")
    fields = dict(obj)
    hash_ = fields.pop("hash")
    if not isinstance(hash_, str) or not _HASH.fullmatch(hash_):
        raise ValueError("hash is not 64 lowercase hex digits")
    seq = fields["seq"]
    if type(seq) is not int or seq < 1:
        raise ValueError("seq is not a positive integer")
    if type(fields["data"]) is not dict:
        raise ValueError("data is not an object")
    text: dict[str, str] = {}
    for name in _TEXT_FIELDS:
        value = fields[name]
        if not isinstance(value, str):
            raise ValueError(f"{name} is not a string")
        text[name] = value
    try:
        body = canonical_bytes(fields)
    except CanonicalizationError:
        return None
    return Event(
        seq=seq,
        id=text["id"],
        type=text["type"],
        subject=text["subject"],
        actor=text["actor"],
        occurred_at=text["occurred_at"],
        recorded_at=text["recorded_at"],
        prev_hash=text["prev_hash"],
        hash=hash_,
        body=body,
    )


def verify_export(
    lines: Iterable[bytes],
    checkpoint_note: str | bytes,
    verifier: Verifier,
    *,
    origin: str | None = None,
) -> ExportReport:
    """Check an export (JSON Lines, oldest first) against a signed checkpoint.

    Streams in constant memory: one pass, the Merkle frontier and a small batch
    of leaf hashes. An export longer than the checkpoint is verified up to the
    checkpoint's size against its root, and its remaining events only as a
    chain; the report says how many were not covered (``uncovered``) and is
    still ``ok``. An export shorter than the checkpoint is ``truncated``.

    Args:
        lines: the export's lines, each with or without its final ``\\n``
            (a binary file object will do). Blank lines may only end the file.
        checkpoint_note: the signed checkpoint note, verbatim.
        verifier: the log's public key.
        origin: the origin the checkpoint must name, when the caller knows it.

    Returns:
        The verdict; on failure ``first_bad_seq`` and ``kind`` name the first
        break (a root mismatch over an intact chain has no single seq to blame).

    Raises:
        CheckpointInvalid: the note is malformed, not signed by ``verifier``,
            altered after signing, or for another origin. Nothing in the export
            can be trusted without it, so this is an error, not a report.
    """
    checkpoint = verify_checkpoint(checkpoint_note, verifier, origin=origin)
    size = checkpoint.size

    base = ExportReport(False, 0, size, checkpoint.root_hash, checkpoint.origin)
    report = functools.partial(replace, base)

    chain = ChainVerifier()
    frontier: list[bytes] = []
    leaves = 0
    pending: list[bytes] = []
    blank_line: int | None = None
    numbered = enumerate(lines, start=1)
    for number, raw in numbered:
        line = raw[:-1] if raw.endswith(b"\n") else raw
        if not line:
            blank_line = blank_line or number
            continue
        expected = chain.expected_seq
        if blank_line is not None:
            return report(
                ok=False,
                checked=chain.checked,
                first_bad_seq=expected,
                kind=BreakKind.NON_CANONICAL,
                reason=f"line {blank_line}: blank line inside the export",
            )
        try:
            event = parse_export_line(line)
        except ValueError as exc:
            return report(
                ok=False,
                checked=chain.checked,
                first_bad_seq=expected,
                kind=BreakKind.NON_CANONICAL,
                reason=f"line {number}: {exc}",
            )
        if not chain.feed(event):
            broken = chain.report()
            kind, reason = broken.kind, broken.reason
            if kind == BreakKind.MISSING_SEQ:
                found = _find_seq(numbered, expected)
                if found is not None:
                    kind = BreakKind.REORDERED
                    reason = f"seq {expected} is at line {found}, after seq {event.seq}"
            elif event.seq == expected - 1 and event.hash == chain.prev_hash:
                reason = f"seq {event.seq} appears twice"
            return report(
                ok=False,
                checked=broken.checked,
                first_bad_seq=broken.first_bad_seq,
                kind=kind,
                reason=f"line {number}: {reason}",
            )
        if leaves + len(pending) < size:
            pending.append(leaf_hash(event.body))  # RFC 9162 2.1.1: leaf = H(0x00 || body)
            if len(pending) >= _BATCH or leaves + len(pending) == size:
                step = append_leaves(frontier, leaves, pending)
                frontier, leaves, pending = step.frontier, step.size, []
    if chain.checked < size:
        return report(
            ok=False,
            checked=chain.checked,
            first_bad_seq=chain.checked + 1,
            kind=BreakKind.TRUNCATED,
            reason=f"the export holds {chain.checked} events but the checkpoint covers {size}",
        )
    computed = root_from_frontier(frontier) if size else EMPTY_ROOT
    if computed != checkpoint.root_hash:
        return report(
            ok=False,
            checked=chain.checked,
            kind=BreakKind.MERKLE_MISMATCH,
            reason=(
                f"the root of the first {size} events is {computed.hex()}, but the "
                f"checkpoint signs {checkpoint.root_hash.hex()}"
            ),
        )
    return report(ok=True, checked=chain.checked, uncovered=chain.checked - size)


def _find_seq(rest: Iterator[tuple[int, bytes]], seq: int) -> int | None:
    """Line number of a later line holding event ``seq``: tells a swap from a drop."""
    for number, raw in rest:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        if type(obj) is dict and obj.get("seq") == seq:
            return number
    return None
