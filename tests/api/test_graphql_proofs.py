"""GraphQL integrity fields: checkpoint, inclusion and consistency proofs, verifyChain."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ledger.api import create_app
from ledger.catalogue import Catalogue
from ledger.checkpoint import verify_checkpoint
from ledger.note import parse_verifier_key
from ledger.proofs import ConsistencyProof, InclusionProof
from ledger.service import Ledger
from ledger.store import EventStore
from tests.api.conftest import Headers, TestClient, error_codes, gql, make_event


def _seed(client: TestClient, headers: Headers, count: int) -> None:
    events = [make_event(n) for n in range(count)]
    assert client.post("/v1/events", json=events, headers=headers("pipeline")).status_code == 200


def test_the_checkpoint_field_matches_the_signed_note(
    client: TestClient, headers: Headers, signed_ledger: Ledger
) -> None:
    _seed(client, headers, 6)
    body = gql(client, "{ checkpoint { origin treeSize rootHash signedNote } }", headers("auditor"))
    checkpoint = body["data"]["checkpoint"]  # type: ignore[index]
    assert signed_ledger.signer is not None
    signed = verify_checkpoint(
        checkpoint["signedNote"], parse_verifier_key(signed_ledger.signer.verifier_key())
    )
    assert checkpoint["origin"] == signed.origin == "rollout-ledger.test/api"
    assert checkpoint["treeSize"] == signed.size == 6
    assert checkpoint["rootHash"] == signed.root_hash.hex() == signed_ledger.root().hex()
    assert client.get("/v1/checkpoint", headers=headers("auditor")).text == checkpoint["signedNote"]


def test_without_a_signing_key_the_checkpoint_is_unsigned(
    store: EventStore, catalogue: Catalogue, headers: Headers
) -> None:
    unsigned = Ledger(store)
    with TestClient(create_app(unsigned, catalogue=catalogue)) as client:
        _seed(client, headers, 2)
        body = gql(client, "{ checkpoint { treeSize rootHash signedNote } }", headers("auditor"))
        assert body["data"] == {
            "checkpoint": {"treeSize": 2, "rootHash": unsigned.root().hex(), "signedNote": None}
        }
        response = client.get("/v1/checkpoint", headers=headers("auditor"))
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_proof_fields_verify_and_match_the_rest_routes(
    client: TestClient, headers: Headers
) -> None:
    _seed(client, headers, 9)
    query = """{
      inclusionProof(seq: 4, treeSize: 8) { seq leafIndex treeSize leafHash rootHash proof }
      consistencyProof(first: 3, second: 9) { first second firstRoot secondRoot proof }
    }"""
    data = gql(client, query, headers("auditor"))["data"]
    assert isinstance(data, dict)
    inclusion = data["inclusionProof"]
    rest = client.get("/v1/proof/inclusion?seq=4&tree_size=8", headers=headers("auditor")).json()
    assert inclusion == {
        "seq": rest["seq"],
        "leafIndex": rest["leaf_index"],
        "treeSize": rest["tree_size"],
        "leafHash": rest["leaf_hash"],
        "rootHash": rest["root_hash"],
        "proof": rest["proof"],
    }
    InclusionProof.from_json(rest).verify()
    consistency = data["consistencyProof"]
    ConsistencyProof.from_json(
        {
            "first": consistency["first"],
            "second": consistency["second"],
            "first_root": consistency["firstRoot"],
            "second_root": consistency["secondRoot"],
            "proof": consistency["proof"],
        }
    ).verify()


def test_a_proof_beyond_the_head_is_not_found_naming_the_argument(
    client: TestClient, headers: Headers
) -> None:
    _seed(client, headers, 2)
    body = gql(client, "{ inclusionProof(seq: 5) { seq } }", headers("auditor"))
    assert error_codes(body) == ["not_found"]
    assert body["errors"][0]["extensions"]["field"] == "seq"  # type: ignore[index]


def test_verify_chain_reports_the_first_bad_seq(
    client: TestClient, headers: Headers, db_path: Path
) -> None:
    _seed(client, headers, 5)
    query = "{ verifyChain { ok checked firstBadSeq kind reason headHash } }"
    report = gql(client, query, headers("auditor"))["data"]["verifyChain"]  # type: ignore[index]
    assert report["ok"] is True
    assert report["checked"] == 5
    tamper = sqlite3.connect(db_path)
    tamper.execute("DROP TRIGGER events_no_update")
    tamper.execute(
        "UPDATE events SET body = CAST(replace(CAST(body AS TEXT), 'offline-eval', 'offline-evil')"
        " AS BLOB) WHERE seq = 3"
    )
    tamper.commit()
    tamper.close()
    broken = gql(client, query, headers("admin"))["data"]["verifyChain"]  # type: ignore[index]
    assert (broken["ok"], broken["firstBadSeq"], broken["kind"]) == (False, 3, "altered_content")
