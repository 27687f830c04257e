"""GraphQL over the log: the events connection, event(seq), node(id) and appendEvents."""

from __future__ import annotations

import base64

import pytest

from ledger.service import Ledger
from tests.api.conftest import Headers, TestClient, error_codes, gql, make_event

REGISTRATION = {
    "artifact_digest": "sha256:" + "3f" * 32,
    "training_run": "run:mlflow/8c1b0e4f2a9d",
    "code_ref": "git+https://git.example.com/fraud-models@4f1c2e9",
    "author": "alice",
}

PAGE = """
query Page($first: Int!, $after: String, $types: [String!], $subjects: [String!]) {
  events(first: $first, after: $after, types: $types, subjects: $subjects) {
    edges { cursor node { seq type subject } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


def _events(count: int) -> list[dict[str, object]]:
    """Test results, with a version registration at every third seq (seq 1, 4, 7, …)."""
    events = [make_event(n) for n in range(count)]
    for n in range(0, count, 3):
        events[n] = {
            "type": "model.version.registered",
            "subject": f"model:fraud-detector@2.{n}.0",
            "data": {**REGISTRATION, "artifact_uri": f"s3://models/fraud/{n}"},
        }
    return events


def _seed(client: TestClient, headers: Headers, count: int) -> list[dict[str, object]]:
    events = _events(count)
    response = client.post("/v1/events", json=events, headers=headers("admin"))
    assert response.status_code == 200, response.text
    return events


def _all_pages(
    client: TestClient, headers: Headers, first: int, **filters: object
) -> tuple[list[int], int]:
    seqs: list[int] = []
    after: str | None = None
    pages = 0
    while True:
        body = gql(client, PAGE, headers("auditor"), first=first, after=after, **filters)
        connection = body["data"]["events"]  # type: ignore[index]
        seqs += [edge["node"]["seq"] for edge in connection["edges"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            return seqs, pages
        after = connection["pageInfo"]["endCursor"]


@pytest.mark.parametrize("first", [1, 7, 10, 100])
def test_paging_through_the_log_yields_every_event_once_in_order(
    client: TestClient, headers: Headers, first: int
) -> None:
    _seed(client, headers, 31)
    seqs, pages = _all_pages(client, headers, first)
    assert seqs == list(range(1, 32))
    assert pages == -(-31 // first)


def test_paging_with_filters_has_no_duplicates_or_holes(
    client: TestClient, headers: Headers
) -> None:
    events = _seed(client, headers, 40)
    seqs, _ = _all_pages(client, headers, 4, types=["model.version.registered"])
    assert seqs == list(range(1, 41, 3))
    prefix, _ = _all_pages(client, headers, 5, types=["model.*"])
    assert prefix == seqs
    subject, _ = _all_pages(client, headers, 3, subjects=["model:fraud-detector@1.2.0"])
    assert subject == [
        n + 1 for n, e in enumerate(events) if e["subject"] == "model:fraud-detector@1.2.0"
    ]
    assert len(subject) > 3
    unversioned, _ = _all_pages(client, headers, 100, subjects=["model:fraud-detector"])
    assert unversioned == list(range(1, 41))
    both, _ = _all_pages(
        client, headers, 2, types=["test.*"], subjects=["model:fraud-detector@1.2.0"]
    )
    assert both == subject


def test_page_info_links_the_pages(client: TestClient, headers: Headers) -> None:
    _seed(client, headers, 5)
    first = gql(client, PAGE, headers("auditor"), first=2)["data"]["events"]  # type: ignore[index]
    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": first["edges"][0]["cursor"],
        "endCursor": first["edges"][1]["cursor"],
    }
    last = gql(client, PAGE, headers("auditor"), first=2, after=first["edges"][1]["cursor"])
    page = last["data"]["events"]  # type: ignore[index]
    assert [e["node"]["seq"] for e in page["edges"]] == [3, 4]
    assert page["pageInfo"]["hasPreviousPage"] is True


def test_an_empty_ledger_has_an_empty_first_page(client: TestClient, headers: Headers) -> None:
    body = gql(client, PAGE, headers("auditor"), first=10)
    assert body["data"] == {
        "events": {
            "edges": [],
            "pageInfo": {
                "hasNextPage": False,
                "hasPreviousPage": False,
                "startCursor": None,
                "endCursor": None,
            },
        }
    }


@pytest.mark.parametrize("first", [0, -1, 101, 10_000])
def test_first_outside_1_to_100_is_a_graphql_error(
    client: TestClient, headers: Headers, first: int
) -> None:
    body = gql(client, PAGE, headers("auditor"), first=first)
    assert error_codes(body) == ["bad_request"]
    assert body["errors"][0]["extensions"]["field"] == "first"  # type: ignore[index]


def test_a_forged_cursor_is_a_bad_request(client: TestClient, headers: Headers) -> None:
    forged = base64.urlsafe_b64encode(b"offset:3").decode()
    for after in (forged, "!!!"):
        body = gql(client, PAGE, headers("auditor"), first=1, after=after)
        assert error_codes(body) == ["bad_request"]


def test_an_event_has_its_envelope_payload_and_canonical_bytes(
    client: TestClient, headers: Headers, signed_ledger: Ledger
) -> None:
    _seed(client, headers, 2)
    query = """{ event(seq: 2) { id seq eventId type subject actor occurredAt recordedAt
                                  prevHash hash data canonical } }"""
    event = gql(client, query, headers("auditor"))["data"]["event"]  # type: ignore[index]
    stored = signed_ledger.store.get(2)
    assert stored is not None
    assert event == {
        "id": base64.b64encode(b"Event:2").decode(),
        "seq": 2,
        "eventId": stored.id,
        "type": stored.type,
        "subject": stored.subject,
        "actor": "admin",
        "occurredAt": stored.occurred_at,
        "recordedAt": stored.recorded_at,
        "prevHash": stored.prev_hash,
        "hash": stored.hash,
        "data": stored.data,
        "canonical": stored.body.decode(),
    }


def test_missing_events_are_null_not_errors(client: TestClient, headers: Headers) -> None:
    body = gql(
        client, '{ event(seq: 9) { seq } node(id: "RXZlbnQ6OQ==") { id } }', headers("auditor")
    )
    assert body == {"data": {"event": None, "node": None}}


def test_node_finds_an_event_by_its_global_id(client: TestClient, headers: Headers) -> None:
    _seed(client, headers, 3)
    node_id = gql(client, "{ event(seq: 3) { id } }", headers("auditor"))["data"]["event"]["id"]  # type: ignore[index]
    body = gql(
        client,
        "query($id: ID!) { node(id: $id) { id ... on Event { seq } } }",
        headers("auditor"),
        id=node_id,
    )
    assert body == {"data": {"node": {"id": node_id, "seq": 3}}}


def test_append_events_returns_where_each_event_sits_and_is_idempotent(
    client: TestClient, headers: Headers, signed_ledger: Ledger
) -> None:
    mutation = """mutation($events: [EventInput!]!) {
        appendEvents(events: $events) { seq hash eventId created } }"""
    batch = [
        {**make_event(0), "id": "0d0d0d0d-0000-4000-8000-000000000001"},
        {**make_event(1), "occurredAt": "2026-11-20T09:14:03+01:00"},
    ]
    first = gql(client, mutation, headers("pipeline"), events=batch)["data"]["appendEvents"]  # type: ignore[index]
    assert [(a["seq"], a["created"]) for a in first] == [(1, True), (2, True)]
    assert first[0]["eventId"] == "0d0d0d0d-0000-4000-8000-000000000001"
    assert signed_ledger.store.get(2).occurred_at == "2026-11-20T08:14:03.000000Z"  # type: ignore[union-attr]
    retry = gql(client, mutation, headers("pipeline"), events=batch[:1])["data"]["appendEvents"]  # type: ignore[index]
    assert retry == [{**first[0], "created": False}]


@pytest.mark.parametrize(
    ("event", "code", "field"),
    [
        ({"type": "Nope", "subject": "model:x@1", "data": {}}, "invalid_event", "events[1].type"),
        (
            {"type": "test.result.recorded", "subject": "x", "data": {}},
            "invalid_event",
            "events[1].subject",
        ),
        (
            {"type": "test.result.recorded", "subject": "model:x@1", "data": [1]},
            "invalid_event",
            "events[1].data",
        ),
        (
            {"type": "test.result.recorded", "subject": "model:x@1", "data": {}, "id": "7"},
            "invalid_event",
            "events[1].id",
        ),
        (
            {"type": "approval.granted", "subject": "model:x@1", "data": {}},
            "forbidden",
            "events[1].type",
        ),
    ],
)
def test_a_bad_input_names_its_field_and_appends_nothing(
    client: TestClient,
    headers: Headers,
    signed_ledger: Ledger,
    event: dict[str, object],
    code: str,
    field: str,
) -> None:
    body = gql(
        client,
        "mutation($e: [EventInput!]!) { appendEvents(events: $e) { seq } }",
        headers("pipeline"),
        e=[make_event(0), event],
    )
    assert error_codes(body) == [code]
    assert body["errors"][0]["extensions"]["field"] == field  # type: ignore[index]
    assert signed_ledger.head().seq == 0
