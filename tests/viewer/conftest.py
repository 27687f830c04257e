"""A real ``rollout-ledger serve`` over the demo story, and headless Chromium to drive the viewer.

The browser is the system's Chromium (Debian's ``chromium`` package; ``.ci/run``
installs it), driven by Playwright with ``executable_path`` set, so no browser
download is needed. Without a Chromium binary the browser tests skip, saying so.
Screenshots go to ``test-artifacts/viewer/`` (git-ignored) and, when
``LEDGER_TEST_ARTIFACTS`` is set, to ``$LEDGER_TEST_ARTIFACTS/viewer/`` as well.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from click.testing import CliRunner

from ledger.cli import cli
from tests.servers import serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
TOKEN_KEY = "rollout-ledger.token"  # noqa: S105 (a storage key, not a secret)
"""The sessionStorage key the viewer keeps the pasted token under (api.js)."""

Shoot = Callable[["Page", str], Path]
"""``shoot(page, name)``: save a full-page screenshot as a test artefact."""


@dataclass(frozen=True)
class Served:
    """The demo ledger behind a live server."""

    url: str
    db: Path
    token: str
    verifier_key: str

    def graphql(self, query: str, **variables: object) -> dict[str, object]:
        response = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        body = response.json()
        assert not body.get("errors"), body
        data = body["data"]
        assert isinstance(data, dict)
        return data


def chromium_path() -> str | None:
    """The system Chromium: ``LEDGER_CHROMIUM``, else ``chromium`` on PATH, else None."""
    configured = os.environ.get("LEDGER_CHROMIUM")
    if configured:
        return configured
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _cli(db: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh SQLite ledger holding the demo story."""
    db = tmp_path_factory.mktemp("viewer") / "demo.db"
    _cli(db, "init")
    _cli(db, "demo")
    return db


@pytest.fixture(scope="session")
def served(demo_db: Path) -> Iterator[Served]:
    """The demo ledger served without anonymous reads, and an auditor's token."""
    token = _cli(demo_db, "token", "create", "--name", "viewer-auditor", "--role", "auditor")
    verifier_key = _cli(demo_db, "key", "show").strip()
    with serve(demo_db) as url:
        yield Served(url, demo_db, token.strip(), verifier_key)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium binary (install Debian's `chromium`; .ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def anonymous_page(browser: Browser, served: Served) -> Iterator[Page]:
    """A fresh tab (fresh sessionStorage) on the server, with no token pasted yet."""
    yield from _tab(browser, served.url)


@pytest.fixture
def open_server_page(browser: Browser, demo_db: Path) -> Iterator[Page]:
    """A tab with no token on a second server over the same ledger, with ``--anonymous-reads``."""
    with serve(demo_db, "--anonymous-reads") as url:
        yield from _tab(browser, url)


def _tab(browser: Browser, url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(anonymous_page: Page, served: Served) -> Page:
    """A tab whose sessionStorage already holds the auditor's token, as if pasted."""
    anonymous_page.add_init_script(f"sessionStorage.setItem({TOKEN_KEY!r}, {served.token!r});")
    return anonymous_page


def _artifact_dirs() -> list[Path]:
    dirs = [ROOT / "test-artifacts" / "viewer"]
    extra = os.environ.get("LEDGER_TEST_ARTIFACTS")
    if extra:
        dirs.append(Path(extra) / "viewer")
    return dirs


@pytest.fixture(scope="session")
def shoot() -> Shoot:
    def save(page: Page, name: str) -> Path:
        first, *others = _artifact_dirs()
        first.mkdir(parents=True, exist_ok=True)
        path = first / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        for other in others:
            other.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, other / path.name)
        return path

    return save
