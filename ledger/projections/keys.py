"""The document key scheme of the registry projection.

Every key but one is an entity reference:

| key | document |
| --- | --- |
| ``model:<name>`` | the model, its versions and their status per environment |
| ``model:<name>@<version>`` | one version: registration, tests, approvals, decisions, stages |
| ``deployment:<model>/<environment>`` | rollout state of a model in an environment |
| ``dataset:<name>@<version>`` | a registered dataset version |
| ``policy:<name>`` | every definition of a rollout policy, in order |
| ``incident:<id>`` | an incident, its resolution and reviews |
| ``policies`` | the index: which policy governs each risk tier and model, with the
  current definitions inlined, so policy checks need one fetch |

A deployment is named ``<model>/<environment>``: the environment is the text
after the last ``/`` (environment slugs hold no ``/``), the model the text
before it. A deployment serves versions of that one model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import orjson

from ledger.errors import InvalidEvent
from ledger.projections.subjects import fits
from ledger.refs import EntityRef, parse_ref

__all__ = [
    "HISTORY_BY_SUBJECT_TYPES",
    "POLICY_INDEX_KEY",
    "TESTS_PREFIX",
    "deployment_key",
    "deployment_parts",
    "in_history_by_subject",
    "model_key",
    "parse_or_none",
    "policy_key",
    "subject_history_types",
    "test_slot",
    "tests_doc",
    "tests_key",
    "tests_version",
    "version_key",
    "version_parts",
]

POLICY_INDEX_KEY = "policies"
"""Key of the policy index document; not an entity reference, so it never collides."""


TESTS_PREFIX = "tests:"
"""Keys of the latest-test rows of a version (``tests:model:<m>@<v>``); not entity references.

``get_docs([tests_key(v)])`` answers ``{"ref": v, "tests": [...]}``, the latest
result per (kind, suite, environment) in seq order, read from the version's
``test.result.recorded`` events (absent when there are none; see
:mod:`ledger.projections.test_results`). A test result is never a rewrite of
the version document.
"""


def _version_of(ref: EntityRef) -> str | None:
    if ref.kind != "model" or ref.version is None:
        return None
    return version_key(ref.name, ref.version)


_OWN_KEY: dict[str, Callable[[EntityRef], str | None]] = {
    # The key each handler (``_catalog``, ``_rollout``) writes or touches for
    # *every* event of the type whose subject parses, computed from the subject
    # alone; None where the subject does not give one. Types whose handlers may
    # return before touching the subject's document (``deployment.decided``
    # without an environment, ``rollout.stage.changed`` and ``rollback.*`` with
    # an unusable version ref, ``alert.resolved`` of an alert never open) are
    # not here: their rows stay.
    "model.registered": lambda ref: model_key(ref.name),
    "model.retired": lambda ref: model_key(ref.name),
    "retraining.triggered": lambda ref: model_key(ref.name),
    "model.version.registered": _version_of,
    "test.result.recorded": _version_of,
    "approval.granted": _version_of,
    "approval.revoked": _version_of,
    "policy.denied": _version_of,
    "dataset.version.registered": str,
    "policy.defined": lambda ref: str(ref.unversioned),
    "incident.opened": str,
    "incident.resolved": str,
    "review.recorded": str,
    "alert.raised": str,  # the deployment document, written before anything can return
}

HISTORY_BY_SUBJECT_TYPES: frozenset[str] = frozenset(_OWN_KEY)
"""Event types that may enter their subject's history through the subject, not a row.

A store that says so (``history_by_subject`` on its transaction) gets no
``proj_history`` row for (``subject``, seq) when :func:`in_history_by_subject`
holds for the event, and its ``history_of`` adds, for a key, the events whose
subject is that key and whose type is one of :func:`subject_history_types`,
up to the projection position. For such a key and type, every event did touch
the key (the handler's own key for that subject *is* the subject), so the
answer is the same as with the rows. Types whose handlers may return early
without touching the subject are not included (see ``_OWN_KEY``).
"""


def in_history_by_subject(event_type: str, subject: str) -> bool:
    """Whether an event of this type enters the history of ``subject`` by subject (no row)."""
    own = _OWN_KEY.get(event_type)
    if own is None:
        return False
    ref = parse_or_none(subject)
    # A type on a subject it does not fit projects nothing (registry.project).
    return ref is not None and own(ref) == subject and fits(event_type, ref)


@lru_cache(maxsize=4096)
def subject_history_types(key: str) -> tuple[str, ...]:
    """The event types whose events with subject ``key`` are in the history of ``key``."""
    return tuple(t for t in sorted(_OWN_KEY) if in_history_by_subject(t, key))


def tests_key(version: str) -> str:
    """``tests:<version key>``: the latest test results of a version, read as one document."""
    return TESTS_PREFIX + version


def tests_version(key: str) -> str | None:
    """The version key of a :func:`tests_key`, or None for any other key."""
    return key[len(TESTS_PREFIX) :] if key.startswith(TESTS_PREFIX) else None


def test_slot(entry: dict[str, object]) -> tuple[str, str, str]:
    """(kind, environment, suite) of a test entry: only the latest per slot is kept."""
    kind, env, suite = entry.get("kind"), entry.get("environment"), entry.get("suite")
    return (
        kind if isinstance(kind, str) else "",
        env if isinstance(env, str) else "",
        suite if isinstance(suite, str) else "",
    )


def tests_doc(version: str, entries: Sequence[bytes]) -> bytes:
    """The JSON of ``tests:<version>`` from its rows' JSON entries, given in seq order."""
    return b'{"ref":' + orjson.dumps(version) + b',"tests":[' + b",".join(entries) + b"]}"


def model_key(model: str) -> str:
    """``model:<name>``."""
    return f"model:{model}"


def version_key(model: str, version: str) -> str:
    """``model:<name>@<version>``."""
    return f"model:{model}@{version}"


def deployment_key(model: str, environment: str) -> str:
    """``deployment:<model>/<environment>``."""
    return f"deployment:{model}/{environment}"


def policy_key(name: str) -> str:
    """``policy:<name>``."""
    return f"policy:{name}"


def deployment_parts(ref: str) -> tuple[str, str]:
    """Split ``deployment:<model>/<environment>`` into (model, environment).

    A name without ``/`` is both the model and the environment; the catalogue
    lets such subjects in, and projecting them must not fail.

    Raises:
        InvalidEvent: ``ref`` is not an entity reference.
    """
    name = parse_ref(ref).name
    model, sep, environment = name.rpartition("/")
    return (model, environment) if sep and model else (name, name)


def version_parts(ref: str) -> tuple[str, str] | None:
    """(model, version) of ``model:<name>@<version>``; None for anything else.

    Never raises (see :func:`parse_or_none`).
    """
    parsed = parse_or_none(ref)
    if parsed is None or parsed.kind != "model" or parsed.version is None:
        return None
    return parsed.name, parsed.version


def parse_or_none(ref: object) -> EntityRef | None:
    """Parse an entity reference, or return None when ``ref`` is not one.

    Projections use this for payload fields: a stray value is better ignored
    than allowed to stop a rebuild.
    """
    if not isinstance(ref, str):
        return None
    try:
        return parse_ref(ref)
    except InvalidEvent:
        return None
