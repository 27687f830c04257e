"""Fixtures for the API: a signed ledger, one token per role, and a test client."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from ledger.api import Settings, create_app
from ledger.auth import ROLES, hash_token, new_token
from ledger.catalogue import Catalogue
from ledger.keys import create_signer
from ledger.schema_files import load_catalogue
from ledger.service import Ledger
from ledger.store import EventStore
from ledger.store.protocol import TokenRecord
from tests.helpers import StepClock, id_factory

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 for its test client; httpx still works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

__all__ = ["Headers", "TestClient"]

Headers = Callable[[str], dict[str, str]]
"""``headers(role)``: the Authorization header of that role's token."""


@pytest.fixture
def backend() -> str:
    """The API is tested over SQLite; the store suite covers every backend."""
    return "sqlite"


@pytest.fixture
def signed_ledger(store: EventStore, tmp_path: Path, catalogue: Catalogue) -> Ledger:
    """A ledger with a signing key and the shipped catalogue, as ``serve`` builds it."""
    signer = create_signer(tmp_path / "keys", "rollout-ledger.test/api")
    return Ledger(
        store,
        clock=StepClock(),
        new_id=id_factory(),
        signer=signer,
        origin=signer.key_name,
        catalogue=catalogue,
    )


@pytest.fixture
def tokens(store: EventStore) -> dict[str, str]:
    """One live token per role, named after it."""
    made: dict[str, str] = {}
    for role in ROLES:
        secret = new_token()
        store.add_token(TokenRecord(role, role, hash_token(secret), "2026-11-01T00:00:00Z"))
        made[role] = secret
    return made


@pytest.fixture
def headers(tokens: dict[str, str]) -> Headers:
    return lambda role: {"Authorization": f"Bearer {tokens[role]}"}


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def settings() -> Settings:
    return Settings(poll_interval=0.05)


@pytest.fixture
def client(
    signed_ledger: Ledger, settings: Settings, catalogue: Catalogue, tokens: dict[str, str]
) -> Iterator[TestClient]:
    app = create_app(signed_ledger, settings, catalogue=catalogue)
    with TestClient(app) as test_client:
        yield test_client


def gql(
    client: TestClient, query: str, headers: dict[str, str] | None = None, **variables: object
) -> dict[str, object]:
    """POST a GraphQL document; return the decoded response body."""
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers or {}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, dict)
    return body


def error_codes(body: dict[str, object]) -> list[str]:
    """The ``extensions.code`` of every error in a GraphQL response."""
    errors = body.get("errors") or []
    assert isinstance(errors, list)
    return [e["extensions"]["code"] for e in errors]


def make_event(n: int = 0, **overrides: object) -> dict[str, object]:
    """A valid ``test.result.recorded`` event as a client sends it, varied by ``n``."""
    event: dict[str, object] = {
        "type": "test.result.recorded",
        "subject": f"model:fraud-detector@1.{n % 5}.0",
        "data": {
            "suite": "offline-eval",
            "kind": "evaluation",
            "passed": True,
            "metrics": {"auc": 0.9 + n / 100_000},
        },
    }
    event.update(overrides)
    return event
