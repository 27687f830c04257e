"""Every console block in docs/*.md runs as written (unless marked not runnable).

Blocks are run in order, one temporary directory per document, with the
ledger's console script on PATH; ``…`` in the expected output stands for any
text on that line (hashes, times and keys differ on every run). A block
preceded by ``<!-- not-run -->`` is skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_readme import _pattern, _run

DOCS = Path(__file__).resolve().parent.parent / "docs"
_BLOCK = re.compile(r"(<!-- not-run -->\s*)?```console\n(.*?)```", re.DOTALL)


def _steps(text: str) -> list[tuple[str, str]]:
    steps: list[tuple[str, str]] = []
    for match in _BLOCK.finditer(text):
        if match.group(1):
            continue
        for step in re.split(r"^\$ ", match.group(2), flags=re.MULTILINE)[1:]:
            command, _, expected = step.partition("\n")
            if command.rstrip().endswith("<<'PY'"):  # a heredoc: the body is part of the command
                body, _, expected = expected.partition("PY\n")
                command = f"{command}\n{body}PY"
            steps.append((command, expected))
    return steps


DOCUMENTS = sorted(p.name for p in DOCS.glob("*.md") if _steps(p.read_text()))


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_console_block_in_the_document_runs(name: str, tmp_path: Path) -> None:
    for command, expected in _steps((DOCS / name).read_text()):
        result = _run(command, tmp_path)
        assert result.returncode == 0, f"{name}: $ {command}\n{result.stderr}"
        assert _pattern(expected.rstrip("\n")).fullmatch(result.stdout.rstrip("\n")), (
            f"{name}: $ {command}\n--- expected\n{expected}--- got\n{result.stdout}"
        )


def test_the_auditors_guide_is_checked() -> None:
    assert "auditors.md" in DOCUMENTS
