"""The lean GraphQL path (view and execution) answers exactly as strawberry's own path.

``GraphQLView`` answers a JSON POST of one operation itself, and
``LeanOperations`` executes valid documents without strawberry's extension
runner; everything else goes through strawberry. Each request below is sent
to two apps over the same ledger, one with the lean paths and one without,
and must get the same status, content type, body and rejection metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import strawberry
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from ledger.api import Settings, create_app
from ledger.api.graphql import GraphQLView, LedgerSchema
from ledger.api.graphql.context import Info
from ledger.catalogue import Catalogue
from ledger.service import Ledger
from tests.api.conftest import Headers, TestClient, make_event

DEEP = "{ models { nodes { " + "versions { model { " * 6 + "name" + " } }" * 6 + " } } }"
MANY_TOKENS = "{ " + " ".join(["__typename"] * 5000) + " }"
PAGE = "{ events(first: 5) { edges { cursor node { seq hash type subject actor } } } }"

JSON = "application/json"

# (body, content type, role of the token or None)
REQUESTS: list[tuple[bytes, str, str | None]] = [
    (b'{"query":"{ __typename }"}', JSON, None),
    (b'{"query":"{ __typename }"}', "application/json; charset=utf-8", None),
    (b'{"query":"{ __typename }"}', "text/plain", None),
    (b'{"query":"{ __typename }"}', "application/graphql-response+json", None),
    (b'{"query":"' + PAGE.encode() + b'"}', JSON, None),
    (b'{"query":"' + PAGE.encode() + b'"}', JSON, "auditor"),
    (b'{"query":"{ events(first: 5) "}', JSON, None),  # syntax error
    (b'{"query":"{ nope }"}', JSON, None),  # validation error
    (b'{"query":"' + DEEP.encode() + b'"}', JSON, None),  # depth limit
    (b'{"query":"' + MANY_TOKENS.encode() + b'"}', JSON, None),  # token limit
    (b'{"query":"query A { __typename } query B { x: __typename }"}', JSON, None),
    (
        b'{"query":"query A { __typename } query B { x: __typename }","operationName":"B"}',
        JSON,
        None,
    ),
    (b'{"query":"query A { __typename }","operationName":"C"}', JSON, None),
    (
        b'{"query":"query($n: Int!) { events(first: $n) { nodes { seq } } }",'
        b'"variables":{"n":"x"}}',
        JSON,
        None,
    ),
    (b'{"query":"query($n: Int!) { events(first: $n) { nodes { seq } } }"}', JSON, None),
    (
        b'{"query":"query($n: Int!) { events(first: $n) { nodes { seq } } }",'
        b'"variables":{"n":2},"extensions":{"x":1}}',
        JSON,
        None,
    ),
    (b'{"query":"{ events(first: 100000) { nodes { seq } } }"}', JSON, None),
    (b'{"query":"{ node(id: \\"bogus\\") { id } }"}', JSON, None),
    (b'{"query":"{ verifyChain { ok } }"}', JSON, "pipeline"),  # forbidden
    (b'{"query":"{ verifyChain { ok } }"}', JSON, "auditor"),
    (
        b'{"query":"mutation { appendEvents(events: []) { seq } }"}',
        JSON,
        None,
    ),  # no token
    (b'{"query":"subscription { events { seq } }"}', JSON, None),
    (b'{"query":"subscription { events { seq } }"}', JSON, "auditor"),
    (b'{"query":"{ ...Missing }"}', JSON, None),  # strawberry's depth rule raised
    (b'{"query":"{ ...F } fragment F on Query ' + DEEP.encode() + b'"}', JSON, None),
    (b'{"query":null}', JSON, None),
    (b'{"query":""}', JSON, None),
    (b'{"query":5}', JSON, None),
    (b'{"query":"{ __typename }","variables":[]}', JSON, None),
    (b'{"query":"{ __typename }","extensions":1}', JSON, None),
    (b'[{"query":"{ __typename }"}]', JSON, None),  # batches are not enabled
    (b"not json", JSON, None),
    (b"", JSON, None),
]


@pytest.fixture
def clients(
    signed_ledger: Ledger, catalogue: Catalogue, tokens: dict[str, str]
) -> Iterator[tuple[TestClient, TestClient]]:
    settings = Settings(poll_interval=0.05, anonymous_reads=True)
    lean_app = create_app(signed_ledger, settings, catalogue=catalogue)
    plain_app = create_app(signed_ledger, settings, catalogue=catalogue)
    view = next(
        getattr(r, "endpoint", None)
        for r in plain_app.routes
        if getattr(r, "path", "") == "/graphql"
    )
    assert isinstance(view, GraphQLView)
    assert view.lean
    view.lean = False
    assert isinstance(view.schema, LedgerSchema)
    assert view.schema.lean is not None
    view.schema.lean = None
    with TestClient(lean_app) as lean, TestClient(plain_app) as plain:
        yield lean, plain


def _rejects(client: TestClient) -> list[str]:
    text = client.get("/metrics").text
    return sorted(line for line in text.splitlines() if line.startswith("ledger_rejects_total"))


def test_lean_and_strawberry_paths_answer_alike(
    clients: tuple[TestClient, TestClient], headers: Headers, caplog: pytest.LogCaptureFixture
) -> None:
    lean, plain = clients
    response = lean.post(
        "/v1/events", json=[make_event(n) for n in range(7)], headers=headers("pipeline")
    )
    assert response.status_code == 200, response.text
    statuses = set()
    for body, content_type, role in REQUESTS:
        sent = {"Content-Type": content_type, **(headers(role) if role else {})}
        answers = []
        for client in (lean, plain):
            with caplog.at_level(logging.ERROR):
                caplog.clear()
                answer = client.post("/graphql", content=body, headers=sent)
                logged = [r.getMessage() for r in caplog.records]
            answers.append(
                (answer.status_code, answer.headers.get("content-type"), answer.content, logged)
            )
        assert answers[0] == answers[1], body
        statuses.add(answers[0][0])
    assert statuses >= {200, 400}
    assert _rejects(lean) == _rejects(plain)
    assert _rejects(lean)  # the error codes were counted at all


def test_lean_path_serves_the_usual_answers(clients: tuple[TestClient, TestClient]) -> None:
    lean, _ = clients
    response = lean.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == b'{"data":{"__typename":"Query"}}'
    response = lean.post("/graphql", json={"query": "{ nope }"})
    assert response.json()["errors"][0]["extensions"]["code"] == "bad_request"


@strawberry.type
class _Query:
    @strawberry.field
    def touched(self, info: Info) -> str:
        response = info.context.response
        assert isinstance(response, Response)
        response.headers["x-touched"] = "yes"
        response.status_code = 202
        return "ok"

    @strawberry.field
    def untouched(self, info: Info) -> str:
        return "ok"


def test_a_resolver_may_still_set_the_status_and_headers(client: TestClient) -> None:
    """``Context.response`` is made on first use on the lean path, and then honoured."""
    state = client.app.state.api  # type: ignore[attr-defined]
    answers = []
    for lean in (True, False):
        view = GraphQLView(LedgerSchema(query=_Query), state)
        view.lean = lean
        with TestClient(Starlette(routes=[Route("/graphql", view)])) as test_client:
            touched = test_client.post("/graphql", json={"query": "{ touched }"})
            untouched = test_client.post("/graphql", json={"query": "{ untouched }"})
        answers.append(
            [
                (r.status_code, r.headers.get("x-touched"), r.headers["content-type"], r.content)
                for r in (touched, untouched)
            ]
        )
    assert answers[0] == answers[1]
    assert answers[0][0][:2] == (202, "yes")
    assert answers[0][1][:2] == (200, None)
