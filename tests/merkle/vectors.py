"""The known-answer vectors of ``data/rfc6962-vectors.json``, loaded once.

The file's header says where each set comes from: transparency-dev/merkle
(the eight standard leaves, their roots and proofs), a full set of proofs for
sizes up to 8 derived from them, and C2SP CCTV (sixteen one-letter leaves,
valid and invalid proofs). Leaf indices are 0-based.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["CCTV", "CCTV_LEAVES", "LEAVES", "VECTORS"]

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "rfc6962-vectors.json").read_text(encoding="utf-8")
)

#: The eight standard leaf entries (RFC 6962 test data, transparency-dev/merkle).
LEAVES: list[bytes] = [bytes.fromhex(x) for x in VECTORS["leaves_hex"]]

#: The CCTV set: leaf i is the single ASCII letter at position i of "a".."p".
CCTV: dict[str, Any] = VECTORS["cctv_secondary"]
CCTV_LEAVES: list[bytes] = [bytes([c]) for c in b"abcdefghijklmnop"]
