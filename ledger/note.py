"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, and their key strings.

A signed note is a text ending in a newline, a blank line, then one or more
signature lines ``— <key name> <base64(4-byte key id || signature)>``. The key
strings are the ones golang.org/x/mod/sumdb/note reads and writes, so a key made
here works with Go's ``note`` package and the transparency-dev tools, and back:

* verifier key: ``<name>+<8 hex key id>+<base64(0x01 || 32-byte public key)>``
* private key:  ``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || 32-byte seed)>``

Pure: no files, clock or environment. :func:`generate_signer` takes its
randomness from the operating system through ``cryptography``. Every failure is a
:class:`~ledger.errors.CheckpointInvalid`. This module is generic over the note
text; ``ledger.checkpoint`` is one text format on top of it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import CheckpointInvalid

__all__ = [
    "MAX_SIGNATURES",
    "Signer",
    "Verifier",
    "generate_signer",
    "open_note",
    "parse_verifier_key",
    "sign_note",
]

MAX_SIGNATURES = 100
"""Most signature lines a note may carry (the spec asks for a limit of at least 16)."""

_ALG_ED25519 = b"\x01"  # signed-note signature type byte for Ed25519
_SIG_PREFIX = "\u2014 "  # EM DASH, SPACE
_HEX_ID = re.compile(r"[0-9a-fA-F]{8}")
_ED25519_KEY_SIZE = 32
_ED25519_SIG_SIZE = 64


@dataclass(frozen=True, slots=True)
class Verifier:
    """A trusted Ed25519 public key and its name: what checks a note's signatures.

    Raises:
        CheckpointInvalid: the name is empty or holds a space or ``+``, or the
            public key is not 32 bytes.
    """

    key_name: str
    public_key: bytes

    def __post_init__(self) -> None:
        _check_key_name(self.key_name)
        if len(self.public_key) != _ED25519_KEY_SIZE:
            raise CheckpointInvalid("an Ed25519 public key is 32 bytes", field="public_key")

    @property
    def key_id(self) -> int:
        """The uint32 key id: SHA-256(name || 0x0A || 0x01 || public key)[:4], big-endian."""
        return _key_id(self.key_name, self.public_key)

    def verifier_key(self) -> str:
        """Return the key string ``<name>+<hex id>+<base64(0x01 || public key)>``."""
        encoded = _b64encode(_ALG_ED25519 + self.public_key)
        return f"{self.key_name}+{self.key_id:08x}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Tell whether ``signature`` is this key's Ed25519 signature of ``message``."""
        if len(signature) != _ED25519_SIG_SIZE:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class Signer:
    """A named Ed25519 private key that signs notes.

    The seed never shows in ``repr``; :meth:`private_key_string` is the one way out,
    for the key file.

    Raises:
        CheckpointInvalid: the name is empty or holds a space or ``+``, or the
            seed is not 32 bytes.
    """

    __slots__ = ("_private_key", "_verifier")

    def __init__(self, key_name: str, seed: bytes) -> None:
        _check_key_name(key_name)
        if len(seed) != _ED25519_KEY_SIZE:
            raise CheckpointInvalid("an Ed25519 seed is 32 bytes", field="seed")
        self._private_key = Ed25519PrivateKey.from_private_bytes(seed)
        self._verifier = Verifier(key_name, self._private_key.public_key().public_bytes_raw())

    @classmethod
    def from_private_key_string(cls, text: str) -> Signer:
        """Read a ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`` string.

        Surrounding whitespace (a key file's final newline) is ignored.

        Raises:
            CheckpointInvalid: the string is not in that form, names another
                algorithm, or its key id does not match the key it holds.
        """
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise CheckpointInvalid(
                "a private key string starts with PRIVATE+KEY+<name>+<key id>+", field="key"
            )
        name, key_id, key = _decode_key_parts(parts[2], parts[3], parts[4])
        signer = cls(name, key)
        if signer.key_id != key_id:
            raise CheckpointInvalid(
                f"private key for {name!r} does not match its key id {key_id:08x}", field="key"
            )
        return signer

    @property
    def key_name(self) -> str:
        """The key name written in each signature line."""
        return self._verifier.key_name

    @property
    def key_id(self) -> int:
        """The uint32 key id of the matching public key (see :attr:`Verifier.key_id`)."""
        return self._verifier.key_id

    @property
    def verifier(self) -> Verifier:
        """The matching public key, to check this signer's notes."""
        return self._verifier

    def private_key_string(self) -> str:
        """Return ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>``: a secret."""
        seed = self._private_key.private_bytes_raw()
        return f"PRIVATE+KEY+{self.key_name}+{self.key_id:08x}+{_b64encode(_ALG_ED25519 + seed)}"

    def verifier_key(self) -> str:
        """Return the public verifier key string to give to whoever checks notes."""
        return self._verifier.verifier_key()

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message`` (deterministic, RFC 8032)."""
        return self._private_key.sign(message)

    def __repr__(self) -> str:
        return f"Signer(key_name={self.key_name!r}, key_id={self.key_id:08x})"


def generate_signer(key_name: str) -> Signer:
    """Make a new Ed25519 signer from fresh operating-system randomness.

    Raises:
        CheckpointInvalid: the name is empty or holds a space or ``+``.
    """
    _check_key_name(key_name)  # before making a key that would be thrown away
    return Signer(key_name, Ed25519PrivateKey.generate().private_bytes_raw())


def parse_verifier_key(text: str) -> Verifier:
    """Read a ``<name>+<hex id>+<base64(0x01 || public key)>`` verifier key string.

    Surrounding whitespace is ignored.

    Raises:
        CheckpointInvalid: the string is not in that form, names another
            algorithm, or its key id does not match the key it holds.
    """
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise CheckpointInvalid("a verifier key reads <name>+<key id>+<key>", field="key")
    name, key_id, key = _decode_key_parts(*parts)
    verifier = Verifier(name, key)
    if verifier.key_id != key_id:
        raise CheckpointInvalid(
            f"verifier key for {name!r} does not match its key id {key_id:08x}", field="key"
        )
    return verifier


def sign_note(body: str, signers: Sequence[Signer]) -> str:
    """Sign ``body`` with every signer and return the signed note.

    Each signer signs the UTF-8 bytes of ``body`` exactly; the signature lines
    follow in the order given.

    Raises:
        CheckpointInvalid: the body is empty, does not end in a newline, holds a
            control character other than newline or cannot be encoded as UTF-8;
            or there is no signer, or more than MAX_SIGNATURES.
    """
    if not body.endswith("\n"):
        raise CheckpointInvalid("a note body ends with a newline", field="body")
    message = _note_bytes(body)
    if not 1 <= len(signers) <= MAX_SIGNATURES:
        raise CheckpointInvalid(f"a note takes 1 to {MAX_SIGNATURES} signatures", field="signers")
    lines = []
    for signer in signers:
        signature = signer.key_id.to_bytes(4, "big") + signer.sign(message)
        lines.append(f"{_SIG_PREFIX}{signer.key_name} {_b64encode(signature)}\n")
    return body + "\n" + "".join(lines)


def open_note(note: str | bytes, verifiers: Sequence[Verifier]) -> tuple[str, list[str]]:
    """Check a signed note against trusted keys and return its body and who signed it.

    Follows c2sp.org/signed-note: a signature whose key name and key id both
    match a known key must verify; signatures by unknown keys are ignored, so
    witnesses and rotated keys may add their own. The body is the text up to
    the last blank line, including its final newline.

    Returns:
        The note body, and the names of the known keys that signed it, in the
        order their signatures appear, each once.

    Raises:
        CheckpointInvalid: the note is malformed (not UTF-8, a control character,
            no blank line before the signatures, a line that is not a signature
            line, bad base64, more than MAX_SIGNATURES signatures); a signature by
            a known key does not verify; two different trusted keys share a name
            and key id; or no known key signed the note.
    """
    text = _decode_note(note)
    _note_bytes(text)
    split = text.rfind("\n\n")
    if split < 0:
        raise _malformed("no blank line before the signatures")
    body, block = text[: split + 1], text[split + 2 :]
    if not block:
        raise _malformed("no signature lines after the last blank line")
    if not block.endswith("\n"):
        raise _malformed("the signature block does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise _malformed(f"more than {MAX_SIGNATURES} signatures")
    known: dict[tuple[str, int], set[Verifier]] = {}
    for verifier in verifiers:
        known.setdefault((verifier.key_name, verifier.key_id), set()).add(verifier)
    signed_body = body.encode("utf-8")
    names: list[str] = []
    for line in lines:
        name, key_id, signature = _parse_signature_line(line)
        candidates = known.get((name, key_id))
        if candidates is None:
            continue  # an unknown key, or a known name with another id: ignore it
        if len(candidates) > 1:
            raise CheckpointInvalid(f"ambiguous key {name}+{key_id:08x}: two trusted keys")
        (verifier,) = candidates
        if not verifier.verify(signed_body, signature):
            raise CheckpointInvalid(
                f"invalid signature for key {name}+{key_id:08x}",
                suggestion="the note was altered after signing, or signed by another key",
            )
        if name not in names:
            names.append(name)
    if not names:
        raise CheckpointInvalid(
            "note has no signature by a trusted key",
            suggestion="check that the verifier key is the one that signed this note",
        )
    return body, names


def _parse_signature_line(line: str) -> tuple[str, int, bytes]:
    if not line.startswith(_SIG_PREFIX):
        raise _malformed("a line after the blank line is not a signature line")
    name, _, encoded = line[len(_SIG_PREFIX) :].partition(" ")
    if not _is_key_name(name):
        raise _malformed(f"bad key name in signature line: {name!r}")
    raw = _b64decode(encoded)
    if raw is None or len(raw) < 5:
        raise _malformed(f"bad signature encoding for key {name}")
    return name, int.from_bytes(raw[:4], "big"), raw[4:]


def _decode_key_parts(name: str, hex_id: str, encoded: str) -> tuple[str, int, bytes]:
    """Check a key string's name, hex id and ``0x01 || key`` part; return the raw key."""
    raw = _b64decode(encoded)
    if not _is_key_name(name) or not _HEX_ID.fullmatch(hex_id) or raw is None:
        raise CheckpointInvalid("malformed key string", field="key")
    if raw[:1] != _ALG_ED25519 or len(raw) != 1 + _ED25519_KEY_SIZE:
        raise CheckpointInvalid("key string is not a 32-byte Ed25519 key (type 0x01)", field="key")
    return name, int(hex_id, 16), raw[1:]


def _key_id(key_name: str, public_key: bytes) -> int:
    # c2sp.org/signed-note, "Ed25519 signatures": SHA-256(name || 0x0A || 0x01 || key)[:4]
    digest = hashlib.sha256(key_name.encode("utf-8") + b"\n" + _ALG_ED25519 + public_key)
    return int.from_bytes(digest.digest()[:4], "big")


def _is_key_name(name: str) -> bool:
    # Lone surrogates are refused too: a name must encode as UTF-8 for the key id.
    return bool(name) and not any(
        ch == "+" or ch.isspace() or ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF for ch in name
    )


def _check_key_name(name: str) -> None:
    if not _is_key_name(name):
        raise CheckpointInvalid(
            f"bad key name {name!r}: it must be non-empty, without spaces or '+'",
            field="key_name",
        )


def _decode_note(note: str | bytes) -> str:
    if isinstance(note, str):
        return note
    try:
        return note.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed("not valid UTF-8") from None


def _note_bytes(text: str) -> bytes:
    """UTF-8 bytes of a note or body, which may hold no control character but newline."""
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise _malformed("a control character other than newline")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise _malformed("not valid UTF-8 (a lone surrogate)") from None


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _b64decode(text: str) -> bytes | None:
    """Decode standard padded base64, or None unless ``text`` is its canonical encoding."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    # One value, one spelling: reject non-zero pad bits and other variants.
    return raw if raw and _b64encode(raw) == text else None


def _malformed(reason: str) -> CheckpointInvalid:
    return CheckpointInvalid(f"malformed note: {reason}")
