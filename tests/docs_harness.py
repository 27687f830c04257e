"""Find, classify and run the fenced code blocks of README.md and the pages under docs/.

Every block is one of the kinds in :data:`CHECKED`, or the meta-test in
tests/test_docs.py fails. What decides the kind is the block's language and
the HTML comment on the last non-blank line before its fence:

=====================================  =============================================================
``<!-- not-run -->`` (or ``: why``)    skipped: it cannot run here (another host, minutes of work)
``<!-- test-command -->``              README only: the command CI runs (.ci/run reads the line)
``<!-- tested-in: tests/x.py -->``     run by that test module, not by the generic runner
``<!-- output -->``                    the expected output of the block before it (json or text)
``console``                            ``$ command`` lines and their output; ``…`` is any text
``sh`` / ``bash``                      a script; must exit 0 (``$LEDGER_URL``, ``$TOKEN`` set)
``python``                             run in one namespace per document (same variables)
``graphql``                            sent to the demo server; no errors, non-empty data
``json``                               must parse (``…`` inside strings stands for any text)
``yaml``                               must parse
=====================================  =============================================================

In an ``output`` block, ``…`` inside a string stands for any text, and a bare
``…`` stands for any value (as an array's last item: any further items).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port
from tests.servers import serve as serve_ledger

__all__ = [
    "BIN",
    "CHECKED",
    "ROOT",
    "Block",
    "Server",
    "blocks",
    "documents",
    "empty_fields",
    "free_port",
    "json_matches",
    "kind",
    "parse_expected_json",
    "pattern",
    "run_console",
    "run_shell",
    "serve",
]

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ANY = "\x00any\x00"
"""What a bare ``…`` in an output block parses to: any value."""

CHECKED = frozenset(
    {"not-run", "test-command", "tested-in", "output", "console", "sh", "python", "graphql",
     "json", "yaml"}
)  # fmt: skip
"""The kinds a block may have; anything else is an unchecked block."""

_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<lang>[^`\s]*)[^`]*$")
_MARKER = re.compile(r"^<!-- (?P<name>[a-z-]+)(?::\s*(?P<arg>.*?))? -->$")
_LANG_KIND = {"console": "console", "sh": "sh", "bash": "sh", "shell": "sh"} | {
    k: k for k in ("python", "graphql", "json", "yaml")
}


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown document."""

    doc: str
    """Path relative to the repository root, e.g. ``docs/pipelines.md``."""
    line: int
    """1-based line of the opening fence."""
    lang: str
    text: str
    marker: str | None
    """The name of the HTML comment just before the fence (``not-run``, ``output`` …)."""
    marker_arg: str | None
    closed: bool = True
    """False when the document ends before the closing fence."""

    def __str__(self) -> str:
        return f"{self.doc}:{self.line} ({self.lang or 'no language'})"


def documents() -> list[Path]:
    """README.md and every page under docs/, the pages whose blocks must all be checked."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``, in order."""
    lines = path.read_text().split("\n")
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening.group("fence")
        end = index + 1
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        before = [line.strip() for line in lines[:index] if line.strip()]
        marker = _MARKER.match(before[-1]) if before else None
        found.append(
            Block(
                doc=str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
                line=index + 1,
                lang=opening.group("lang"),
                text="\n".join(lines[index + 1 : end]) + "\n",
                marker=marker.group("name") if marker else None,
                marker_arg=marker.group("arg") if marker else None,
                closed=end < len(lines),
            )
        )
        index = end + 1
    return found


def _closes(line: str, fence: str) -> bool:
    """CommonMark: a closing fence is the same character, at least as long, nothing after."""
    stripped = line.strip()
    return stripped.startswith(fence) and set(stripped) == {fence[0]}


def kind(block: Block) -> str:
    """How the block is checked; a value outside :data:`CHECKED` means it is not."""
    if not block.closed:
        return "unchecked: the page ends before its closing fence"
    if block.marker in {"not-run", "test-command", "tested-in", "output"}:
        return block.marker
    return _LANG_KIND.get(block.lang, f"unchecked {block.lang or 'block without a language'}")


# ---- console transcripts ------------------------------------------------------------------


def pattern(expected: str) -> re.Pattern[str]:
    """``expected`` as a regex in which ``…`` stands for any text on its line."""
    parts = [re.escape(piece) for piece in expected.split("…")]
    return re.compile("[^\n]*".join(parts))


def console_steps(text: str) -> list[tuple[str, str]]:
    """The ``$ command`` lines of a console block and the output expected of each."""
    steps: list[tuple[str, str]] = []
    for step in re.split(r"^\$ ", text, flags=re.MULTILINE)[1:]:
        command, _, expected = step.partition("\n")
        if command.rstrip().endswith("<<'PY'"):  # a heredoc: the body is part of the command
            body, _, expected = expected.partition("PY\n")
            command = f"{command}\n{body}PY"
        steps.append((command, expected))
    return steps


def run_console(
    command: str, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one console command with bash in ``cwd``, the ledger's scripts on PATH."""
    full = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    full.pop("LEDGER_DB", None)
    full.pop("LEDGER_KEY_DIR", None)
    full.update(env or {})
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=full, capture_output=True, text=True, timeout=120
    )


def run_shell(script: str, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run an ``sh`` block as one bash script that stops at the first failing command."""
    return run_console(f"set -eo pipefail\n{script}", cwd, env)


# ---- expected output ----------------------------------------------------------------------


def parse_expected_json(text: str) -> object:
    """An output block: JSON in which a bare ``…`` is any value.

    Raises:
        ValueError: it is not JSON, even with the bare ``…`` read as values.
    """
    out: list[str] = []
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped = char == "\\" and not escaped
            if char == '"' and not escaped:
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "…":
            out.append(json.dumps(ANY))
            continue
        out.append(char)
    return json.loads("".join(out))


def json_matches(expected: object, actual: object) -> bool:
    """Whether ``actual`` has the shape and values of ``expected`` (with its wildcards)."""
    if expected == ANY:
        return True
    if isinstance(expected, str):
        return isinstance(actual, str) and bool(
            re.fullmatch(".*".join(map(re.escape, expected.split("…"))), actual, re.DOTALL)
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and set(expected) == set(actual)
            and all(json_matches(v, actual[k]) for k, v in expected.items())
        )
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return False
        if expected and expected[-1] == ANY:
            head = expected[:-1]
            return len(actual) >= len(head) and all(map(json_matches, head, actual))
        return len(expected) == len(actual) and all(map(json_matches, expected, actual))
    if isinstance(expected, bool) or expected is None:
        return expected is actual
    return not isinstance(actual, bool) and expected == actual


def empty_fields(data: Mapping[str, object]) -> list[str]:
    """The top-level fields of a GraphQL answer that hold nothing (null, [], only nulls)."""

    def empty(value: object) -> bool:
        if isinstance(value, dict):
            return all(empty(v) for v in value.values())
        if isinstance(value, list):
            return all(empty(v) for v in value)
        return value is None

    return [name for name, value in data.items() if empty(value)]


# ---- a real server over the demo ledger ---------------------------------------------------


@dataclass(frozen=True)
class Server:
    """A running ``rollout-ledger serve`` and what the examples need to use it."""

    url: str
    db: Path
    tokens: Mapping[str, str]
    """One token per role, named ``docs-<role>``."""

    def env(self) -> dict[str, str]:
        """What ``sh`` and ``python`` blocks find in their environment."""
        return {
            "LEDGER_URL": self.url,
            "TOKEN": self.tokens["pipeline"],
            "LEDGER_DB": str(self.db),
            "LEDGER_KEY_DIR": str(self.db.with_suffix(".keys")),
        }


def _cli(*args: str) -> str:
    """Run a command in this process (no interpreter start: the fixture stays fast)."""
    from click.testing import CliRunner

    from ledger.cli import cli

    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, f"rollout-ledger {' '.join(args)}: {result.output}"
    return result.stdout


@contextlib.contextmanager
def serve(directory: Path, roles: tuple[str, ...]) -> Iterator[Server]:
    """The demo story in a fresh ledger, one token per role, served on a free port."""
    db = directory / "demo.db"
    _cli("--db", str(db), "init")
    _cli("--db", str(db), "demo")
    tokens = {
        role: _cli("--db", str(db), "token", "create", "--name", f"docs-{role}", "--role", role)
        .strip()
        for role in roles
    }  # fmt: skip
    with serve_ledger(db, "--checkpoint-interval", "0", log=directory / "serve.log") as url:
        yield Server(url, db, tokens)


def exec_python(code: str, namespace: dict[str, object], name: str) -> str:
    """Run a ``python`` block in ``namespace``; return what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, name, "exec"), namespace)  # noqa: S102 - the docs' own examples
    return out.getvalue()
