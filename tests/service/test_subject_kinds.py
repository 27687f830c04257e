"""Every registry type on every kind of subject: it appends and projects, or is refused.

A handler writes the documents its subject names, so a type on a subject of
another kind used to write its shape under a key another type owns (a
``dataset.version.registered`` on ``policy:strict`` raised KeyError and the
append failed with it). Now a projecting ledger refuses such a draft with an
``InvalidEvent`` on ``subject`` and appends nothing; the same event appended
by a writer that does not project is replayed as nothing. No other exception,
no document of another kind's shape, and a rebuild leaves everything as it was.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable

import orjson
import pytest

from ledger.errors import InvalidEvent, LedgerError
from ledger.events import EventDraft
from ledger.projections import registry
from ledger.projections.subjects import SUBJECT_KINDS, fits, subject_error
from ledger.refs import parse_ref
from ledger.schema_files import load_catalogue
from ledger.service import Ledger
from ledger.store.protocol import EventStore
from tests.helpers import StepClock, id_factory

_SUBJECTS = [
    "model:m1", "model:m1@1", "deployment:m1/prod", "deployment:m1/prod@1", "dataset:d",
    "dataset:d@1", "policy:strict", "policy:strict@2", "incident:INC-1", "incident:INC-1@2",
    "feature:f", "feature:f@1",
]  # fmt: skip
_TYPES = [*SUBJECT_KINDS, "policy.denied", "lineage.edge.recorded", "custom.thing"]

# Documents of every shape first, so a misplaced handler would meet one.
_SETUP = [
    ("policy.defined", "policy:strict", {"policy_version": 1, "scope": {"models": ["m1"]}}),
    ("model.registered", "model:m1", {"owner": "o", "risk_tier": "high"}),
    ("model.version.registered", "model:m1@1", {"trained_on": ["dataset:d@1"]}),
    ("dataset.version.registered", "dataset:d@1", {"digest": "sha256:0"}),
    ("incident.opened", "incident:INC-1", {"severity": "sev2", "affected": ["model:m1@1"]}),
    (
        "rollout.stage.changed",
        "deployment:m1/prod",
        {"version": "model:m1@1", "strategy": "shadow"},
    ),
    ("alert.raised", "deployment:m1/prod", {"alert_id": "a0", "version": "model:m1@1"}),
]


def _payloads() -> list[dict[str, object]]:
    usable: dict[str, object] = {"version": "model:m1@1", "from_version": "model:m1@1"}
    usable.update(to_version="model:m1@2", alert_id="a1", metric="error_rate", observed=1.0)
    usable.update(severity="critical", decision="hold", strategy="canary", approval_seq=1)
    usable.update(exposure_percent=0, draft_data={"version": "model:m1@1"}, suite="unit")
    usable.update(kind="unit", passed=True, policy_version=2, environment="prod", reason="r")
    usable.update(scope={"models": ["m1"]}, target="dataset:d@1", relation="trained_on")
    # Every field the handlers read, with a value of the wrong type.
    wrong: dict[str, object] = {k: [1] if isinstance(v, str) else "x" for k, v in usable.items()}
    wrong.update(trained_on="dataset:d@1", affected={"a": 1}, evidence=7, exit_criteria=3)
    return [usable, wrong]


def _ops() -> list[tuple[str, str, dict[str, object]]]:
    return [
        (type, subject, data)
        for data in _payloads()
        for type, subject in itertools.product(_TYPES, _SUBJECTS)
    ]


def _plain_ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: str(uuid.UUID(int=(1 << 64) + next(counter)))


def _keys() -> list[str]:
    extra = ["model:m1@2", "model:f", "model:d", "model:strict", "model:INC-1", "policies"]
    subjects = {str(parse_ref(s).unversioned) for s in _SUBJECTS} | set(_SUBJECTS)
    return sorted(subjects | set(extra) | {f"tests:{k}" for k in subjects if "@" in k})


def _state(store: EventStore) -> dict[str, object]:
    keys = _keys()
    docs = store.get_docs(keys)  # type: ignore[attr-defined]
    history = {k: store.history_of(k) for k in keys}  # type: ignore[attr-defined]
    return {"docs": {k: orjson.loads(v) for k, v in docs.items()}, "history": history}


_SHAPE = {  # a key each kind's documents have, and no other kind's do
    "model": "retraining",
    "version": "approvals",
    "deployment": "open_alerts",
    "dataset": "digest",
    "policy": "definitions",
    "incident": "reviews",
}


def _assert_shapes(docs: dict[str, dict[str, object]]) -> None:
    for key, doc in docs.items():
        if key == "policies" or key.startswith("tests:"):
            continue
        ref = parse_ref(key)
        kind = "version" if ref.kind == "model" and ref.version else ref.kind
        markers = {k for k, field in _SHAPE.items() if field in doc}
        assert markers == {kind}, (key, sorted(doc))


def test_the_registry_kinds_are_the_shipped_catalogues() -> None:
    catalogue = load_catalogue()
    for type, kind in SUBJECT_KINDS.items():
        assert catalogue.get(type).subject_kind == kind, type
    for type in registry._HANDLERS:
        assert type in SUBJECT_KINDS or catalogue.get(type).subject_kind == "any", type


@pytest.mark.parametrize("type", _TYPES)
def test_the_refusal_names_the_subject_as_the_catalogue_does(type: str) -> None:
    catalogue = load_catalogue()
    for subject in _SUBJECTS:
        error = subject_error(type, subject)
        assert (error is None) == fits(type, parse_ref(subject))
        if error is not None and type in catalogue:
            with pytest.raises(InvalidEvent) as caught:
                catalogue.check_subject(type, subject)
            assert (caught.value.message, caught.value.field) == (error.message, "subject")


def test_every_type_on_every_subject_appends_or_is_refused(store: EventStore) -> None:
    ledger = Ledger(store, clock=StepClock(), new_id=id_factory())
    plain = Ledger(store, clock=StepClock(), new_id=_plain_ids(), project=False)
    for type, subject, data in _SETUP:
        ledger.append([EventDraft.create(type, subject, data)], "admin")
    refused_count = 0
    for type, subject, data in _ops():
        draft = EventDraft.create(type, subject, data)
        head = ledger.head().seq
        error: LedgerError | None = None
        try:
            ledger.append([draft], "admin")
        except InvalidEvent as refused:  # anything else fails the test
            error = refused
        if error is None:
            assert fits(type, parse_ref(subject)), (type, subject)
            continue
        assert error.field == "events[0].subject"
        assert error.message.startswith(f"events[0].subject: {type} ")
        assert not fits(type, parse_ref(subject)), (type, subject)
        assert ledger.head().seq == head
        refused_count += 1
        plain.append([draft], "admin")  # in the log all the same: replayed as nothing
    assert refused_count > len(_ops()) // 2
    ledger.append([EventDraft.create("custom.thing", "model:m1", {})], "admin")  # catch up
    incremental = _state(store)
    _assert_shapes(incremental["docs"])  # type: ignore[arg-type]
    assert "registered_seq" in incremental["docs"]["dataset:d@1"]  # type: ignore[index]
    ledger.rebuild_projections()
    assert _state(store) == incremental


@pytest.mark.parametrize(
    ("type", "subject", "data"),
    [
        ("incident.opened", "model:m1", {"severity": "sev2", "affected": ["deployment:m1/prod"]}),
        ("rollout.stage.changed", "model:m1@1", {"version": "model:m1@2", "strategy": "canary"}),
        ("model.version.registered", "dataset:d@1", {"trained_on": ["dataset:e@1"]}),
        ("dataset.version.registered", "policy:strict@2", {"digest": "sha256:0"}),
        ("test.result.recorded", "model:m1", {"kind": "unit", "evaluated_on": "dataset:d@1"}),
    ],
)
def test_an_event_on_a_subject_it_does_not_fit_records_no_lineage_edge(
    store: EventStore, type: str, subject: str, data: dict[str, object]
) -> None:
    """Replayed as nothing means no edge either: a misplaced event is not lineage."""
    ledger = Ledger(store, clock=StepClock(), new_id=id_factory())
    plain = Ledger(store, clock=StepClock(), new_id=_plain_ids(), project=False)
    ledger.append([EventDraft.create("model.registered", "model:m1", {"owner": "o"})], "admin")
    draft = EventDraft.create(type, subject, data)
    with pytest.raises(InvalidEvent):
        ledger.append([draft], "admin")
    seq = plain.append([draft], "admin")[0].seq
    ledger.append([EventDraft.create("custom.thing", "model:m1", {})], "admin")  # catch up
    edges = store.edges()  # type: ignore[attr-defined]
    assert [e for e in edges if e[3] == seq] == []
    ledger.rebuild_projections()
    assert [e for e in store.edges() if e[3] == seq] == []  # type: ignore[attr-defined]
