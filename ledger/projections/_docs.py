"""Reads of the registry's document shapes shared by the registry and the policy."""

from __future__ import annotations

from collections.abc import Mapping

from ledger.projections._json import as_dict, dict_list, get_num, get_str

__all__ = ["env_status", "exposure_of", "version_entry"]


def version_entry(model_doc: Mapping[str, object] | None, version: str) -> dict[str, object] | None:
    """The ``versions[]`` entry of ``version`` in a model document."""
    if model_doc is None:
        return None
    for entry in dict_list(model_doc.get("versions")):
        if get_str(entry, "version") == version:
            return entry
    return None


def env_status(
    model_doc: Mapping[str, object] | None, version: str, environment: str
) -> dict[str, object] | None:
    """``{status, exposure, strategy, seq, time}`` of a version in an environment, if any."""
    entry = version_entry(model_doc, version)
    if entry is None:
        return None
    status = as_dict(entry.get("status")).get(environment)
    return as_dict(status) if isinstance(status, dict) else None


def exposure_of(model_doc: Mapping[str, object] | None, version: str, environment: str) -> float:
    """Live exposure percent of a version in an environment (0 when it has none)."""
    status = env_status(model_doc, version, environment)
    return (get_num(status, "exposure") or 0.0) if status is not None else 0.0
