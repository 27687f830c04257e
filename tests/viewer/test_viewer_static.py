"""The viewer's files: served at ``/`` without a token, right content types, nothing external."""

from __future__ import annotations

import fnmatch
import re
import tomllib
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from ledger.api import create_app
from ledger.api.viewer import CONTENT_SECURITY_POLICY, STATIC_DIR
from ledger.service import Ledger

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 for its test client; httpx still works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(p for p in STATIC_DIR.iterdir() if p.is_file())
TYPES = {
    ".html": ("text/html",),
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
}
# The one absolute URL allowed: the SVG namespace, an identifier the browser never fetches.
ALLOWED_URLS = {"http://www.w3.org/2000/svg"}


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def client(ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger)) as test_client:
        yield test_client


def test_the_viewer_ships_html_js_and_css() -> None:
    assert {p.suffix for p in FILES} == {".html", ".js", ".css"}
    assert {"index.html", "app.js", "style.css"} <= {p.name for p in FILES}


def test_the_index_loads_without_a_token_under_a_strict_content_security_policy(
    client: TestClient,
) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    assert 'src="viewer/app.js"' in response.text
    # GraphQL itself still wants a token: the viewer is public, the data is not.
    refused = client.post("/graphql", json={"query": "{ checkpoint { treeSize } }"})
    assert refused.json()["errors"][0]["extensions"]["code"] == "unauthorized"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_asset_is_served_with_its_content_type(client: TestClient, path: Path) -> None:
    response = client.get(f"/viewer/{path.name}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] in TYPES[path.suffix]
    assert response.content == path.read_bytes()


def test_an_unknown_asset_is_a_404(client: TestClient) -> None:
    assert client.get("/viewer/missing.js").status_code == 404


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_file_loads_anything_from_another_host(path: Path) -> None:
    text = path.read_text()
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'`)]*", text))
    assert urls <= ALLOWED_URLS, f"{path.name} refers to {sorted(urls - ALLOWED_URLS)}"
    assert "@import" not in text


@pytest.mark.parametrize("path", [p for p in FILES if p.suffix == ".js"], ids=lambda p: p.name)
def test_every_module_import_resolves_to_a_shipped_file(path: Path) -> None:
    for target in re.findall(r'from "\./([\w-]+\.js)"', path.read_text()):
        assert (STATIC_DIR / target).is_file(), f"{path.name} imports missing {target}"


def test_the_package_data_includes_every_viewer_file() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["ledger"]
    package = ROOT / "ledger"
    for path in FILES:
        relative = path.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), f"{relative} is not shipped"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_viewer_response_carries_the_policy_and_no_sniffing(
    client: TestClient, path: Path
) -> None:
    # /viewer/index.html is a document as much as / is: same policy.
    response = client.get(f"/viewer/{path.name}")
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
