"""The server publishes (and keeps) signed checkpoints while the ledger grows."""

from __future__ import annotations

import time

from starlette.testclient import TestClient

from ledger.api import Settings, create_app
from ledger.catalogue import Catalogue
from ledger.checkpoint import verify_checkpoint
from ledger.events import EventDraft, draft_from_json
from ledger.note import parse_verifier_key
from ledger.service import Ledger
from tests.api.conftest import make_event


def draft(n: int) -> EventDraft:
    return draft_from_json(make_event(n))


def _wait_for(predicate: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_checkpoints_are_published_while_the_ledger_grows(
    signed_ledger: Ledger, catalogue: Catalogue
) -> None:
    app = create_app(signed_ledger, Settings(checkpoint_interval=0.05), catalogue=catalogue)
    store = signed_ledger.store
    with TestClient(app):
        signed_ledger.append([draft(1), draft(2)], "ci")
        assert _wait_for(lambda: (c := store.latest_checkpoint()) is not None and c.size == 2)
        signed_ledger.append([draft(3)], "ci")
        assert _wait_for(lambda: (c := store.latest_checkpoint()) is not None and c.size == 3)
        time.sleep(0.3)  # no growth, no new checkpoint
    sizes = [c.size for c in store.checkpoints()]
    assert sizes == [2, 3]
    assert signed_ledger.signer is not None
    verifier = parse_verifier_key(signed_ledger.signer.verifier_key())
    for stored in store.checkpoints():
        assert verify_checkpoint(stored.note, verifier).size == stored.size
    proof = signed_ledger.consistency_proof(2, 3)
    proof.verify()


def test_publishing_can_be_turned_off(signed_ledger: Ledger, catalogue: Catalogue) -> None:
    app = create_app(signed_ledger, Settings(checkpoint_interval=0), catalogue=catalogue)
    with TestClient(app):
        signed_ledger.append([draft(1)], "ci")
        time.sleep(0.2)
    assert signed_ledger.store.checkpoints() == []
