"""docs/events.md is generated from schema/events; this fails when it drifts."""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path
from types import ModuleType

from ledger.catalogue import Catalogue
from ledger.schema_files import load_catalogue

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gen_events_doc.py"
DOC = ROOT / "docs" / "events.md"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_events_doc", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _render(catalogue: Catalogue) -> str:
    text = _generator().render(catalogue)
    assert isinstance(text, str)
    return text


def test_the_event_catalogue_doc_matches_the_schemas() -> None:
    expected = _render(load_catalogue(ROOT / "schema" / "events"))
    actual = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    if actual != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    actual.splitlines(keepends=True),
                    expected.splitlines(keepends=True),
                    "docs/events.md",
                    "generated",
                )
            )[:40]
        )
        raise AssertionError(
            "docs/events.md is out of date with schema/events; "
            f"run `python scripts/gen_events_doc.py` and commit the result.\n{diff}"
        )


def test_the_doc_has_one_section_per_event_type_with_its_example() -> None:
    catalogue = load_catalogue(ROOT / "schema" / "events")
    text = _render(catalogue)
    sections = [line[4:-1] for line in text.splitlines() if line.startswith("## `")]
    assert sections == list(catalogue.types)
    assert text.count("Example `data`:") == len(catalogue)
