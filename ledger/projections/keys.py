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

from collections.abc import Sequence

import orjson

from ledger.errors import InvalidEvent
from ledger.refs import EntityRef, parse_ref

__all__ = [
    "HISTORY_BY_SUBJECT_TYPE",
    "POLICY_INDEX_KEY",
    "TESTS_PREFIX",
    "deployment_key",
    "deployment_parts",
    "history_by_subject",
    "model_key",
    "parse_or_none",
    "policy_key",
    "test_row_key",
    "test_row_parts",
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
result per (kind, suite, environment) in seq order, assembled from the rows
of ``proj_tests`` (absent when there are none). A test result is written as
one such row, under :func:`test_row_key`, never as a rewrite of the version
document.
"""

_SEP = "\x1f"

HISTORY_BY_SUBJECT_TYPE = "test.result.recorded"
"""Events of this type enter their version's history through their subject, not a row.

Half of all events are test results, and each named its version in
``proj_history``. A store that says so (``history_by_subject`` on its
transaction) gets no such row when the subject *is* the version key the result
touched, and its ``history_of`` adds, for a key :func:`history_by_subject`
accepts, the events of this type whose subject is that key, up to the
projection position. For such a key every such event did touch it (the
handler touches ``version_key(*version_parts(subject))``, which is the subject
itself), so the answer is the same as with the rows.
"""


def history_by_subject(key: str) -> bool:
    """Whether the history of ``key`` includes the test results whose subject is ``key``.

    True for a version key in its own canonical spelling (see
    :data:`HISTORY_BY_SUBJECT_TYPE`).
    """
    parts = version_parts(key)
    return parts is not None and version_key(*parts) == key


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


def test_row_key(version: str, slot: tuple[str, str, str]) -> str:
    """The write key of one ``proj_tests`` row (:func:`test_row_parts` splits it)."""
    return _SEP.join((TESTS_PREFIX + version, *slot))


def test_row_parts(key: str) -> tuple[str, str, str, str] | None:
    """(version key, kind, environment, suite) of a :func:`test_row_key`; None for other keys."""
    if not key.startswith(TESTS_PREFIX) or _SEP not in key:
        return None
    version, kind, env, suite = key[len(TESTS_PREFIX) :].split(_SEP, 3)
    return version, kind, env, suite


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
