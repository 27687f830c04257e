"""Receipts: one self-contained, offline-verifiable proof that an event was logged.

A receipt is a C2SP transparency log proof (c2sp.org/tlog-proof@v1), so any
tool that reads that format can check the inclusion part::

    c2sp.org/tlog-proof@v1
    extra <base64 of the event's export line>
    index <leaf index = seq - 1>
    <base64 inclusion path hash, leaf's sibling first, one per line>
    ...
    <blank line>
    <the signed checkpoint note, verbatim>

The spec's opaque ``extra`` line carries the event itself. It is not trusted as
such: the log entry is that line without its ``hash`` field (the event's
canonical body), its leaf hash is recomputed (RFC 9162 section 2.1.1) and must
lead to the signed root through the path, so an altered event fails the proof.
Proofs SHOULD be stored with the file extension ``.tlog-proof``.

Pure: text, proofs and keys arrive as arguments (STYLE.md 7.5).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from ledger.checkpoint import Checkpoint, parse_checkpoint_body, verify_checkpoint
from ledger.errors import CheckpointInvalid, ProofInvalid
from ledger.events import Event
from ledger.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from ledger.note import Verifier
from ledger.offline import parse_export_line
from ledger.proofs import InclusionProof

__all__ = ["RECEIPT_HEADER", "Receipt", "format_receipt", "verify_receipt"]

RECEIPT_HEADER = "c2sp.org/tlog-proof@v1"
"""First line of every receipt (c2sp.org/tlog-proof, "Format")."""

_INDEX = re.compile(r"index (0|[1-9][0-9]*)")


@dataclass(frozen=True, slots=True)
class Receipt:
    """A verified receipt: the event, its place in the log, and the signed tree head.

    Attributes:
        event: the logged event (``body`` is what the leaf hashes).
        line: the event's export line, as carried in the receipt.
        checkpoint: the signed checkpoint the event is proven against.
        proof: the inclusion proof, at the checkpoint's size and root.
    """

    event: Event
    line: bytes
    checkpoint: Checkpoint
    proof: InclusionProof

    @property
    def seq(self) -> int:
        """The event's seq (leaf index + 1)."""
        return self.event.seq


def format_receipt(event_line: bytes, proof: InclusionProof, checkpoint_note: str) -> str:
    """Write a receipt for the event on ``event_line``.

    The parts are checked against one another first (not the signature: the
    caller signed the note), so a receipt that could never verify is not
    written: the proof must be for this event's leaf and at the checkpoint's
    size and root.

    Args:
        event_line: ``ledger.chain.export_line(event)``; a final newline is ignored.
        proof: the event's inclusion proof at the checkpoint's tree size.
        checkpoint_note: the signed checkpoint note, verbatim.

    Returns:
        The receipt text, ending in a newline.

    Raises:
        ProofInvalid: the line is not an exported event, or the proof is for
            another leaf, seq, tree size or root than the event and checkpoint.
        CheckpointInvalid: the note has no checkpoint body.
    """
    line = event_line.removesuffix(b"\n")
    event = _event(line)
    checkpoint = parse_checkpoint_body(_note_body(checkpoint_note))
    if proof.seq != event.seq:
        raise ProofInvalid(f"the proof is for seq {proof.seq}, the event is seq {event.seq}")
    if proof.leaf_hash != leaf_hash(event.body):
        raise ProofInvalid(f"the proof's leaf hash is not the hash of event seq {event.seq}")
    _check_against(proof.tree_size, proof.root_hash, checkpoint)
    proof.verify()
    lines = [
        RECEIPT_HEADER,
        f"extra {_b64(line)}",
        f"index {proof.leaf_index}",
        *(_b64(h) for h in proof.path),
    ]
    return "\n".join(lines) + "\n\n" + checkpoint_note


def verify_receipt(text: str | bytes, verifier: Verifier, *, origin: str | None = None) -> Receipt:
    """Check a receipt offline and return what it proves.

    Checks, in order: the receipt's layout; that the event line is canonical
    JSON of an exported event whose ``hash`` is the SHA-256 of its body; that
    the index is ``seq - 1``; the checkpoint's signature (and ``origin``); and
    that the inclusion path leads from the event's leaf hash to the signed
    root at the signed size (RFC 9162 section 2.1.3.2).

    Args:
        text: the receipt, as text or UTF-8 bytes.
        verifier: the log's public key.
        origin: when given, the origin the checkpoint must name.

    Raises:
        ProofInvalid: the receipt is malformed, the event was altered, or the
            path does not lead to the signed root.
        CheckpointInvalid: the checkpoint is malformed, not signed by
            ``verifier``, altered, or for another origin.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ProofInvalid("receipt: not valid UTF-8") from None
    head, blank, note = text.partition("\n\n")
    if not blank:
        raise ProofInvalid("receipt: no blank line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != RECEIPT_HEADER:
        raise ProofInvalid(f"receipt line 1: expected {RECEIPT_HEADER!r}")
    if len(lines) < 3 or not lines[1].startswith("extra "):
        raise ProofInvalid("receipt line 2: expected 'extra <base64 of the event line>'")
    line = _unb64(lines[1].removeprefix("extra "), "receipt line 2")
    match = _INDEX.fullmatch(lines[2])
    if match is None:
        raise ProofInvalid("receipt line 3: expected 'index <leaf index>' in plain decimal")
    index = int(match.group(1))
    path = tuple(
        _unb64(value, f"receipt line {number}", size=HASH_SIZE)
        for number, value in enumerate(lines[3:], start=4)
    )
    event = _event(line)
    if hashlib.sha256(event.body).hexdigest() != event.hash:
        raise ProofInvalid(f"event seq {event.seq}: its hash does not match its content")
    if event.seq != index + 1:
        raise ProofInvalid(f"receipt index {index} is not leaf seq - 1 of event seq {event.seq}")
    checkpoint = verify_checkpoint(note, verifier, origin=origin)
    leaf = leaf_hash(event.body)
    try:
        verify_inclusion(leaf, index, checkpoint.size, path, checkpoint.root_hash)
    except ProofInvalid as exc:
        raise ProofInvalid(
            f"event seq {event.seq} is not proven in checkpoint size {checkpoint.size}: {exc}"
        ) from None
    proof = InclusionProof(event.seq, checkpoint.size, leaf, checkpoint.root_hash, path)
    return Receipt(event, line, checkpoint, proof)


def _event(line: bytes) -> Event:
    try:
        return parse_export_line(line)
    except ValueError as exc:
        raise ProofInvalid(f"receipt event: {exc}") from None


def _check_against(size: int, root: bytes, checkpoint: Checkpoint) -> None:
    if size != checkpoint.size:
        raise ProofInvalid(
            f"the proof is for tree size {size}, the checkpoint for {checkpoint.size}"
        )
    if root != checkpoint.root_hash:
        raise ProofInvalid(f"the proof's root is not the checkpoint's root at size {size}")


def _note_body(note: str) -> str:
    # c2sp.org/signed-note: the body is everything up to the last blank line.
    split = note.rfind("\n\n")
    if split < 0:
        raise CheckpointInvalid("malformed note: no blank line before the signatures")
    return note[: split + 1]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str, where: str, *, size: int | None = None) -> bytes:
    """Strict standard base64 (RFC 4648 section 4): one value, one spelling."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if not raw or _b64(raw) != text:
        raise ProofInvalid(f"{where}: not standard base64")
    if size is not None and len(raw) != size:
        raise ProofInvalid(f"{where}: a hash is {size} bytes, got {len(raw)}")
    return raw
