"""Runs the pure projections inside a store transaction (service layer).

Documents an append needs are fetched once per batch and kept in memory while
the batch is sealed, so a batch may register a version and promote it; the
changed documents, status intervals, lineage edges and the tracking position
are written back in the same transaction as the events.

A :class:`DocCache` keeps the parsed documents of committed transactions for
the next one, valid only while the stored tracking position is the one it was
filled at: another writer's projected appends move the position and empty it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import orjson

from ledger import policy
from ledger.events import Event
from ledger.projections.base import Doc, DraftView, EventView
from ledger.projections.registry import keys_for, project
from ledger.projections.rules import Policy, Violation

__all__ = ["BatchProjector", "DocCache", "ProjectionTransaction", "event_view"]


class ProjectionTransaction(Protocol):
    """The part of a write transaction projections use."""

    def get_docs(self, keys: Sequence[str]) -> dict[str, bytes]: ...

    def write_projection(
        self,
        docs: Sequence[tuple[str, bytes, int]],
        intervals: Sequence[tuple[str, str, str, str, float, str | None, int, str]],
        edges: Sequence[tuple[str, str, str, int, str]],
        position: int,
        history: Sequence[tuple[str, int]] = (),
    ) -> None: ...


def event_view(event: Event, data: object | None = None) -> EventView:
    """The plain-dict view projections take; ``data`` saves a parse when the caller has it."""
    if data is None:
        data = orjson.loads(event.body)["data"]
    assert isinstance(data, dict)
    return {
        "seq": event.seq,
        "id": event.id,
        "type": event.type,
        "subject": event.subject,
        "actor": event.actor,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "data": data,
        "hash": event.hash,
    }


@dataclass(frozen=True, slots=True)
class _Snapshot:
    journal: int
    intervals: int
    edges: int
    history: int
    position: int | None


class BatchProjector:
    """Projects a batch of events onto the stored documents, then writes the effects once."""

    def __init__(
        self, tx: ProjectionTransaction, known: Mapping[str, Doc | None] = {}, start: int = 0
    ) -> None:
        self._tx = tx
        self._known = known  # parsed documents valid at the stored position (DocCache.valid_at)
        self.start = start  # the stored tracking position this projector began from
        self._docs: dict[str, Doc | None] = {}
        self._changed: dict[str, int] = {}
        self._intervals: list[tuple[str, str, str, str, float, str | None, int, str]] = []
        self._edges: list[tuple[str, str, str, int, str]] = []
        self._history: list[tuple[str, int]] = []
        # What each document write replaced (key, old doc, old changed-seq), so a
        # refused request is undone by replaying its writes backwards instead of
        # copying every document per request.
        self._journal: list[tuple[str, Doc | None, int | None]] = []
        self.position: int | None = None

    def _fetch(self, keys: Iterable[str]) -> Mapping[str, Doc | None]:
        wanted = list(dict.fromkeys(keys))
        missing = [k for k in wanted if k not in self._docs]
        if missing and self._known:
            known, missing = missing, []
            for key in known:
                if key in self._known:
                    self._docs[key] = self._known[key]
                else:
                    missing.append(key)
        if missing:
            raw = self._tx.get_docs(missing)
            for key in missing:
                blob = raw.get(key)
                self._docs[key] = None if blob is None else orjson.loads(blob)
        return {k: self._docs[k] for k in wanted}

    def prefetch(self, keys: Iterable[str]) -> None:
        """Fetch every document a batch may need in one read (keys_for needs only the draft)."""
        self._fetch(keys)

    def check(self, draft: DraftView, now: str) -> tuple[Policy | None, list[Violation]]:
        """Evaluate the rollout policy for a draft against the state so far in this batch."""
        return policy.check(draft, self._fetch(policy.policy_keys_for(draft)), now)

    def apply(self, view: EventView) -> None:
        """Project one sealed event (in seq order)."""
        effects = project(view, self._fetch(keys_for(view)))
        for key, doc in effects.docs.items():
            self._journal.append((key, self._docs.get(key), self._changed.get(key)))
            self._docs[key] = doc
            self._changed[key] = view["seq"]
            self._history.append((key, view["seq"]))
        self._history += [(key, view["seq"]) for key in effects.touched]
        self._intervals += [
            (i.model, i.version, i.environment, i.status, i.exposure, i.strategy, i.seq, i.time)
            for i in effects.intervals
        ]
        self._edges += [(e.source, e.target, e.relation, e.seq, e.time) for e in effects.edges]
        self.position = view["seq"]

    def snapshot(self) -> object:
        """The in-memory state, to undo the effects of a refused request (see restore)."""
        return _Snapshot(
            len(self._journal),
            len(self._intervals),
            len(self._edges),
            len(self._history),
            self.position,
        )

    def restore(self, snapshot: object) -> None:
        """Return to a snapshot taken before the request; nothing was written since."""
        assert isinstance(snapshot, _Snapshot)
        # Documents merely fetched since the snapshot stay: they are the store's truth.
        while len(self._journal) > snapshot.journal:
            key, doc, changed = self._journal.pop()
            self._docs[key] = doc
            if changed is None:
                del self._changed[key]
            else:
                self._changed[key] = changed
        self.position = snapshot.position
        del self._intervals[snapshot.intervals :]
        del self._edges[snapshot.edges :]
        del self._history[snapshot.history :]

    def flush(self) -> None:
        """Write the changed documents, intervals, edges and the tracking position."""
        if self.position is None:
            return
        docs = []
        for key, seq in self._changed.items():
            doc = self._docs[key]
            assert doc is not None
            docs.append((key, orjson.dumps(doc), seq))
        self._tx.write_projection(docs, self._intervals, self._edges, self.position, self._history)
        self._changed.clear()
        self._journal.clear()
        self._intervals.clear()
        self._edges.clear()
        self._history.clear()


class DocCache:
    """Parsed documents as of a tracking position, kept across write transactions.

    A transaction may use them only while the stored position equals
    :attr:`position` (:meth:`valid_at`); after it commits, :meth:`keep`
    takes the documents its projector read or wrote, which then describe the
    new position. Documents are never changed in place, so they are shared,
    not copied. At most ``limit`` documents are kept, the least recently
    kept dropped first (a parsed version or model document is ~17 KB in
    memory for ~5 KB of JSON, so the default bounds it near 170 MB).
    """

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._docs: dict[str, Doc | None] = {}
        self._lock = threading.Lock()
        self.position: int | None = None

    def valid_at(self, position: int) -> Mapping[str, Doc | None]:
        """The documents, if they describe ``position``; else nothing (and they are dropped)."""
        with self._lock:
            if self.position == position:
                return self._docs
            self._docs, self.position = {}, None
            return {}

    def keep(self, projector: BatchProjector) -> None:
        """After a commit: the documents ``projector`` read or wrote are now the stored ones."""
        start = projector.start
        end = start if projector.position is None else projector.position
        with self._lock:
            if self.position != start:
                self._docs = {}
            docs = self._docs
            for key, doc in projector._docs.items():
                docs.pop(key, None)  # re-inserted last: the most recently used
                docs[key] = doc
            if len(docs) > self._limit:
                for key in list(docs)[: len(docs) - self._limit // 2]:
                    del docs[key]
            self.position = end

    def clear(self) -> None:
        """Forget everything (a rebuild replaced the documents)."""
        with self._lock:
            self._docs, self.position = {}, None
