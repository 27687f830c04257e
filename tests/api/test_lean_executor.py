"""The lean executor answers exactly as graphql-core's own, data and errors alike."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import strawberry
from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from ledger.api.auth import Principal
from ledger.api.graphql import build_schema
from ledger.api.graphql.context import Context
from ledger.api.graphql.executor import LeanExecutor
from tests.api.conftest import Headers, TestClient, gql, make_event


@strawberry.type
class Leaf:
    name: str
    size: int | None


@strawberry.type
class Item:
    text: str
    count: int
    ratio: float | None
    flag: bool
    maybe: str | None
    tags: list[str]
    loose: list[int | None] | None
    leaf: Leaf
    leaves: list[Leaf] | None

    @strawberry.field
    def computed(self) -> str:
        return self.text.upper()


@strawberry.type
class Query:
    items: list[Item]
    first: Item | None


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    lean = strawberry.Schema(query=Query, execution_context_class=LeanExecutor)
    return lean, strawberry.Schema(query=Query)


LEAN, GENERIC = _schemas()

_odd = st.sampled_from(
    [None, "x", 7, 2.5, math.nan, True, b"raw", ValueError("boom"), [1], {"a": 1}, 2**40]
)
_text = st.one_of(st.text(max_size=5), _odd)
_int = st.one_of(st.integers(-(2**31), 2**31 - 1), _odd)
_float = st.one_of(st.floats(allow_nan=False, allow_infinity=False), _odd)
_bool = st.one_of(st.booleans(), _odd)


@st.composite
def _leaf(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 20)) == 0:
        return draw(_odd)
    return Leaf(name=draw(_text), size=draw(_int))


def _list(of: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(of, max_size=3), st.tuples(of), _odd)


@st.composite
def _item(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 30)) == 0:
        return draw(_odd)
    return Item(
        text=draw(_text),
        count=draw(_int),
        ratio=draw(_float),
        flag=draw(_bool),
        maybe=draw(_text),
        tags=draw(_list(_text)),
        loose=draw(_list(_int)),
        leaf=draw(_leaf()),
        leaves=draw(_list(_leaf())),
    )


QUERIES = [
    "{ items { text count } }",
    "{ items { __typename text count ratio flag maybe tags loose } first { text flag } }",
    "{ items { leaf { name size } leaves { __typename name } } }",
    "{ items { a: text b: text leaf { name } ...F } } fragment F on Item { count leaf { size } }",
    "{ items { text computed leaf { name } } }",
    "query($s: Boolean!) { items { text @skip(if: $s) count @include(if: $s) } }",
    "{ first { leaves { name size } tags } }",
]


def _run(schema: strawberry.Schema, query: str, root: Query) -> tuple[Any, list[Any]]:
    result = asyncio.run(schema.execute(query, root_value=root, variable_values={"s": True}))
    errors = sorted((e.formatted for e in result.errors or []), key=repr)
    return result.data, errors


@settings(max_examples=300, deadline=None)
@given(
    query=st.sampled_from(QUERIES),
    items=_list(_item()),
    first=st.one_of(st.none(), _item()),
)
def test_lean_and_generic_execution_agree(query: str, items: Any, first: Any) -> None:
    root = Query(items=items, first=first)
    lean = _run(LEAN, query, root)
    generic = _run(GENERIC, query, root)
    # NaN != NaN: compare the JSON-ish reprs.
    assert repr(lean) == repr(generic)


def test_plain_objects_skip_field_resolution() -> None:
    calls = []

    class Counting(LeanExecutor):
        def execute_field(self, *args: Any, **kwargs: Any) -> Any:
            calls.append(args[2][0].node.name.value)
            return super().execute_field(*args, **kwargs)

    schema = strawberry.Schema(query=Query, execution_context_class=Counting)
    item = Item(
        text="a",
        count=1,
        ratio=None,
        flag=True,
        maybe=None,
        tags=["t"],
        loose=None,
        leaf=Leaf(name="l", size=2),
        leaves=[Leaf(name="m", size=None)],
    )
    query = "{ items { text leaf { name } leaves { size } } }"
    data, errors = _run(schema, query, Query(items=[item] * 5, first=None))
    assert not errors
    assert data == {"items": [{"text": "a", "leaf": {"name": "l"}, "leaves": [{"size": None}]}] * 5}
    assert calls == []  # even the root field is plain here (a basic field of the root value)


PAGES = [
    "{ events(first: 30) { edges { node { seq hash type subject actor } } } }",
    "{ events(first: 30) { edges { cursor node { id seq eventId occurredAt recordedAt prevHash } }"
    " pageInfo { hasNextPage endCursor startCursor hasPreviousPage } } }",
    "{ events(first: 30) { nodes { seq data canonical } edges { node { __typename seq } } } }",
]


def test_the_ledger_schema_answers_the_same_with_either_executor(
    client: TestClient, headers: Headers
) -> None:
    response = client.post(
        "/v1/events", json=[make_event(n) for n in range(40)], headers=headers("pipeline")
    )
    assert response.status_code == 200, response.text
    generic = build_schema()
    generic.execution_context_class = StrawberryGraphQLCoreExecutionContext
    state = client.app.state.api
    context = Context(state, Principal("auditor", "auditor"), None, None)  # type: ignore[arg-type]
    for query in PAGES:
        served = gql(client, query, headers("auditor"))
        assert "errors" not in served, served
        result = asyncio.run(generic.execute(query, context_value=context))
        assert result.errors is None, result.errors
        assert served["data"] == result.data


SHAPES = [
    # aliases, the same field twice, __typename at every level
    "{ a: events(first: 5) { __typename edges { x: node { s: seq seq __typename } y: node"
    " { type } } } }",
    # named and inline fragments, merged with plain fields
    "query { events(first: 5) { ...Page edges { node { ... on Event { subject } seq } } } }"
    " fragment Page on EventConnection { pageInfo { hasNextPage } edges { node { actor } } }",
    # @include / @skip from variables, on fields and on fragments
    "query($yes: Boolean!, $no: Boolean!) { events(first: 5) { edges { node {"
    " seq type @include(if: $yes) subject @skip(if: $yes) ... @include(if: $no) { actor } } } } }",
    # nested objects through resolvers: models, versions, statuses
    "{ models { __typename name riskTier retired versions { ref version registered"
    " status { environment status exposure strategy } } } }",
    # an argument that fails validation in a resolver, next to plain data
    "{ events(first: 5) { nodes { seq } } bad: events(first: 100000) { nodes { seq } } }",
    "{ verifyChain { ok checked firstBadSeq reason } }",
]


def test_the_ledger_schema_agrees_on_shapes_and_principals(
    client: TestClient, headers: Headers
) -> None:
    """Aliases, fragments, directives, variables, __typename, errors, per-field permissions."""
    response = client.post(
        "/v1/events", json=[make_event(n) for n in range(12)], headers=headers("pipeline")
    )
    assert response.status_code == 200, response.text
    lean_schema, generic = build_schema(), build_schema()
    assert lean_schema.execution_context_class is LeanExecutor
    generic.execution_context_class = StrawberryGraphQLCoreExecutionContext
    state = client.app.state.api  # type: ignore[attr-defined]
    variables = {"yes": True, "no": False}
    codes = {}
    for principal in (Principal("auditor", "auditor"), Principal("ci", "pipeline"), None):
        context = Context(state, principal, None, None)  # type: ignore[arg-type]
        for query in SHAPES:
            results = [
                asyncio.run(schema.execute(query, variable_values=variables, context_value=context))
                for schema in (lean_schema, generic)
            ]
            lean, plain = (
                (r.data, sorted((e.formatted for e in r.errors or []), key=repr)) for r in results
            )
            assert lean == plain, (principal, query)
            codes[principal and principal.role, query] = [
                e["extensions"]["code"] for e in lean[1] if e.get("extensions")
            ]
    assert codes[None, SHAPES[0]] == ["unauthorized"]  # no token: refused per field
    assert codes["pipeline", SHAPES[-1]] == ["forbidden"]  # verifying needs an auditor
    assert codes["auditor", SHAPES[-1]] == []
    assert codes["auditor", SHAPES[-2]]  # the over-limit page is an error beside the data
