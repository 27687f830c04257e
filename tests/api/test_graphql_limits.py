"""Bounded GraphQL: depth, tokens, aliases, fields, body size, and masked unexpected errors."""

from __future__ import annotations

import pytest

from ledger.api import Settings, create_app
from ledger.catalogue import Catalogue
from ledger.service import Ledger
from tests.api.conftest import Headers, TestClient, error_codes, gql


def test_a_query_deeper_than_the_limit_is_refused_before_it_runs(
    signed_ledger: Ledger, catalogue: Catalogue, headers: Headers
) -> None:
    query = "{ events { edges { node { seq } } } }"
    with TestClient(create_app(signed_ledger, catalogue=catalogue)) as client:
        assert error_codes(gql(client, query, headers("auditor"))) == []
    app = create_app(signed_ledger, Settings(max_query_depth=2), catalogue=catalogue)
    with TestClient(app) as client:
        body = gql(client, query, headers("auditor"))
        assert error_codes(body) == ["bad_request"]
        assert "exceeds maximum operation depth" in body["errors"][0]["message"]  # type: ignore[index]
        assert body.get("data") is None
        shallow = gql(client, "{ checkpoint { treeSize } }", headers("auditor"))
        assert error_codes(shallow) == []


def test_too_many_aliases_are_refused(client: TestClient, headers: Headers) -> None:
    query = "{ " + " ".join(f"a{i}: checkpoint {{ treeSize }}" for i in range(31)) + " }"
    body = gql(client, query, headers("auditor"))
    assert error_codes(body) == ["bad_request"]
    assert "aliases" in body["errors"][0]["message"]  # type: ignore[index]


def test_too_many_tokens_are_refused_at_parse_time(client: TestClient, headers: Headers) -> None:
    query = "{ checkpoint { " + "treeSize " * 5000 + "} }"
    body = gql(client, query, headers("auditor"))
    assert error_codes(body) == ["bad_request"]
    assert "token" in body["errors"][0]["message"].lower()  # type: ignore[index]


def test_too_many_fields_through_fragments_are_refused(
    client: TestClient, headers: Headers
) -> None:
    fragments = "fragment F on Event { seq type subject actor hash prevHash eventId occurredAt }"
    spreads = " ".join(f"e{i}: event(seq: {i}) {{ ...F ...F ...F }}" for i in range(1, 30))
    body = gql(client, "{ " + spreads + " } " + fragments, headers("auditor"))
    assert error_codes(body) == ["bad_request"]
    assert "fields" in body["errors"][0]["message"]  # type: ignore[index]


def test_a_huge_graphql_body_gets_413(client: TestClient, headers: Headers) -> None:
    response = client.post(
        "/graphql",
        content=b'{"query": "' + b" " * (10 * 1024 * 1024) + b'{ checkpoint { treeSize } }"}',
        headers={**headers("auditor"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_syntax_errors_are_bad_requests(client: TestClient, headers: Headers) -> None:
    response = client.post("/graphql", json={"query": "{ events { "}, headers=headers("auditor"))
    assert response.json()["errors"][0]["extensions"]["code"] == "bad_request"


def test_unexpected_resolver_errors_are_masked_and_logged(
    client: TestClient,
    headers: Headers,
    signed_ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(*_: object) -> None:
        raise RuntimeError("connection string postgresql://admin:hunter2@db")

    monkeypatch.setattr(signed_ledger, "consistency_proof", explode)
    body = gql(client, "{ consistencyProof(first: 0) { second } }", headers("auditor"))
    assert body["errors"] == [
        {
            "message": "internal error; the server log has the details",
            "locations": [{"line": 1, "column": 3}],
            "path": ["consistencyProof"],
            "extensions": {"code": "internal_error"},
        }
    ]
    assert "hunter2" in caplog.text


def test_graphiql_is_served_to_browsers(client: TestClient) -> None:
    response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


def test_introspection_works_for_clients_and_tools(client: TestClient, headers: Headers) -> None:
    body = gql(client, "{ __schema { queryType { name } subscriptionType { name } } }")
    assert body["data"] == {
        "__schema": {"queryType": {"name": "Query"}, "subscriptionType": {"name": "Subscription"}}
    }


def test_a_variable_of_the_wrong_type_is_a_bad_request_not_an_internal_error(
    client: TestClient, headers: Headers
) -> None:
    body = gql(
        client,
        "query ($f: Int!) { events(first: $f) { edges { node { seq } } } }",
        headers("auditor"),
        f="x",
    )
    errors = body["errors"]
    assert isinstance(errors, list)
    assert {e["extensions"]["code"] for e in errors} == {"bad_request"}
