"""Every fenced block of README.md and docs/ runs as written, or says why it cannot.

Each document runs top to bottom in its own temporary directory (console
transcripts, shell scripts, Python, GraphQL, expected outputs, in order). The
``sh``, ``python`` and ``graphql`` blocks of every document share one server:
a real ``rollout-ledger serve`` over a ledger loaded with ``rollout-ledger
demo``, with ``$LEDGER_URL``, ``$TOKEN`` (a pipeline token) and ``$LEDGER_DB``
in their environment; GraphQL documents are sent with an admin token, which
may read and append everything. tests/docs_harness.py says what each kind of
block must do; the meta-tests below fail when a block is none of them.
"""

from __future__ import annotations

import gc
import importlib
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs; it comes with openlineage-python

from ledger.auth import ROLES
from tests.docs_harness import (
    CHECKED,
    ROOT,
    Block,
    Server,
    blocks,
    console_steps,
    documents,
    empty_fields,
    exec_python,
    json_matches,
    kind,
    parse_expected_json,
    pattern,
    run_console,
    run_shell,
    serve,
)

BLOCKS = {str(path.relative_to(ROOT)): blocks(path) for path in documents()}
_SERVED = {"sh", "python", "graphql"}
_RUN = _SERVED | {"console", "output", "json", "yaml"}
RUNNABLE = sorted(doc for doc, found in BLOCKS.items() if any(kind(b) in _RUN for b in found))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("docs-server"), ROLES) as running:
        yield running


def _graphql(server: Server, block: Block) -> str:
    response = httpx.post(
        f"{server.url}/graphql",
        json={"query": block.text},
        headers={"Authorization": f"Bearer {server.tokens['admin']}"},
        timeout=30,
    )
    assert response.status_code == 200, f"{block}: {response.text}"
    body = response.json()
    assert "errors" not in body, f"{block}: {body['errors']}"
    assert not empty_fields(body["data"]), f"{block}: nothing in {empty_fields(body['data'])}"
    return json.dumps(body)


def _check_output(block: Block, printed: str) -> None:
    if block.lang == "json":
        expected = parse_expected_json(block.text)
        actual = json.loads(printed)
        assert json_matches(expected, actual), (
            f"{block}\n--- expected\n{block.text}--- got\n{json.dumps(actual, indent=2)}"
        )
    else:
        assert pattern(block.text.rstrip("\n")).fullmatch(printed.rstrip("\n")), (
            f"{block}\n--- expected\n{block.text}--- got\n{printed}"
        )


def _run_blocks(found: list[Block], cwd: Path, server: Server | None) -> None:
    """Run a document's blocks in order; Python blocks share one namespace."""
    namespace: dict[str, object] = {"__name__": "__main__"}
    printed: str | None = None  # what the block before printed, for an output block
    for block in found:
        what = kind(block)
        if what == "console":
            for command, expected in console_steps(block.text):
                result = run_console(command, cwd)
                assert result.returncode == 0, f"{block}: $ {command}\n{result.stderr}"
                assert pattern(expected.rstrip("\n")).fullmatch(result.stdout.rstrip("\n")), (
                    f"{block}: $ {command}\n--- expected\n{expected}--- got\n{result.stdout}"
                )
            printed = None
        elif what == "sh":
            assert server is not None
            result = run_shell(block.text, cwd, server.env())
            assert result.returncode == 0, f"{block}\n{block.text}{result.stdout}{result.stderr}"
            printed = result.stdout
        elif what == "python":
            printed = exec_python(block.text, namespace, str(block))
        elif what == "graphql":
            assert server is not None
            printed = _graphql(server, block)
        elif what == "output":
            assert printed is not None, f"{block}: an output block must follow sh, python, graphql"
            _check_output(block, printed)
            printed = None
        elif what == "json":
            json.loads(block.text)
        elif what == "yaml":
            list(yaml.safe_load_all(block.text))


@pytest.mark.parametrize("doc", RUNNABLE)
def test_every_block_of_the_document_runs(
    doc: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = BLOCKS[doc]
    server: Server | None = None
    if any(kind(b) in _SERVED for b in found):
        server = request.getfixturevalue("server")
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)  # for the python blocks, run in this process
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        # The examples are scripts: a client one leaves open is closed when the script
        # ends, here when its objects are collected, which is no failure of the page.
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            _run_blocks(found, tmp_path, server)
        finally:
            gc.collect()


# ---- nothing slips through ----------------------------------------------------------------


@pytest.mark.parametrize("doc", sorted(BLOCKS))
def test_every_block_is_run_or_marked_not_run(doc: str) -> None:
    unchecked = [f"{b}: {kind(b)}" for b in BLOCKS[doc] if kind(b) not in CHECKED]
    assert not unchecked, (
        "run these blocks (see tests/docs_harness.py for the kinds) "
        "or put <!-- not-run --> on the line before them:\n" + "\n".join(unchecked)
    )


def test_output_blocks_follow_a_block_that_prints() -> None:
    for found in BLOCKS.values():
        for before, block in zip([None, *found], found, strict=False):
            if kind(block) == "output":
                assert block.lang in {"json", "text"}, f"{block}: output is json or text"
                assert before is not None, f"{block}: nothing before it"
                assert kind(before) in _SERVED, f"{block}: follows {before}, which is not run"


def test_blocks_checked_elsewhere_name_a_test_module_that_reads_them() -> None:
    for found in BLOCKS.values():
        for block in found:
            if kind(block) == "tested-in":
                module = ROOT / (block.marker_arg or "")
                assert module.is_file(), f"{block}: no test module {block.marker_arg!r}"
                assert block.doc in module.read_text(), f"{module} does not read {block.doc}"
            if kind(block) == "test-command":
                assert block.doc == "README.md", f"{block}: only the README has the CI command"


def test_the_parser_sees_every_fence_and_its_marker(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Text.\n\n```console\n$ true\n```\n\n<!-- not-run: needs a cluster -->\n"
        "```sh\nkubectl apply\n```\n\n1. A step:\n\n   ```python\n   x = 1\n   ```\n\n"
        "````markdown\n```sh\nnested\n```\n````\n\n~~~\nplain\n~~~\n\n"
        "<!-- output -->\n```text\nok\n```\n\n```graphql\n{ unclosed }\n"
    )
    found = blocks(page)
    assert [(b.lang, kind(b)) for b in found] == [
        ("console", "console"),
        ("sh", "not-run"),
        ("python", "python"),
        ("markdown", "unchecked markdown"),
        ("", "unchecked block without a language"),
        ("text", "output"),
        ("graphql", "unchecked: the page ends before its closing fence"),
    ]
    assert found[1].marker_arg == "needs a cluster"
    assert found[3].text == "```sh\nnested\n```\n"


def _anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings (fenced blocks hold no headings)."""
    found: set[str] = set()
    fenced = False
    for line in page.read_text().split("\n"):
        if re.match(r"^ {0,3}(```|~~~)", line):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"^#{1,6} (.*)$", line)):
            found.add(re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-"))
    return found


@pytest.mark.parametrize("doc", sorted(BLOCKS))
def test_every_relative_link_and_anchor_resolves(doc: str) -> None:
    page = ROOT / doc
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        linked = page.parent / path if path else page
        if not linked.exists() or (
            anchor and linked.suffix == ".md" and anchor not in _anchors(linked)
        ):
            broken.append(target)
    assert broken == []


def test_the_guides_are_checked() -> None:
    for doc in ("README.md", "docs/auditors.md", "docs/graphql.md", "docs/pipelines.md"):
        assert doc in RUNNABLE


@pytest.mark.parametrize(
    ("expected", "actual", "matches"),
    [
        ('{"seq": …, "hash": "…"}', {"seq": 3, "hash": "ab"}, True),
        ('{"seq": …, "hash": "…"}', {"seq": 3}, False),
        ('{"events": [{"created": true}, …]}', {"events": [{"created": True}, {}]}, True),
        ('{"events": [{"created": true}]}', {"events": [{"created": 1}]}, False),
        ('{"code": "schema_…"}', {"code": "schema_violation"}, True),
        ('{"code": "conflict"}', {"code": "conflicts"}, False),
    ],
)
def test_output_wildcards(expected: str, actual: object, matches: bool) -> None:
    assert json_matches(parse_expected_json(expected), actual) is matches


def test_the_readme_export_example_has_the_fields_of_a_real_export(server: Server) -> None:
    (example,) = [b for b in BLOCKS["README.md"] if b.lang == "json"]
    shown = json.loads(example.text)
    exported = run_console(f"rollout-ledger --db {server.db} export --out -", ROOT)
    real = json.loads(exported.stdout.splitlines()[1])
    assert set(shown) == set(real)
    assert {k: type(v) for k, v in shown.items()} == {k: type(v) for k, v in real.items()}
    assert shown["type"] == "test.result.recorded"


def _error_table() -> dict[str, tuple[str, str]]:
    text = (ROOT / "docs" / "errors.md").read_text()
    rows = re.findall(r"^\| \[`(\w+)`\]\(#\1\) \| (\S+) \| (\d+) \|", text, flags=re.MULTILINE)
    return {code: (exit_code, status) for code, exit_code, status in rows}


def test_the_errors_table_gives_each_code_its_real_exit_status_and_http_status() -> None:
    from ledger import errors
    from ledger.api.errors import HTTP_STATUS, INTERNAL_ERROR
    from ledger.cli._common import EXIT_CODES

    table = _error_table()
    classes = [
        c
        for c in vars(errors).values()
        if isinstance(c, type) and issubclass(c, errors.LedgerError)
    ]
    assert set(table) == {c.code for c in classes} | {INTERNAL_ERROR}
    for cls in classes:
        exit_code = next((n for base, n in EXIT_CODES.items() if issubclass(cls, base)), None)
        status = next(HTTP_STATUS[base] for base in cls.__mro__ if base in HTTP_STATUS)
        shown_exit, shown_status = table[cls.code]
        assert shown_exit == (str(exit_code) if exit_code else "1") or (
            shown_exit == "\u2013" and exit_code is None  # never raised by the CLI
        ), cls.code
        assert shown_status == str(status), cls.code
    assert table[INTERNAL_ERROR][1] == "500"


OWN = ["README.md", "docs/architecture.md", "docs/operations.md", "docs/integrations.md",
       "docs/pipelines.md", "docs/graphql.md", "docs/errors.md", "docs/benchmarks.md"]  # fmt: skip


@pytest.mark.parametrize("doc", OWN)
def test_the_files_a_document_names_exist(doc: str) -> None:
    text = (ROOT / doc).read_text()
    named = set(re.findall(r"\b((?:ledger|tests|scripts)/[\w/]+\.py)\b", text))
    assert [path for path in sorted(named) if not (ROOT / path).is_file()] == []


@pytest.mark.parametrize("doc", ["docs/architecture.md", "docs/errors.md"])
def test_the_code_a_document_names_exists(doc: str) -> None:
    missing = []
    for name in sorted(set(re.findall(r"`(ledger(?:\.\w+)+)`", (ROOT / doc).read_text()))):
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                found: object = importlib.import_module(".".join(parts[:cut]))
            except ModuleNotFoundError:
                continue
            for attribute in parts[cut:]:
                found = getattr(found, attribute, None)
            break
        if found is None:
            missing.append(name)
    assert missing == []


def test_the_pipeline_guide_lists_exactly_what_a_pipeline_token_may_append() -> None:
    from ledger.schema_files import load_catalogue

    text = (ROOT / "docs" / "pipelines.md").read_text()
    listed = text.split("A `pipeline` token appends facts.", 1)[1].split("\n\n", 2)[1]
    catalogue = load_catalogue()
    allowed = {t for t in catalogue.types if "pipeline" in catalogue.allowed_roles(t)}
    assert set(re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", listed)) == allowed
