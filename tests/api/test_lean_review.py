"""Defects found reviewing the lean GraphQL path, each checked on both paths.

Every test runs against the lean paths (``GraphQLView.lean`` and
``LedgerSchema.lean``) and against strawberry's own, which must answer alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import strawberry
from graphql import ASTValidationRule
from graphql.validation.validation_context import ASTValidationContext
from strawberry.extensions.parser_cache import _get_parse_cache
from strawberry.extensions.validation_cache import _get_validate_cache

from ledger.api import Settings, create_app
from ledger.api.graphql import GraphQLView, LedgerSchema
from ledger.api.graphql.pipeline import MAX_CACHED_QUERY, LeanOperations, RequestPipeline
from ledger.catalogue import Catalogue
from ledger.service import Ledger
from tests.api.conftest import Headers, TestClient

DEEP = "{ models { nodes { " + "versions { model { " * 6 + "name" + " } }" * 6 + " } } }"
"""Valid but for its depth (14 > 12)."""
CACHE_SIZE = 256  # schema._CACHE_SIZE: the shared parse and validation caches


def _view(client: TestClient) -> GraphQLView:
    view = next(
        getattr(r, "endpoint", None)
        for r in client.app.routes  # type: ignore[attr-defined]
        if getattr(r, "path", "") == "/graphql"
    )
    assert isinstance(view, GraphQLView)
    return view


@pytest.fixture(params=["lean", "strawberry"])
def any_client(
    request: pytest.FixtureRequest, signed_ledger: Ledger, catalogue: Catalogue
) -> Iterator[TestClient]:
    """A client over the lean paths, then one over strawberry's own."""
    app = create_app(signed_ledger, Settings(poll_interval=0.05), catalogue=catalogue)
    with TestClient(app, raise_server_exceptions=False) as client:
        if request.param == "strawberry":
            view = _view(client)
            view.lean = False
            assert isinstance(view.schema, LedgerSchema)
            view.schema.lean = None
        yield client


def _rejects(client: TestClient, headers: Headers) -> dict[str, float]:
    text = client.get("/metrics", headers=headers("auditor")).text
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("ledger_rejects_total"):
            name, value = line.rsplit(" ", 1)
            found[name.split('"')[1]] = float(value)
    return found


def test_a_spread_of_an_unknown_fragment_is_a_bad_request(
    any_client: TestClient, headers: Headers, caplog: pytest.LogCaptureFixture
) -> None:
    """strawberry's depth rule raised KeyError: a 500 (lean) or an uncoded, logged error."""
    with caplog.at_level(logging.ERROR):
        response = any_client.post(
            "/graphql", json={"query": "{ ...Missing }"}, headers=headers("auditor")
        )
    assert response.status_code == 200, response.text
    errors = response.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["bad_request"]
    assert errors[0]["message"] == "Unknown fragment 'Missing'."
    assert not caplog.records
    # A defined fragment still counts towards the depth limit.
    query = "{ ...F } fragment F on Query " + DEEP
    response = any_client.post("/graphql", json={"query": query}, headers=headers("auditor"))
    assert "exceeds maximum operation depth" in response.json()["errors"][0]["message"]


def test_a_subscription_over_http_is_refused_not_an_internal_error(
    any_client: TestClient, headers: Headers, caplog: pytest.LogCaptureFixture
) -> None:
    """A subscription needs the websocket; over POST or GET it is the client's mistake."""
    query = "subscription { events { seq } }"
    with caplog.at_level(logging.ERROR):
        posted = any_client.post("/graphql", json={"query": query}, headers=headers("auditor"))
        got = any_client.get("/graphql", params={"query": query}, headers=headers("auditor"))
    assert (posted.status_code, posted.text) == (
        400,
        "subscriptions are not allowed when using POST",
    )
    assert (got.status_code, got.text) == (400, "subscriptions are not allowed when using GET")
    assert not caplog.records
    assert "internal_error" not in _rejects(any_client, headers)


def test_long_documents_are_answered_but_not_cached(
    any_client: TestClient, headers: Headers
) -> None:
    """The caches hold 256 entries each: they must not hold 256 bodies of megabytes."""
    view = _view(any_client)
    assert isinstance(view.schema, LedgerSchema)
    lean = view.schema.lean
    padding = "#" + "x" * MAX_CACHED_QUERY + "\n"
    caches = [_get_parse_cache(CACHE_SIZE), _get_validate_cache(CACHE_SIZE)]
    if lean is not None:
        caches.append(lean._prepare)
    misses = [c.cache_info().misses for c in caches]  # type: ignore[attr-defined]
    response = any_client.post(
        "/graphql", json={"query": "{ __typename " + padding + "}"}, headers=headers("auditor")
    )
    assert response.json() == {"data": {"__typename": "Query"}}
    # The limits still apply to them.
    response = any_client.post(
        "/graphql", json={"query": DEEP + padding}, headers=headers("auditor")
    )
    assert "exceeds maximum operation depth" in response.json()["errors"][0]["message"]
    assert [c.cache_info().misses for c in caches] == misses  # type: ignore[attr-defined]
    # An ordinary document is still cached.
    response = any_client.post(
        "/graphql", json={"query": "{ __typename } # review"}, headers=headers("auditor")
    )
    assert response.status_code == 200
    assert [c.cache_info().misses for c in caches] != misses  # type: ignore[attr-defined]


@strawberry.type
class _Query:
    @strawberry.field
    def ok(self) -> bool:
        return True


class _Exploding(ASTValidationRule):
    def __init__(self, context: ASTValidationContext) -> None:
        raise RuntimeError("secret detail of a broken rule")


@pytest.mark.parametrize("lean", [True, False])
def test_an_exception_in_validation_is_masked_and_counted_once(
    lean: bool, caplog: pytest.LogCaptureFixture
) -> None:
    codes: list[str] = []
    rules: tuple[type[Any], ...] = (_Exploding,)
    schema = LedgerSchema(
        query=_Query, extensions=[lambda: RequestPipeline(4000, rules, 8, codes.append)]
    )
    schema.on_error = codes.append
    if lean:
        schema.lean = LeanOperations(schema, 4000, rules, 8, codes.append)
    with caplog.at_level(logging.ERROR):
        result = asyncio.run(schema.execute("{ ok }"))
    assert result.errors is not None
    assert [(e.message, e.extensions) for e in result.errors] == [
        ("internal error; the server log has the details", {"code": "internal_error"})
    ]
    assert codes == ["internal_error"]
    assert "secret detail" in caplog.text  # the server log has it


@pytest.mark.parametrize(
    "body", [b'"x"', b"3", b"null", b"true", b'[{"query": "{ __typename }"}, 1]']
)
def test_a_body_that_is_not_an_object_is_a_bad_request(
    any_client: TestClient, headers: Headers, body: bytes
) -> None:
    """strawberry read such a body with .get(): an AttributeError, a 500."""
    response = any_client.post(
        "/graphql",
        content=body,
        headers={**headers("auditor"), "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert "must be a JSON object" in response.text
