"""The store protocol: no larger than the service needs.

Backends see canonical bytes plus a few indexed columns (``Event``), never
domain objects, and translate their driver's exceptions into ``StoreError``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from ledger.errors import StoreError
from ledger.events import Event

__all__ = [
    "EventStore",
    "Head",
    "IdsTaken",
    "NodeId",
    "StoreError",
    "StoredCheckpoint",
    "TokenRecord",
    "WriteTransaction",
]


class IdsTaken(StoreError):
    """An id the caller had declared new (``assume_new`` on a store's transaction) is stored.

    The transaction is rolled back and nothing was written: redo the append
    with ``events_by_id``, which tells identical retries from conflicts.
    """


NodeId = tuple[int, int]
"""A perfect Merkle subtree: (level, index); level 0 is a leaf."""


@dataclass(frozen=True, slots=True)
class Head:
    """The last event of the chain: its seq (0 when empty) and hash."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A signed checkpoint kept by the store, so old tree sizes stay provable."""

    size: int
    root_hash: bytes
    note: str
    created_at: str


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An API token as stored: only the SHA-256 of the secret, never the secret."""

    name: str
    role: str
    token_hash: str
    created_at: str
    revoked_at: str | None = None


class WriteTransaction(Protocol):
    """One serialized write: every call sees the state no other writer can change."""

    def head(self) -> Head: ...

    def events_by_id(self, ids: Sequence[str]) -> dict[str, Event]: ...

    def assume_new(self, ids: Sequence[str]) -> bool:
        """Take ``ids`` as not stored, skipping ``events_by_id``'s lookup, if the store can.

        True: the store's unique index checks them at the write, where a stored
        one raises :class:`IdsTaken` (nothing written). False: the store does
        not take the promise; look the ids up.
        """
        ...

    def insert_events(self, events: Sequence[Event]) -> None: ...

    def merkle_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]: ...

    def insert_merkle_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None: ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def reset_projections(self) -> None:
        """Empty every projection table and set the tracking position to 0."""
        ...

    def get_docs(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Projection documents (JSON bytes) by key; absent keys are left out.

        ``tests:<version>`` (``ledger.projections.keys.tests_key``) answers that
        version's latest test results as one document, ``{"ref", "tests": [...]}``,
        read from the version's ``test.result.recorded`` events up to the
        projection position (``ledger.projections.test_results``).
        """
        ...

    def write_projection(
        self,
        docs: Sequence[tuple[str, bytes, int]],
        intervals: Sequence[tuple[str, str, str, str, float, str | None, int, str]],
        edges: Sequence[tuple[str, str, str, int, str]],
        position: int,
        history: Sequence[tuple[str, int]] = (),
    ) -> None:
        """Upsert documents, open status intervals (closing the previous one of the same
        model/version/environment), add edges (first wins), record which events changed
        which documents (``history``: key, seq) and set the tracking position."""
        ...


class EventStore(Protocol):
    """What the service needs from a backend."""

    url: str

    def transaction(self) -> AbstractContextManager[WriteTransaction]:
        """Begin a serialized write; commit durably on normal exit, roll back on error."""
        ...

    def head(self) -> Head: ...

    def read(self, start: int = 1, end: int | None = None) -> Iterator[Event]:
        """Events with start <= seq <= end in seq order, streamed in constant memory."""
        ...

    def get(self, seq: int) -> Event | None: ...

    def get_by_id(self, id: str) -> Event | None: ...

    def merkle_nodes(self, ids: Sequence[NodeId]) -> dict[NodeId, bytes]: ...

    def merkle_node_page(self, level: int, start_idx: int, limit: int) -> list[tuple[int, bytes]]:
        """Stored nodes (level >= 1) of one level with idx >= start_idx, in idx order."""
        ...

    def merkle_node_count(self) -> int: ...

    def reset_merkle(self, nodes: Iterator[Sequence[tuple[int, int, bytes]]]) -> None:
        """Replace every stored Merkle node (``rebuild``); the only allowed rewrite."""
        ...

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None: ...

    def latest_checkpoint(self) -> StoredCheckpoint | None: ...

    def checkpoints(self) -> list[StoredCheckpoint]: ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def add_token(self, token: TokenRecord) -> None:
        """Store a new token; StoreError if the name is taken."""
        ...

    def token_by_hash(self, token_hash: str) -> TokenRecord | None: ...

    def tokens(self) -> list[TokenRecord]: ...

    def revoke_token(self, name: str, revoked_at: str) -> bool:
        """Mark a token revoked; False if no live token has that name."""
        ...

    def close(self) -> None: ...
