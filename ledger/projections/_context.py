"""The working state of projecting one event: documents read, written, and effects.

Documents handed in are never mutated. :meth:`Context.write` returns a
shallow copy owned by the context, so handlers may set its top-level keys;
nested lists and dicts are shared with the input and must be *replaced*, not
changed in place (``doc["tests"] = [*old, entry]``). Documents keep no
history list (it would make every write cost the document's age); which
events changed a document is the set of events whose Effects name it, and
the store keeps that as rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ledger.projections._json import as_dict, dict_list, get_num, get_str
from ledger.projections.base import Doc, Edge, Effects, EventView, StatusInterval, TestRow
from ledger.projections.keys import test_slot

__all__ = ["Context"]


class Context:
    """One event's projection in progress; see the module docstring for the rules."""

    def __init__(self, event: EventView, docs: Mapping[str, Doc | None]) -> None:
        self.event = event
        self.data: dict[str, object] = as_dict(event["data"])
        self.seq = event["seq"]
        self.time = event["recorded_at"]
        self._docs = docs
        self._written: dict[str, Doc] = {}
        self._touched: list[str] = []
        self._intervals: list[StatusInterval] = []
        self._tests: list[TestRow] = []

    def get(self, key: str) -> Doc | None:
        """The document as this event has left it so far (None if it does not exist)."""
        return self._written.get(key, self._docs.get(key))

    def write(self, key: str, fresh: Callable[[], Doc], *, history: bool = True) -> Doc:
        """The document under ``key``, ready to change; ``fresh()`` makes it when absent.

        ``history`` is kept for callers' intent only: the store records every
        written key against the event (see the module docstring).
        """
        doc = self._written.get(key)
        if doc is None:
            old = self._docs.get(key)
            doc = fresh() if old is None else dict(old)
            self._written[key] = doc
        return doc

    def touch(self, key: str) -> None:
        """Record this event in the history of ``key`` without reading or changing the document.

        For facts that only *name* a document (an alert on a version): the
        document need not be fetched, copied and rewritten to get the row.
        """
        if key not in self._touched:
            self._touched.append(key)

    def record_test(self, version: str, entry: Doc) -> None:
        """Make ``entry`` the latest test result of ``version`` (a key) in its slot.

        A row of its own, not a rewrite of the version document (see
        :data:`ledger.projections.keys.TESTS_PREFIX`).
        """
        self._tests.append(TestRow(version, test_slot(entry), self.seq, entry))

    def entry(self, **fields: object) -> dict[str, object]:
        """A list entry stamped with this event's seq, hash and time."""
        return {"seq": self.seq, "hash": self.event["hash"], "time": self.time, **fields}

    def set_status(
        self,
        model_doc: Doc,
        version: str,
        environment: str,
        status: str,
        exposure: float,
        strategy: str | None,
    ) -> None:
        """Give (version, environment) a status in ``model_doc``; emit an interval if it changed."""
        versions = dict_list(model_doc.get("versions"))
        # One pass: stage changes at 100% call this for every version of the model.
        index = next((i for i, e in enumerate(versions) if e.get("version") == version), None)
        entry = new_version_entry(version) if index is None else versions[index]
        statuses = as_dict(entry.get("status"))
        old = statuses.get(environment)
        if isinstance(old, dict) and (
            get_str(old, "status") == status
            and get_num(old, "exposure") == exposure
            and get_str(old, "strategy") == strategy
        ):
            return
        now: dict[str, object] = {
            "status": status,
            "exposure": exposure,
            "strategy": strategy,
            "seq": self.seq,
            "time": self.time,
        }
        changed = {**entry, "status": {**statuses, environment: now}}
        if index is None:
            versions.append(changed)  # dict_list made a new list: the document's is untouched
        else:
            versions[index] = changed
        model_doc["versions"] = versions
        model = get_str(model_doc, "name") or ""
        self._intervals.append(
            StatusInterval(
                model, version, environment, status, exposure, strategy, self.seq, self.time
            )
        )

    def effects(self, edges: list[Edge]) -> Effects:
        """The finished effects."""
        touched = [k for k in self._touched if k not in self._written]
        return Effects(
            docs=dict(self._written),
            intervals=list(self._intervals),
            edges=edges,
            touched=touched,
            tests=list(self._tests),
        )


def new_version_entry(version: str, registered_seq: int | None = None) -> dict[str, object]:
    """A model document's ``versions[]`` entry."""
    return {"version": version, "registered_seq": registered_seq, "status": {}}
