"""C2SP tlog-checkpoints (c2sp.org/tlog-checkpoint): a log's signed tree head.

A checkpoint is a signed note (``ledger.note``) whose body is the log's origin,
its tree size in decimal and its RFC 9162 root hash in base64, each on its own
line, then any extension lines::

    example.com/behind-the-sofa
    20852163
    CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

    — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+...

Pure: the caller passes the tree head and the keys.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from ledger.errors import CheckpointInvalid
from ledger.merkle.hashing import HASH_SIZE
from ledger.note import Signer, Verifier, open_note, sign_note

# One strict base64 reading for the whole signed-note format (this module and
# ledger.note were split only for size).
from ledger.note import _b64decode as _decode_base64

__all__ = [
    "MAX_TREE_SIZE",
    "Checkpoint",
    "parse_checkpoint_body",
    "sign_checkpoint",
    "verify_checkpoint",
]

MAX_TREE_SIZE = 2**64 - 1
"""Largest tree size: other implementations read it as a uint64."""

# ASCII digits only, no leading zero (c2sp.org/tlog-checkpoint, "Note text", 2).
# int() alone would take "+1", "1_0", " 1" and non-ASCII digits.
_TREE_SIZE = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: who (origin), how many leaves (size) and their root hash.

    Raises:
        CheckpointInvalid: the origin is empty; the size is negative or above
            MAX_TREE_SIZE; the root hash is not 32 bytes; an extension line is
            empty; or any line holds a newline or another control character.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin:
            raise CheckpointInvalid("a checkpoint origin is non-empty", field="origin")
        _check_line(self.origin, "origin")
        if type(self.size) is not int or not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointInvalid(
                f"tree size {self.size!r} is not between 0 and 2**64 - 1", field="size"
            )
        if len(self.root_hash) != HASH_SIZE:  # SHA-256, RFC 9162 section 2.1.1
            raise CheckpointInvalid(
                f"root hash is {len(self.root_hash)} bytes, not {HASH_SIZE}",
                field="root_hash",
            )
        for extension in self.extensions:
            if not extension:
                raise CheckpointInvalid("extension lines are non-empty", field="extensions")
            _check_line(extension, "extensions")

    def body(self) -> str:
        """Return the note text: origin, size, base64 root hash, extensions, one per line."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )


def parse_checkpoint_body(text: str) -> Checkpoint:
    """Read a checkpoint note text, the inverse of :meth:`Checkpoint.body`.

    Strict, so one tree head has one spelling: the size has no sign, spaces or
    leading zeros, and the root hash is canonical padded base64 of 32 bytes.

    Raises:
        CheckpointInvalid: fewer than three lines, no final newline, an empty
            origin or extension line, a malformed size or root hash, or a
            control character.
    """
    if not text.endswith("\n"):
        raise CheckpointInvalid("a checkpoint body ends with a newline", field="body")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointInvalid(
            "a checkpoint body has an origin, a tree size and a root hash line", field="body"
        )
    origin, size_line, root_line, *extensions = lines
    if not _TREE_SIZE.fullmatch(size_line):
        raise CheckpointInvalid(
            f"tree size {size_line!r} is not a decimal number without leading zeros", field="size"
        )
    return Checkpoint(
        origin=origin,
        size=int(size_line),
        root_hash=_decode_root(root_line),
        extensions=tuple(extensions),
    )


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """Return ``checkpoint`` as a signed note, signed by ``signer``.

    c2sp.org/tlog-checkpoint asks that the key name match the origin; that is the
    caller's choice of key name.
    """
    return sign_note(checkpoint.body(), [signer])


def verify_checkpoint(
    note: str | bytes, verifier: Verifier, *, origin: str | None = None
) -> Checkpoint:
    """Check a signed checkpoint note against a trusted key and return the checkpoint.

    Signatures by other keys (witnesses, a rotated key) are ignored.

    Args:
        note: the signed note, as text or UTF-8 bytes.
        verifier: the log's public key.
        origin: when given, the origin the checkpoint must name; a log's key
            must not be trusted for another log's checkpoints.

    Raises:
        CheckpointInvalid: the note is malformed, not signed by ``verifier``, or
            signed but altered; the body is not a checkpoint; or its origin is
            not ``origin``.
    """
    body, _ = open_note(note, [verifier])
    checkpoint = parse_checkpoint_body(body)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointInvalid(
            f"checkpoint is for origin {checkpoint.origin!r}, expected {origin!r}",
            field="origin",
        )
    return checkpoint


def _decode_root(line: str) -> bytes:
    root = _decode_base64(line)
    if root is None or len(root) != HASH_SIZE:
        raise CheckpointInvalid(
            f"root hash {line!r} is not the base64 of {HASH_SIZE} bytes", field="root_hash"
        )
    return root


def _check_line(line: str, field: str) -> None:
    # Anything here would make a note that c2sp.org/signed-note calls malformed.
    if any(ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF for ch in line):
        raise CheckpointInvalid(
            f"{field} holds a newline, a control character or a lone surrogate", field=field
        )
