"""Every role against every route and root field: 401 without a token, 403 for the wrong role."""

from __future__ import annotations

import pytest

from ledger.api import Settings, create_app
from ledger.auth import ROLES
from ledger.catalogue import Catalogue
from ledger.service import Ledger
from ledger.store import EventStore
from tests.api.conftest import Headers, TestClient, error_codes, gql, make_event

CALLERS = [*ROLES, None]
"""Each role, and no token at all."""

APPEND_TYPES = ["test.result.recorded", "approval.granted", "rollout.stage.changed"]
"""One type per appending role: pipeline, approver, operator."""

APPENDERS = {
    "test.result.recorded": {"pipeline", "admin"},
    "approval.granted": {"approver", "admin"},
    "rollout.stage.changed": {"operator", "admin"},
}

READ_ROUTES = [
    "/v1/checkpoint",
    "/v1/proof/inclusion?seq=1",
    "/v1/proof/consistency?first=1",
    "/metrics",
]

READ_FIELDS = [
    "{ events(first: 1) { edges { node { seq } } } }",
    "{ event(seq: 1) { seq } }",
    '{ node(id: "RXZlbnQ6MQ==") { id } }',
    "{ checkpoint { treeSize } }",
    "{ inclusionProof(seq: 1) { treeSize } }",
    "{ consistencyProof(first: 1) { second } }",
]


def _example(catalogue: Catalogue, event_type: str) -> dict[str, object]:
    entry = catalogue.get(event_type)
    meta = entry.schema["x-ledger"]
    examples = entry.schema["examples"]
    assert isinstance(meta, dict)
    assert isinstance(examples, list)
    return {"type": event_type, "subject": meta["example_subject"], "data": examples[0]}


def _auth(headers: Headers, role: str | None) -> dict[str, str]:
    return headers(role) if role is not None else {}


@pytest.fixture
def seeded(client: TestClient, headers: Headers) -> TestClient:
    response = client.post("/v1/events", json=[make_event(0)], headers=headers("pipeline"))
    assert response.status_code == 200
    return client


@pytest.mark.parametrize("role", CALLERS)
@pytest.mark.parametrize("path", READ_ROUTES)
def test_every_token_may_read_and_no_token_gets_401(
    seeded: TestClient, headers: Headers, role: str | None, path: str
) -> None:
    response = seeded.get(path, headers=_auth(headers, role))
    assert response.status_code == (200 if role else 401)
    if role is None:
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role", CALLERS)
@pytest.mark.parametrize("event_type", APPEND_TYPES)
def test_each_role_appends_only_its_own_types_over_rest(
    client: TestClient,
    headers: Headers,
    catalogue: Catalogue,
    signed_ledger: Ledger,
    role: str | None,
    event_type: str,
) -> None:
    response = client.post(
        "/v1/events", json=[_example(catalogue, event_type)], headers=_auth(headers, role)
    )
    if role is None:
        expected = 401
    elif role in APPENDERS[event_type]:
        expected = 200
    else:
        expected = 403
    assert response.status_code == expected, response.text
    appended = signed_ledger.head().seq
    assert appended == (1 if expected == 200 else 0)
    if expected == 200:
        assert next(signed_ledger.events()).actor == role


@pytest.mark.parametrize("role", CALLERS)
@pytest.mark.parametrize("query", READ_FIELDS)
def test_every_token_may_query_and_no_token_gets_unauthorized(
    seeded: TestClient, headers: Headers, role: str | None, query: str
) -> None:
    body = gql(seeded, query, _auth(headers, role))
    assert error_codes(body) == ([] if role else ["unauthorized"])


@pytest.mark.parametrize("role", CALLERS)
def test_only_auditors_and_admins_verify_the_chain(
    seeded: TestClient, headers: Headers, role: str | None
) -> None:
    body = gql(seeded, "{ verifyChain { ok checked } }", _auth(headers, role))
    if role in {"auditor", "admin"}:
        assert body["data"] == {"verifyChain": {"ok": True, "checked": 1}}
    else:
        assert error_codes(body) == ["unauthorized" if role is None else "forbidden"]


@pytest.mark.parametrize("role", CALLERS)
@pytest.mark.parametrize("event_type", APPEND_TYPES)
def test_each_role_appends_only_its_own_types_over_graphql(
    client: TestClient,
    headers: Headers,
    catalogue: Catalogue,
    signed_ledger: Ledger,
    role: str | None,
    event_type: str,
) -> None:
    body = gql(
        client,
        "mutation($e: [EventInput!]!) { appendEvents(events: $e) { seq } }",
        _auth(headers, role),
        e=[_example(catalogue, event_type)],
    )
    if role is None:
        assert error_codes(body) == ["unauthorized"]
    elif role in APPENDERS[event_type]:
        assert body == {"data": {"appendEvents": [{"seq": 1}]}}
        assert next(signed_ledger.events()).actor == role
    else:
        assert error_codes(body) == ["forbidden"]
        assert signed_ledger.head().seq == 0


def test_anonymous_reads_open_reading_but_never_appending(
    signed_ledger: Ledger, catalogue: Catalogue, headers: Headers
) -> None:
    app = create_app(signed_ledger, Settings(anonymous_reads=True), catalogue=catalogue)
    with TestClient(app) as client:
        client.post("/v1/events", json=[make_event(0)], headers=headers("pipeline"))
        assert client.get("/v1/checkpoint").status_code == 200
        assert error_codes(gql(client, "{ events { edges { cursor } } }")) == []
        assert error_codes(gql(client, "{ verifyChain { ok } }")) == ["unauthorized"]
        assert client.post("/v1/events", json=[make_event(1)]).status_code == 401


@pytest.mark.parametrize(
    "authorization",
    ["Bearer rl_" + "x" * 43, "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer "],
)
def test_a_wrong_token_is_refused_with_401_everywhere(
    seeded: TestClient, authorization: str
) -> None:
    for path in ("/v1/checkpoint", "/graphql"):
        response = (
            seeded.post(
                path,
                json={"query": "{ checkpoint { treeSize } }"},
                headers={"Authorization": authorization},
            )
            if path == "/graphql"
            else seeded.get(path, headers={"Authorization": authorization})
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


def test_a_revoked_token_stops_working_at_once(
    seeded: TestClient, headers: Headers, store: EventStore
) -> None:
    assert seeded.get("/v1/checkpoint", headers=headers("auditor")).status_code == 200
    assert store.revoke_token("auditor", "2026-11-02T00:00:00Z")
    response = seeded.get("/v1/checkpoint", headers=headers("auditor"))
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
