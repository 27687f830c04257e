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

from ledger.errors import InvalidEvent
from ledger.refs import EntityRef, parse_ref

__all__ = [
    "POLICY_INDEX_KEY",
    "deployment_key",
    "deployment_parts",
    "model_key",
    "parse_or_none",
    "policy_key",
    "version_key",
    "version_parts",
]

POLICY_INDEX_KEY = "policies"
"""Key of the policy index document; not an entity reference, so it never collides."""


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
