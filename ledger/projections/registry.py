"""The registry projection: models, versions, deployments, policies and incidents as documents.

The store calls :func:`keys_for` to fetch, in one query, every document an
event may read or change (missing ones as None), then :func:`project`, which
returns the new versions of the changed documents plus status intervals and
lineage edges. Both are pure; projecting the events in order from no
documents rebuilds the same state as projecting them one append at a time.

Documents (keys in :mod:`ledger.projections.keys`; list entries carry the
``seq``, ``hash`` and ``time`` = ``recorded_at`` of their event; ``history``
is the seqs of the events that wrote the document, in order, kept by the store
as rows (or, for an event whose handler always changes its own subject's
document, found by subject: ``keys.HISTORY_BY_SUBJECT_TYPES``), plus those
that only name it: alerts, ``retraining.triggered`` and
``rollback.verified`` touch a version's history without fetching or rewriting
its document, so they never create one):

- ``model:<m>``: ``ref name registered_seq registered_at owner risk_tier
  business_process description task contact retired retirement retraining[]
  history[]`` and ``versions[]`` = ``{version, registered_seq, status}`` in
  order of first appearance, where ``status`` maps environment to
  ``{status, exposure, strategy, seq, time}``. Per-environment status lives
  only here: ``model.retired`` must change it for every version, and the store
  fetches by key, so it cannot reach version documents it does not name.
- ``model:<m>@<v>``: ``ref model version registered_seq registered_at author
  registered_by artifact_digest artifact_uri training_run code_ref framework
  trained_on[] history[]``, ``approvals[]`` ``{actor role environment
  expires_at evidence revoked revoked_seq revoked_by}``, ``decisions[]``
  ``{actor environment decision target_exposure strategy evidence}``,
  ``stages[]`` ``{environment strategy exposure expires_at}``, ``rollbacks[]``
  ``{environment role(from|to) from_version to_version}``, ``denials[]``
  (``policy.denied`` on this version). ``author`` is the payload's ``author``,
  else the registering actor.
- ``tests:model:<m>@<v>`` (read only; :data:`~ledger.projections.keys.TESTS_PREFIX`):
  ``tests[]`` ``{suite kind passed metrics environment evaluated_on run}``, the
  latest result per (kind, suite, environment) in seq order. Each result is
  upserted as a row (:attr:`Effects.tests`); the version document is not
  touched beyond its history.
- ``deployment:<m>/<env>``: ``ref model environment version stable_version
  strategy exposure cohort flag_key exit_criteria stage_seq stage_entered_at
  expires_at open_alerts cleared_at rollback_required rollback_cause
  rollbacks[]`` (no history: alerts can be many). ``version`` is the version of
  the latest stage, ``stable_version`` the one serving the remaining traffic.
  ``expires_at`` is the stage's own, or earlier by the governing policy's
  ``stage_ttl_minutes`` for stages under 100%. ``open_alerts`` maps alert_id
  to ``{metric severity observed threshold comparator version seq hash time}``;
  ``rollback_cause`` is ``{seq alert_id metric observed comparator value}``;
  ``cleared_at`` maps a severity to when an alert of that severity or worse
  last cleared. ``rollbacks[]`` entries ``{actor from_version to_version reason
  trigger alert_id incident verified verification_seq}``.
- ``dataset:<d>@<v>``, ``policy:<p>`` (``definitions[]`` and ``current``),
  ``incident:<id>`` (``status severity summary affected ... reviews[]``) and
  ``policies`` (``tiers``, ``models``: ref of the governing policy;
  ``current``: each policy's current definition).

Status transitions per (version, environment), each emitting a
:class:`~ledger.projections.base.StatusInterval` when status, exposure or
strategy changes:

- ``deployment.decided``: promote -> ``candidate`` unless it already has
  traffic; abort of a candidate -> ``aborted``; retire of a version without
  traffic -> ``retired``; hold -> nothing. Decisions never move traffic.
- ``rollout.stage.changed`` of v at e%: v -> ``shadow`` (strategy shadow),
  ``canary`` (0<e<100), ``production`` (e=100) or ``candidate`` (e=0). The
  stable version keeps ``production`` at (100-e)%; at e=100 every other
  version with traffic becomes ``replaced``; a partial rollout of another
  version that this stage supersedes becomes ``replaced``.
- ``rollback.executed`` from f to t: f -> ``rolled_back``, t -> ``production``
  at 100%, any other version with traffic -> ``replaced``; clears
  ``rollback_required``.
- ``alert.raised`` crossing a rollback threshold of the governing policy sets
  ``rollback_required`` (it stays set until a rollback is executed).
- ``model.retired``: every status of every version -> ``retired``, for good.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ledger.projections import _catalog, _rollout
from ledger.projections._context import Context
from ledger.projections._json import as_dict, get_str
from ledger.projections.base import Doc, Effects, EventView
from ledger.projections.edges import edges_for
from ledger.projections.keys import (
    POLICY_INDEX_KEY,
    deployment_parts,
    model_key,
    parse_or_none,
    version_key,
    version_parts,
)
from ledger.projections.subjects import fits

__all__ = ["keys_for", "project"]

_HANDLERS: dict[str, Callable[[Context], None]] = {**_catalog.HANDLERS, **_rollout.HANDLERS}


def _version_keys(data: Mapping[str, object], *fields: str) -> list[str]:
    keys = []
    for field in fields:
        parts = version_parts(get_str(data, field) or "")
        if parts is not None:
            keys += [version_key(*parts), model_key(parts[0])]
    return keys


def _model_keys(data: Mapping[str, object], field: str) -> list[str]:
    parts = version_parts(get_str(data, field) or "")
    return [] if parts is None else [model_key(parts[0])]


def keys_for(event: EventView) -> list[str]:
    """Every document key ``event`` may read or change, without duplicates.

    Depends on the event alone, so the store can fetch them all in one query
    before calling :func:`project`.
    """
    kind, subject, data = event["type"], event["subject"], as_dict(event["data"])
    ref = parse_or_none(subject)
    if ref is None or kind not in _HANDLERS or not fits(kind, ref):
        return []
    own = model_key(ref.name) if ref.kind == "model" else None
    if kind in ("model.registered", "model.retired"):
        keys = [model_key(ref.name)]
    elif kind == "retraining.triggered":
        keys = [model_key(ref.name)]  # the version is only touched (history)
    elif kind in ("model.version.registered", "deployment.decided"):
        keys = [subject, *([own] if own else [])]
    elif kind == "policy.defined":
        keys = [str(ref.unversioned), POLICY_INDEX_KEY]
    elif kind == "policy.denied":
        draft = as_dict(data.get("draft_data"))
        keys = [subject] if ref.kind == "model" else _version_keys(draft, "version")[:1]
    elif kind == "rollout.stage.changed":
        keys = [subject, *_version_keys(data, "version"), POLICY_INDEX_KEY]
    elif kind == "rollback.executed":
        keys = [subject, *_version_keys(data, "from_version", "to_version")]
    elif kind == "rollback.verified":
        keys = [subject]  # the versions are only touched (history)
    elif kind == "alert.resolved":
        keys = [subject]
    elif kind == "test.result.recorded":
        keys = []  # a row of proj_tests; the version is only touched (history)
    elif kind == "alert.raised":
        # The version is only touched; its model (or the deployment's) gives the policy.
        keys = [subject, *_model_keys(data, "version")]
        keys += [model_key(deployment_parts(subject)[0]), POLICY_INDEX_KEY]
    else:  # facts about the subject alone: approvals, datasets, incidents
        keys = [subject]
    return list(dict.fromkeys(keys))


def project(event: EventView, docs: Mapping[str, Doc | None]) -> Effects:
    """Project one sealed event onto the documents fetched for :func:`keys_for`.

    ``docs`` maps each key to its current document, or None (or no entry) when
    it does not exist yet. Nothing in ``docs`` is modified; the returned
    documents are new objects, though they may share unchanged nested values
    with the input. A type on a subject it does not fit
    (:func:`ledger.projections.subjects.fits`) projects nothing: no document
    and no lineage edge (its edges would hang off a subject of the wrong kind,
    e.g. an ``incident.opened`` on ``model:m`` making the model "affect" things).
    """
    handler = _HANDLERS.get(event["type"])
    ctx = Context(event, docs)
    ref = parse_or_none(event["subject"])
    # A subject of another kind would have the handler write its shape under a
    # key another type owns (see ledger.projections.subjects): nothing to project.
    if ref is not None and not fits(event["type"], ref):
        return ctx.effects([])
    if handler is not None and ref is not None:
        handler(ctx)
    return ctx.effects(edges_for(event))
