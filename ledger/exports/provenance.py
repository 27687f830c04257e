"""A model's provenance as a W3C PROV document (PROV-JSON via the ``prov`` package).

The mapping, from the events an export about ``model:NAME`` covers
(:mod:`ledger.exports.scope`), oldest first:

* **entities**: every entity reference (model, model versions, datasets and
  their versions, features, deployments, incidents) and each version's
  artifact (``artifact_digest``, located at ``artifact_uri``). A version is a
  ``specializationOf`` its model, a dataset version of its dataset.
* **activities**: each training run (``training_run``, ``run`` of a lineage
  edge), and each event that *does* something -- a test or evaluation, an
  approval, a decision, a rollout stage, a rollback, an alert, a denial --
  named ``event:SEQ`` and carrying the event's seq and hash, so every
  statement can be traced to a line of the ledger and proven.
* **agents**: the event's ``actor``, the authenticated principal (never a
  name taken from the payload).
* **relations**: ``wasGeneratedBy`` (version by its training run),
  ``used`` (a run its data, a test the version and the data it evaluated on,
  a decision the version), ``wasDerivedFrom`` (a version from its training
  data and earlier versions), ``wasAssociatedWith`` (an activity with the
  actor, as the role the payload names), ``wasAttributedTo`` (what a
  registration recorded, to its registrar) and ``wasInformedBy`` (a decision
  by the events it cites as evidence).

Identifiers are the ledger's refs: the kind is the PROV prefix and the rest
the local part, percent-encoded where PROV-N could not write it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from urllib.parse import quote

from prov.model import AttributeValue, ProvDocument, QualifiedName

from ledger.errors import InvalidEvent
from ledger.events import Event
from ledger.refs import EntityRef, parse_ref

__all__ = ["LEDGER_NS", "model_provenance", "prov_json"]

LEDGER_NS = "urn:rollout-ledger:"
"""Namespace URIs start here: ``urn:rollout-ledger:vocab#`` for attributes,
``urn:rollout-ledger:<kind>:`` per entity kind, ``…:event:`` and ``…:actor:``."""

# Events that record a thing rather than do something: they add entities.
_REGISTRATIONS = frozenset(
    {"model.registered", "model.version.registered", "dataset.version.registered"}
)
# Payload fields naming another event this one relied on.
_CITED_SEQ_FIELDS = ("approval_seq", "rollback_seq")
# Payload fields naming an entity this event's activity used.
_USED_REF_FIELDS = ("version", "from_version", "to_version", "evaluated_on")


def _ref(text: object) -> EntityRef | None:
    if not isinstance(text, str):
        return None
    try:
        return parse_ref(text)
    except InvalidEvent:  # payload text that is not a ref: nothing to relate
        return None


class _Builder:
    """One PROV document, each record and relation added once."""

    def __init__(self) -> None:
        self.doc = ProvDocument()
        self.vocab = self.doc.add_namespace("ledger", f"{LEDGER_NS}vocab#")
        self._prefixes = {"ledger", "prov", "xsd"}
        self._namespaces = {"event": self._namespace("event"), "actor": self._namespace("actor")}
        self._done: set[tuple[object, ...]] = set()
        self.activities: dict[int, QualifiedName] = {}

    def _namespace(self, kind: str) -> str:
        prefix = kind
        while prefix in self._prefixes:  # a kind named like a prefix already taken
            prefix += "_"
        self._prefixes.add(prefix)
        self.doc.add_namespace(prefix, f"{LEDGER_NS}{kind}:")
        return prefix

    def qname(self, kind: str, local: str) -> QualifiedName:
        prefix = self._namespaces.get(kind) or self._namespaces.setdefault(
            kind, self._namespace(kind)
        )
        # Unreserved URI characters, '/' and '@' stay readable; the rest is
        # percent-encoded so that PROV-N can write every identifier.
        encoded = quote(local, safe="/@")
        if encoded.endswith("."):
            encoded = encoded[:-1] + "%2E"
        name = self.doc.valid_qualified_name(f"{prefix}:{encoded}")
        assert name is not None  # the prefix was registered above
        return name

    def once(self, *key: object) -> bool:
        if key in self._done:
            return False
        self._done.add(key)
        return True

    def entity(self, ref: EntityRef) -> QualifiedName:
        name = self.qname(
            ref.kind, ref.name if ref.version is None else f"{ref.name}@{ref.version}"
        )
        if self.once("entity", name):
            kind = ref.kind + ("_version" if ref.version is not None else "")
            self.doc.entity(name, {"prov:label": str(ref), "prov:type": self.vocab[kind]})
            if ref.version is not None:
                self.doc.specializationOf(name, self.entity(ref.unversioned))
        return name

    def agent(self, actor: str) -> QualifiedName:
        name = self.qname("actor", actor)
        if self.once("agent", name):
            self.doc.agent(name, {"prov:label": actor})
        return name

    def run(self, ref: EntityRef) -> QualifiedName:
        name = self.qname(ref.kind, str(ref).partition(":")[2])
        if self.once("run", name):
            self.doc.activity(name, other_attributes={"prov:label": str(ref)})
        return name

    def relate(self, relation: str, *args: QualifiedName | None) -> None:
        """Add ``relation(*args)`` (a ProvBundle method name) unless it is already there."""
        if self.once(relation, *args):
            getattr(self.doc, relation)(*args)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def model_provenance(model: str, events: Iterable[Event]) -> ProvDocument:
    """The PROV document of ``model:{model}`` from the events an export about it covers.

    ``events`` must be in seq order (evidence can only cite earlier events).
    """
    b = _Builder()
    b.entity(EntityRef("model", model))
    for event in events:
        data = event.data
        assert isinstance(data, dict)
        subject = _ref(event.subject)
        if subject is None:
            continue
        agent = b.agent(event.actor)
        if event.type in _REGISTRATIONS:
            _registration(b, event, subject, agent, data)
        elif event.type == "lineage.edge.recorded":
            _lineage_edge(b, subject, data)
        else:
            _activity(b, event, subject, agent, data)
    return b.doc


def _registration(
    b: _Builder, event: Event, subject: EntityRef, agent: QualifiedName, data: dict[str, object]
) -> None:
    thing = b.entity(subject)
    b.relate("wasAttributedTo", thing, agent)
    if event.type != "model.version.registered":
        return
    run_ref = _ref(data.get("training_run"))
    run = b.run(run_ref) if run_ref is not None else None
    if run is not None:
        b.relate("wasGeneratedBy", thing, run)
        b.relate("wasAssociatedWith", run, agent)
    trained_on = data.get("trained_on")
    for dataset in map(_ref, trained_on if isinstance(trained_on, list) else []):
        if dataset is not None:
            used = b.entity(dataset)
            if run is not None:
                b.relate("used", run, used)
            b.relate("wasDerivedFrom", thing, used, run)
    digest = data.get("artifact_digest")
    if isinstance(digest, str):
        artifact = b.qname("artifact", digest)
        if b.once("entity", artifact):
            attrs: dict[str, AttributeValue] = {
                "prov:label": digest,
                "prov:type": b.vocab["artifact"],
                "ledger:digest": digest,
            }
            location = data.get("artifact_uri")
            if isinstance(location, str):
                attrs["prov:location"] = location
            b.doc.entity(artifact, attrs)
        b.relate("alternateOf", artifact, thing)
        if run is not None:
            b.relate("wasGeneratedBy", artifact, run)


def _lineage_edge(b: _Builder, subject: EntityRef, data: dict[str, object]) -> None:
    target_ref, relation = _ref(data.get("target")), data.get("relation")
    if target_ref is None:
        return
    source, target = b.entity(subject), b.entity(target_ref)
    run_ref = _ref(data.get("run"))
    run = b.run(run_ref) if run_ref is not None else None
    if relation == "feature_of":  # the feature (subject) is upstream of the model
        source, target = target, source
    if relation in ("derived_from", "trained_on", "feature_of"):
        b.relate("wasDerivedFrom", source, target, run)
        if run is not None:
            b.relate("used", run, target)
            if relation == "derived_from" and subject.kind != "model":
                b.relate("wasGeneratedBy", source, run)
    elif relation == "evaluated_on":
        if run is not None:
            b.relate("used", run, target)
    else:
        b.relate("wasInfluencedBy", source, target)


def _activity(
    b: _Builder, event: Event, subject: EntityRef, agent: QualifiedName, data: dict[str, object]
) -> None:
    act = b.qname("event", str(event.seq))
    attrs: dict[str, AttributeValue] = {
        "prov:type": b.vocab[event.type],
        "prov:label": f"{event.type} {event.subject}",
        "ledger:seq": event.seq,
        "ledger:hash": event.hash,
    }
    for field in ("kind", "suite", "passed", "environment", "decision", "exposure_percent"):
        value = data.get(field)
        if isinstance(value, str | bool | int | float):
            attrs[f"ledger:{field}"] = value
    b.doc.activity(act, None, _time(event.occurred_at), attrs)
    b.activities[event.seq] = act
    role = data.get("approver_role")
    b.doc.wasAssociatedWith(
        act,
        agent,
        other_attributes={"prov:role": b.vocab[quote(role, safe="")]}
        if isinstance(role, str)
        else None,
    )
    b.relate("used", act, b.entity(subject))
    for field in _USED_REF_FIELDS:
        used = _ref(data.get(field))
        if used is not None:
            b.relate("used", act, b.entity(used))
    for cited in _cited_seqs(data):
        informant = b.activities.get(cited)
        if informant is not None and informant != act:
            b.relate("wasInformedBy", act, informant)


def _cited_seqs(data: dict[str, object]) -> Sequence[int]:
    seqs = [data.get(field) for field in _CITED_SEQ_FIELDS]
    evidence = data.get("evidence")
    for item in evidence if isinstance(evidence, list) else []:
        if isinstance(item, dict):
            seqs.append(item.get("seq"))
    return [s for s in seqs if type(s) is int]


def prov_json(model: str, events: Iterable[Event]) -> str:
    """:func:`model_provenance` serialized as PROV-JSON (W3C Member Submission, 2013)."""
    text = model_provenance(model, events).serialize(format="json", indent=2)
    assert isinstance(text, str)
    return text + "\n"
