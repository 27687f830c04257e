"""Registry handlers for the facts about models, versions, datasets, policies and incidents.

Each handler takes the :class:`~ledger.projections._context.Context` of one
event and writes the documents it changes (shapes in
:mod:`ledger.projections.registry`).
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.projections._context import Context, new_version_entry
from ledger.projections._json import as_dict, as_list, dict_list, get_int, get_str
from ledger.projections._time import normalize
from ledger.projections.base import Doc
from ledger.projections.keys import POLICY_INDEX_KEY, model_key, version_key, version_parts
from ledger.projections.test_results import test_entry
from ledger.refs import parse_ref

__all__ = ["HANDLERS", "new_model", "new_version", "write_model", "write_version"]

_MODEL_FIELDS = ("owner", "risk_tier", "business_process", "description", "task", "contact")
_VERSION_FIELDS = ("artifact_digest", "artifact_uri", "training_run", "code_ref", "framework")


def new_model(name: str) -> Doc:
    """A model document before ``model.registered`` (events may arrive for it first)."""
    return {
        "ref": model_key(name),
        "name": name,
        "registered_seq": None,
        "registered_at": None,
        **dict.fromkeys(_MODEL_FIELDS),
        "retired": False,
        "retirement": None,
        "versions": [],
        "retraining": [],
    }


def new_version(model: str, version: str) -> Doc:
    """A version document before ``model.version.registered``."""
    return {
        "ref": version_key(model, version),
        "model": model,
        "version": version,
        "registered_seq": None,
        "registered_at": None,
        "author": None,
        "registered_by": None,
        **dict.fromkeys(_VERSION_FIELDS),
        "trained_on": [],
        "approvals": [],
        "decisions": [],
        "stages": [],
        "rollbacks": [],
        "denials": [],
    }


def write_model(ctx: Context, model: str) -> Doc:
    """The model document, ready to change."""
    return ctx.write(model_key(model), lambda: new_model(model))


def write_version(ctx: Context, model: str, version: str) -> Doc:
    """The version document, ready to change."""
    return ctx.write(version_key(model, version), lambda: new_version(model, version))


def _subject_version(ctx: Context) -> tuple[str, str] | None:
    return version_parts(ctx.event["subject"])


def _model_registered(ctx: Context) -> None:
    doc = write_model(ctx, parse_ref(ctx.event["subject"]).name)
    if doc.get("registered_seq") is None:
        doc.update(registered_seq=ctx.seq, registered_at=ctx.time)
    doc.update({name: ctx.data.get(name) for name in _MODEL_FIELDS})


def _version_registered(ctx: Context) -> None:
    parts = _subject_version(ctx)
    if parts is None:
        return
    model = write_model(ctx, parts[0])
    entries = dict_list(model.get("versions"))
    if not any(get_str(e, "version") == parts[1] for e in entries):
        model["versions"] = [*entries, new_version_entry(parts[1], ctx.seq)]
    else:
        model["versions"] = [
            {**e, "registered_seq": ctx.seq}
            if get_str(e, "version") == parts[1] and e.get("registered_seq") is None
            else e
            for e in entries
        ]
    doc = write_version(ctx, *parts)
    if doc.get("registered_seq") is not None:
        return  # a version is registered once; the repeat stays in its history
    doc.update({name: ctx.data.get(name) for name in _VERSION_FIELDS})
    doc.update(
        registered_seq=ctx.seq,
        registered_at=ctx.time,
        author=get_str(ctx.data, "author") or ctx.event["actor"],
        registered_by=ctx.event["actor"],
        trained_on=[r for r in as_list(ctx.data.get("trained_on")) if isinstance(r, str)],
    )


def _dataset_registered(ctx: Context) -> None:
    ref = parse_ref(ctx.event["subject"])
    doc = ctx.write(str(ref), lambda: {"ref": str(ref), "registered_seq": None, "history": []})
    if doc.get("registered_seq") is None:
        fields = ("digest", "source", "schema_ref", "row_count", "format", "contains_pii")
        doc.update({name: ctx.data.get(name) for name in fields})
        doc.update(name=ref.name, version=ref.version, registered_seq=ctx.seq)
        doc.update(registered_at=ctx.time, hash=ctx.event["hash"])


def _test_recorded(ctx: Context) -> None:
    parts = _subject_version(ctx)
    if parts is None:
        return
    test = test_entry(ctx.seq, ctx.event["hash"], ctx.time, ctx.data)
    # Only the latest result per (kind, suite, environment) decides a release
    # (requirements.unmet_tests), and it is read from the events by subject
    # (ledger.projections.test_results): the version document is neither read
    # nor rewritten (half of all events are test results). The projector keeps
    # the batch's own results until its events are stored.
    key = version_key(*parts)
    ctx.record_test(key, test)
    ctx.touch(key)


def _approval_granted(ctx: Context) -> None:
    parts = _subject_version(ctx)
    if parts is None:
        return
    doc = write_version(ctx, *parts)
    approval = ctx.entry(
        actor=ctx.event["actor"],
        role=get_str(ctx.data, "approver_role"),
        environment=get_str(ctx.data, "environment"),
        expires_at=normalize(ctx.data.get("expires_at")),
        evidence=dict_list(ctx.data.get("evidence")),
        revoked=False,
        revoked_seq=None,
        revoked_by=None,
    )
    doc["approvals"] = [*dict_list(doc.get("approvals")), approval]


def _approval_revoked(ctx: Context) -> None:
    parts = _subject_version(ctx)
    if parts is None:
        return
    doc = write_version(ctx, *parts)
    target, env = get_int(ctx.data, "approval_seq"), get_str(ctx.data, "environment")
    revoked = {"revoked": True, "revoked_seq": ctx.seq, "revoked_by": ctx.event["actor"]}
    doc["approvals"] = [
        {**a, **revoked}
        if a.get("seq") == target and a.get("environment") == env and not a.get("revoked")
        else a
        for a in dict_list(doc.get("approvals"))
    ]


def _policy_defined(ctx: Context) -> None:
    ref = parse_ref(ctx.event["subject"])
    key = str(ref.unversioned)
    fields = ("policy_version", "scope", "environments", "description")
    definition = ctx.entry(actor=ctx.event["actor"], **{f: ctx.data.get(f) for f in fields})
    doc = ctx.write(key, lambda: {"ref": key, "name": ref.name, "definitions": []})
    doc["definitions"] = [*dict_list(doc.get("definitions")), definition]
    doc["current"] = definition
    index = ctx.write(
        POLICY_INDEX_KEY, lambda: {"tiers": {}, "models": {}, "current": {}}, history=False
    )
    scope = as_dict(ctx.data.get("scope"))
    for field, values in (("tiers", "risk_tiers"), ("models", "models")):
        kept = {k: v for k, v in as_dict(index.get(field)).items() if v != key}
        kept.update({str(name): key for name in as_list(scope.get(values))})
        index[field] = dict(sorted(kept.items()))
    index["current"] = {**as_dict(index.get("current")), key: definition}


def _incident(ctx: Context) -> None:
    key = ctx.event["subject"]
    doc = ctx.write(key, lambda: {"ref": key, "status": "open", "opened_seq": None, "reviews": []})
    kind = ctx.event["type"]
    fields = ("severity", "summary", "affected", "alert_ids", "commander", "root_cause")
    doc.update({f: ctx.data[f] for f in fields if f in ctx.data and kind != "review.recorded"})
    if kind == "incident.opened":
        doc.update(status="open", opened_seq=ctx.seq, opened_at=ctx.time)
    elif kind == "incident.resolved":
        doc.update(status="resolved", resolved_seq=ctx.seq, resolved_at=ctx.time)
    else:
        changes = [get_str(c, "policy") for c in dict_list(ctx.data.get("policy_changes"))]
        review = ctx.entry(actor=ctx.event["actor"], policy_changes=changes)
        doc["reviews"] = [*dict_list(doc.get("reviews")), review]


def _retraining(ctx: Context) -> None:
    model = write_model(ctx, parse_ref(ctx.event["subject"]).name)
    fields = ("signal", "metric", "observed", "threshold", "version", "run", "incident")
    trigger = ctx.entry(**{f: ctx.data.get(f) for f in fields})
    model["retraining"] = [*dict_list(model.get("retraining")), trigger]
    parts = version_parts(get_str(ctx.data, "version") or "")
    if parts is not None:
        ctx.touch(version_key(*parts))  # only its history records the signal


def _denied(ctx: Context) -> None:
    draft = as_dict(ctx.data.get("draft_data"))
    parts = _subject_version(ctx) or version_parts(get_str(draft, "version") or "")
    if parts is None:
        return
    doc = write_version(ctx, *parts)
    fields = ("draft_type", "actor", "unmet", "environment", "policy", "policy_version")
    denial = ctx.entry(**{f: ctx.data.get(f) for f in fields})
    doc["denials"] = [*dict_list(doc.get("denials")), denial]


HANDLERS: dict[str, Callable[[Context], None]] = {
    "model.registered": _model_registered,
    "model.version.registered": _version_registered,
    "dataset.version.registered": _dataset_registered,
    "test.result.recorded": _test_recorded,
    "approval.granted": _approval_granted,
    "approval.revoked": _approval_revoked,
    "policy.defined": _policy_defined,
    "incident.opened": _incident,
    "incident.resolved": _incident,
    "review.recorded": _incident,
    "retraining.triggered": _retraining,
    "policy.denied": _denied,
}
"""Handlers by event type."""
