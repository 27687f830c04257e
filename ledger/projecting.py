"""Runs the pure projections inside a store transaction (service layer).

Documents an append needs are fetched once per batch and kept in memory while
the batch is sealed, so a batch may register a version and promote it; the
changed documents, status intervals, lineage edges and the tracking position
are written back in the same transaction as the events.

A :class:`DocCache` keeps the parsed documents of committed transactions for
the next one, valid only while the stored tracking position is the one it was
filled at: another writer's projected appends move the position and empty it.

Test results are not documents (``keys.TESTS_PREFIX``): the stores read a
version's latest results from its events (``projections.test_results``), and
the projector answers ``tests:<version>`` from those overlaid with the
results of its own batch, whose events are not stored yet, so a batch may
record tests and promote. They are read only when a policy check judges a
gated draft (a promote, or a stage change raising exposure), not in the batch
prefetch; the results a transaction read, with its own merged in at flush,
are the stored ones at the new position and enter the :class:`DocCache` under
the ``tests:`` key with the same invalidation as the documents.

The :class:`DocCache` also keeps the cyclic garbage collector from walking the
long-lived parsed documents over and over (full collections cost ~15% of the
projecting time): at most every ``DocCache.FREEZE_EVERY_S`` seconds, after a
commit, it collects what is not frozen yet (only what was allocated since the
last freeze: the cache is frozen) and moves the survivors into the permanent
generation (``gc.freeze``, as ``ledger.lineage_cache`` does after a bulk load).
Freezing after *every* commit without collecting first froze each request's
uncollected cyclic garbage too: a server taking ~400 requests a second kept
~90 MB more per 10 s until the next full collection. What is frozen while
alive and dies later (objects of requests in flight) is reclaimed at most
every ``DocCache.COLLECT_EVERY_S`` seconds, when it hands everything back,
runs one full collection and freezes the survivors again.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import orjson

from ledger import policy
from ledger.events import Event
from ledger.projections._json import dict_list, get_int
from ledger.projections.base import Doc, DraftView, EventView
from ledger.projections.keys import (
    TESTS_PREFIX,
    in_history_by_subject,
    test_slot,
    tests_version,
)
from ledger.projections.registry import keys_for, project
from ledger.projections.rules import Policy, Violation
from ledger.projections.subjects import misfit

__all__ = ["BatchProjector", "DocCache", "ProjectionTransaction", "event_view"]


class ProjectionTransaction(Protocol):
    """The part of a write transaction projections use."""

    def get_docs(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Documents by key; a ``tests:<version>`` key gives that version's test rows as one."""
        ...

    def write_projection(
        self,
        docs: Sequence[tuple[str, bytes, int]],
        intervals: Sequence[tuple[str, str, str, str, float, str | None, int, str]],
        edges: Sequence[tuple[str, str, str, int, str]],
        position: int,
        history: Sequence[tuple[str, int]] = (),
    ) -> None:
        """Documents (not test results: the stores read those from the events)."""
        ...


_Slot = tuple[str, str, str]
_MISSING: object = object()


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
    tests: int
    position: int | None


class BatchProjector:
    """Projects a batch of events onto the stored documents, then writes the effects once."""

    def __init__(
        self,
        tx: ProjectionTransaction,
        known: Mapping[str, Doc | None] = {},
        start: int = 0,
        epoch: str | None = None,
    ) -> None:
        self._tx = tx
        self._known = known  # parsed documents valid at the stored position (DocCache.valid_at)
        self.start = start  # the stored tracking position this projector began from
        self.epoch = epoch  # the stored projection epoch (meta projection_epoch), see DocCache
        self._docs: dict[str, Doc | None] = {}
        self._changed: dict[str, int] = {}
        self._intervals: list[tuple[str, str, str, str, float, str | None, int, str]] = []
        self._edges: list[tuple[str, str, str, int, str]] = []
        self._history: list[tuple[str, int]] = []
        # What each document write replaced (key, old doc, old changed-seq), so a
        # refused request is undone by replaying its writes backwards instead of
        # copying every document per request.
        self._journal: list[tuple[str, Doc | None, int | None]] = []
        # Test rows: those stored (per version, fetched when a check asks), those
        # this batch wrote and not yet flushed, and what each write replaced.
        self._stored_tests: dict[str, dict[_Slot, Doc]] = {}
        self._tests: dict[str, dict[_Slot, tuple[int, Doc]]] = {}
        self._tests_journal: list[tuple[str, _Slot, tuple[int, Doc] | None]] = []
        self.position: int | None = None
        # The store answers the subject's own history of most event types from
        # the events by subject (keys.HISTORY_BY_SUBJECT_TYPES): those rows are skipped.
        self._by_subject = bool(getattr(tx, "history_by_subject", False))

    def _fetch(self, keys: Iterable[str]) -> Mapping[str, Doc | None]:
        wanted = list(dict.fromkeys(keys))
        missing = [k for k in wanted if k not in self._docs and k not in self._stored_tests]
        if missing and self._known:
            known, missing = missing, []
            for key in known:
                # One lookup: another thread's DocCache.keep may re-insert a key
                # between a membership test and a read (same document, no harm).
                cached = self._known.get(key, _MISSING)
                if cached is _MISSING:
                    missing.append(key)
                elif key.startswith(TESTS_PREFIX):
                    # DocCache.keep stores a version's slot -> row dict there.
                    self._stored_tests[key] = cached  # type: ignore[assignment]
                else:
                    self._docs[key] = cached  # type: ignore[assignment]
        if missing:
            raw = self._tx.get_docs(missing)
            for key in missing:
                blob = raw.get(key)
                doc = None if blob is None else orjson.loads(blob)
                version = tests_version(key)
                if version is None:
                    self._docs[key] = doc
                else:
                    rows = dict_list(None if doc is None else doc.get("tests"))
                    self._stored_tests[key] = {test_slot(t): t for t in rows}
        return {k: self._tests_doc(k) if k in self._stored_tests else self._docs[k] for k in wanted}

    def _tests_doc(self, key: str) -> Doc | None:
        """``tests:<version>``: the stored rows with this batch's writes over them, by seq."""
        version = tests_version(key)
        assert version is not None
        rows = dict(self._stored_tests[key])
        rows.update((slot, entry) for slot, (_seq, entry) in self._tests.get(version, {}).items())
        if not rows:
            return None
        ordered = sorted(rows.values(), key=lambda t: get_int(t, "seq") or 0)
        return {"ref": version, "tests": ordered}

    def prefetch(self, keys: Iterable[str]) -> None:
        """Fetch every document a batch may need in one read (keys_for needs only the draft).

        Test rows (``tests:`` keys) are left for :meth:`check` to read, and only
        for drafts it finds gated: most decisions and stage changes are not.
        """
        self._fetch(k for k in keys if not k.startswith(TESTS_PREFIX))

    def check(self, draft: DraftView, now: str) -> tuple[Policy | None, list[Violation]]:
        """Evaluate the rollout policy for a draft against the state so far in this batch.

        Raises:
            InvalidEvent: a registry type on a subject of another kind
                (``field="subject"``, ``ledger.projections.subjects``): the
                registry could not project it, so it is refused, not recorded.
        """
        refused = misfit(draft["type"], draft["subject"])
        if refused is not None:
            raise refused
        keys = policy.policy_keys_for(draft)
        if not keys:  # never gated (policy.check would say the same, after building a state)
            return None, []
        # Whether the draft is gated depends on the model document only, never on
        # the test rows, so they are read only when it is (policy.check then judges
        # with every key of policy_keys_for, exactly as the API's gate does).
        docs = self._fetch(k for k in keys if not k.startswith(TESTS_PREFIX))
        if not policy.is_gated(draft, policy.state_for(draft, docs)):
            return None, []
        return policy.check(draft, self._fetch(keys), now)

    def apply(self, view: EventView) -> None:
        """Project one sealed event (in seq order)."""
        effects = project(view, self._fetch(keys_for(view)))
        seq = view["seq"]
        # The subject's own row is left out when the store answers it by subject.
        skip = (
            view["subject"]
            if self._by_subject and in_history_by_subject(view["type"], view["subject"])
            else None
        )
        for key, doc in effects.docs.items():
            self._journal.append((key, self._docs.get(key), self._changed.get(key)))
            self._docs[key] = doc
            self._changed[key] = seq
            if key != skip:
                self._history.append((key, seq))
        self._history += [(key, seq) for key in effects.touched if key != skip]
        self._intervals += [
            (i.model, i.version, i.environment, i.status, i.exposure, i.strategy, i.seq, i.time)
            for i in effects.intervals
        ]
        self._edges += [(e.source, e.target, e.relation, e.seq, e.time) for e in effects.edges]
        for row in effects.tests:
            rows = self._tests.setdefault(row.version, {})
            self._tests_journal.append((row.version, row.slot, rows.get(row.slot)))
            rows[row.slot] = (row.seq, row.entry)
        self.position = view["seq"]

    def snapshot(self) -> object:
        """The in-memory state, to undo the effects of a refused request (see restore)."""
        return _Snapshot(
            len(self._journal),
            len(self._intervals),
            len(self._edges),
            len(self._history),
            len(self._tests_journal),
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
        while len(self._tests_journal) > snapshot.tests:
            version, slot, old = self._tests_journal.pop()
            if old is None:
                del self._tests[version][slot]
            else:
                self._tests[version][slot] = old
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
        # Test results are not written: once this batch's events are stored,
        # the stores read them from the events (projections.test_results).
        self._tx.write_projection(docs, self._intervals, self._edges, self.position, self._history)
        # Stored results this transaction read (or had from the DocCache), with
        # its own merged: the results as read at the new position. A version
        # whose results it neither read nor had stays unknown; one it had must
        # be merged, or the cache would keep the results from before these.
        for version, written in self._tests.items():
            key = TESTS_PREFIX + version
            stored = self._stored_tests.get(key)
            if stored is None:
                stored = self._known.get(key)  # type: ignore[assignment]
            if stored is not None:
                merged = dict(stored)
                merged.update((slot, entry) for slot, (_seq, entry) in written.items())
                self._stored_tests[key] = merged
        self._changed.clear()
        self._journal.clear()
        self._intervals.clear()
        self._edges.clear()
        self._history.clear()
        self._tests.clear()
        self._tests_journal.clear()


class DocCache:
    """Parsed documents as of a tracking position, kept across write transactions.

    A transaction may use them only while the stored position equals
    :attr:`position` (:meth:`valid_at`); after it commits, :meth:`keep`
    takes the documents its projector read or wrote, which then describe the
    new position. Documents are never changed in place, so they are shared,
    not copied. At most ``limit`` documents are kept, the least recently
    kept dropped first (a parsed version or model document is ~17 KB in
    memory for ~5 KB of JSON, so the default bounds it near 170 MB).

    A version's stored test rows are kept too, under its ``tests:`` key, as a
    slot -> row dict (only rows a transaction read in full, see ``flush``).

    With ``freeze`` (the default), a :meth:`keep` at least ``freeze_every_s``
    after the last freeze collects the objects not yet frozen (garbage must
    not be frozen with the cache) and moves the survivors into the permanent
    generation (``gc.freeze``), so full collections stop walking the cache.
    Objects alive then that die later (a request in flight) stay frozen, so
    at most every ``collect_every_s`` seconds :meth:`keep` unfreezes, runs a
    full collection and freezes the survivors. (Objects frozen elsewhere, such
    as a lineage graph, are frozen again by the same call.) The documents
    themselves hold no cycles: dropped from the cache they are freed at once,
    frozen or not.
    """

    COLLECT_EVERY_S = 300.0
    """Longest time between two full collections of what :meth:`keep` froze."""

    FREEZE_EVERY_S = 1.0
    """Shortest time between two freezes (each costs a collection of the unfrozen objects)."""

    def __init__(
        self,
        limit: int = 10_000,
        *,
        freeze: bool = True,
        collect_every_s: float = COLLECT_EVERY_S,
        freeze_every_s: float = FREEZE_EVERY_S,
    ) -> None:
        self._limit = limit
        self._docs: dict[str, Doc | None] = {}
        self._lock = threading.Lock()
        self._freeze = freeze
        self._collect_every_s = collect_every_s
        self._freeze_every_s = freeze_every_s
        self._collected = time.monotonic()
        self._frozen = -float("inf")
        self._epoch: str | None = None
        self.position: int | None = None

    def valid_at(self, position: int, epoch: str | None = None) -> Mapping[str, Doc | None]:
        """The documents, if they describe ``position``; else nothing (and they are dropped).

        ``epoch`` is the stored ``projection_epoch`` when the caller reads it:
        a rebuild ends at the position it began from (the head), so only a
        value that every ``reset_projections`` changes tells its documents
        from the ones cached before it.
        """
        with self._lock:
            if self.position == position and self._epoch == epoch:
                return self._docs
            self._docs, self.position = {}, None
            return {}

    def keep(self, projector: BatchProjector) -> None:
        """After a commit: the documents ``projector`` read or wrote are now the stored ones."""
        start = projector.start
        end = start if projector.position is None else projector.position
        with self._lock:
            if self.position != start or self._epoch != projector.epoch:
                self._docs = {}
            self._epoch = projector.epoch
            docs = self._docs
            for key, doc in projector._docs.items():
                docs.pop(key, None)  # re-inserted last: the most recently used
                docs[key] = doc
            for key, rows in projector._stored_tests.items():
                docs.pop(key, None)
                docs[key] = rows  # type: ignore[assignment]  # see the class docstring
            if len(docs) > self._limit:
                for key in list(docs)[: len(docs) - self._limit // 2]:
                    del docs[key]
            self.position = end
        if self._freeze:
            self._freeze_survivors()

    def _freeze_survivors(self) -> None:
        """Freeze what survives a collection, at most every ``freeze_every_s`` (class docstring)."""
        now = time.monotonic()
        if now - self._collected >= self._collect_every_s:
            self._collected = self._frozen = now
            gc.unfreeze()
        elif now - self._frozen >= self._freeze_every_s:
            self._frozen = now
        else:
            return
        gc.collect()  # frozen objects are not walked: this costs what came since the last freeze
        gc.freeze()

    def clear(self) -> None:
        """Forget everything (a rebuild replaced the documents)."""
        with self._lock:
            self._docs, self.position = {}, None
