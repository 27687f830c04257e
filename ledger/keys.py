"""The signing key on disk (an adapter: it reads and writes files).

The private key is one line, Go's signed-note private key string, in
``<key dir>/signing.key``; the directory is 0700 and the file 0600 so only
the ledger's owner can read it. The verifier key is public and also kept in
the store's meta table, so verification never needs the private key.
"""

from __future__ import annotations

import os
from pathlib import Path

from ledger.errors import NotFound
from ledger.note import Signer, generate_signer

__all__ = ["KEY_FILE", "create_signer", "default_key_dir", "load_signer"]

KEY_FILE = "signing.key"


def default_key_dir(db: str) -> Path:
    """Beside the SQLite file (``ledger.db`` -> ``ledger.keys/``); ``./ledger.keys`` otherwise."""
    if db.startswith(("postgresql://", "postgres://")) or db.startswith("sqlite://"):
        return Path("ledger.keys")
    path = Path(db)
    return path.with_name(path.stem + ".keys")


def create_signer(key_dir: Path, key_name: str) -> Signer:
    """Make a new Ed25519 key in ``key_dir`` unless one is there; return the signer.

    An existing key is never overwritten: checkpoints already signed with it
    must stay verifiable.
    """
    existing = load_signer(key_dir, required=False)
    if existing is not None:
        return existing
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(key_dir, 0o700)
    signer = generate_signer(key_name)
    path = key_dir / KEY_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(signer.private_key_string() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return signer


def load_signer(key_dir: Path, *, required: bool = True) -> Signer | None:
    """Read the signing key, or None (or NotFound when ``required``) if there is none."""
    path = key_dir / KEY_FILE
    if not path.exists():
        if required:
            raise NotFound(f"no signing key in {key_dir}; run `rollout-ledger init`")
        return None
    return Signer.from_private_key_string(path.read_text())
