"""Proof values as the ledger hands them out (CLI, HTTP, GraphQL, receipts).

Pure data plus their JSON shapes; building them needs the store (service),
checking them needs only ``ledger.merkle.verify``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import ProofInvalid
from ledger.merkle import verify_consistency, verify_inclusion

__all__ = ["ConsistencyProof", "InclusionProof"]


def _hexes(values: object, field: str) -> list[bytes]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ProofInvalid(f"{field}: expected a list of hex strings")
    try:
        return [bytes.fromhex(v) for v in values]
    except ValueError:
        raise ProofInvalid(f"{field}: not lowercase hex") from None


def _int(obj: dict[str, object], field: str) -> int:
    value = obj.get(field)
    if type(value) is not int or value < 0:
        raise ProofInvalid(f"{field}: expected a non-negative integer")
    return value


def _hash(obj: dict[str, object], field: str) -> bytes:
    (value,) = _hexes([obj.get(field)], field) if isinstance(obj.get(field), str) else [b""]
    if len(value) != 32:
        raise ProofInvalid(f"{field}: expected a 64-digit hex SHA-256")
    return value


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """RFC 9162 2.1.3 inclusion of event ``seq`` (leaf ``seq - 1``) in a tree of ``tree_size``."""

    seq: int
    tree_size: int
    leaf_hash: bytes
    root_hash: bytes
    path: tuple[bytes, ...]

    @property
    def leaf_index(self) -> int:
        return self.seq - 1

    def to_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_hash": self.leaf_hash.hex(),
            "root_hash": self.root_hash.hex(),
            "proof": [h.hex() for h in self.path],
        }

    @classmethod
    def from_json(cls, obj: dict[str, object]) -> InclusionProof:
        """Parse the JSON shape; raises ProofInvalid naming the bad field."""
        seq = _int(obj, "seq")
        if "leaf_index" in obj and obj["leaf_index"] != seq - 1:
            raise ProofInvalid("leaf_index: must be seq - 1")
        return cls(
            seq,
            _int(obj, "tree_size"),
            _hash(obj, "leaf_hash"),
            _hash(obj, "root_hash"),
            tuple(_hexes(obj.get("proof"), "proof")),
        )

    def verify(self) -> None:
        """Check the path leads from the leaf to ``root_hash`` (ProofInvalid if not)."""
        verify_inclusion(self.leaf_hash, self.leaf_index, self.tree_size, self.path, self.root_hash)


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """RFC 9162 2.1.4 proof that the tree of size ``first`` is a prefix of ``second``."""

    first: int
    second: int
    first_root: bytes
    second_root: bytes
    path: tuple[bytes, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "first": self.first,
            "second": self.second,
            "first_root": self.first_root.hex(),
            "second_root": self.second_root.hex(),
            "proof": [h.hex() for h in self.path],
        }

    @classmethod
    def from_json(cls, obj: dict[str, object]) -> ConsistencyProof:
        """Parse the JSON shape; raises ProofInvalid naming the bad field."""
        return cls(
            _int(obj, "first"),
            _int(obj, "second"),
            _hash(obj, "first_root"),
            _hash(obj, "second_root"),
            tuple(_hexes(obj.get("proof"), "proof")),
        )

    def verify(self) -> None:
        """Check the proof links the two roots (ProofInvalid if not)."""
        verify_consistency(self.first, self.second, self.path, self.first_root, self.second_root)
