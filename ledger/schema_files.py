"""Find and read the event schemas, from a source checkout or an installed wheel.

This is not core: it reads files, and only the composition roots (the CLI, the
app factory, test fixtures) call it, handing the resulting
:class:`~ledger.catalogue.Catalogue` to the core.

Where the schemas live:

* In the repository, the real files are ``schema/events/<type>.json``;
  ``ledger/_schema`` is a symlink to ``../schema``.
* The wheel ships them as package data under ``ledger/_schema/events/``
  (setuptools follows the symlink and copies the files in).

:func:`schema_dir` looks in the package first (which covers the wheel, an
editable install and a checkout with the symlink) and falls back to the
checkout's ``schema/events`` for checkouts made without symlinks (Windows).
"""

from __future__ import annotations

import json
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from ledger.catalogue import Catalogue

__all__ = ["load_catalogue", "read_schemas", "schema_dir"]

_PACKAGED = ("_schema", "events")
_CHECKOUT = Path(__file__).resolve().parent.parent / "schema" / "events"


def _has_schemas(directory: Traversable) -> bool:
    return directory.is_dir() and any(
        entry.name.endswith(".json") and entry.is_file() for entry in directory.iterdir()
    )


def schema_dir(path: Path | None = None) -> Traversable:
    """The directory holding ``<type>.json`` files.

    Args:
        path: an explicit directory (e.g. from a ``--schema-dir`` option); when
            given it is used as is, with no fallback.

    Raises:
        FileNotFoundError: no schema directory was found; the message lists
            every place looked at.
    """
    candidates: list[Traversable]
    if path is not None:
        candidates = [path]
    else:
        candidates = [resources.files("ledger").joinpath(*_PACKAGED), _CHECKOUT]
    for candidate in candidates:
        if _has_schemas(candidate):
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"no event schemas (*.json) found; looked in: {looked}")


def read_schemas(directory: Traversable) -> dict[str, dict[str, object]]:
    """Parse every ``<type>.json`` in ``directory``, keyed by type (the file stem).

    Raises:
        ValueError: a file is not a JSON object; the message names the file.
    """
    schemas: dict[str, dict[str, object]] = {}
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json") or not entry.is_file():
            continue
        try:
            parsed = json.loads(entry.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{entry.name}: not valid JSON ({exc})") from exc
        if not isinstance(parsed, dict):
            raise ValueError(f"{entry.name}: expected a JSON object at the top level")
        schemas[entry.name.removesuffix(".json")] = parsed
    return schemas


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Find, read and compile the event catalogue.

    Args:
        path: a directory of schemas to use instead of the shipped ones.

    Raises:
        FileNotFoundError: no schemas were found.
        ValueError: a schema file is malformed or lacks its ``x-ledger`` block.
    """
    return Catalogue.from_schemas(read_schemas(schema_dir(path)))
