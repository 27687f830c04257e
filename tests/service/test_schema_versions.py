"""Payloads appended under an older schema version are upcast on read."""

from __future__ import annotations

import copy
from pathlib import Path

from ledger.catalogue import Catalogue
from ledger.events import EventDraft
from ledger.schema_files import read_schemas, schema_dir
from ledger.service import Ledger
from ledger.store import open_store
from tests.helpers import StepClock

V1 = {
    "owner": "fraud-ml",
    "risk_tier": "high",
    "business_process": "card-payment-authorisation",
    "description": "Scores card transactions.",
}


def _catalogue_v2() -> Catalogue:
    """model.registered at version 2: ``owner`` became ``owners`` (a list)."""
    schemas = read_schemas(schema_dir())
    schema = copy.deepcopy(schemas["model.registered"])
    schema["x-ledger"]["schema_version"] = 2
    props = schema["properties"]
    props["owners"] = {"type": "array", "items": {"type": "string"}, "minItems": 1}
    del props["owner"]
    schema["required"] = ["owners", *[r for r in schema["required"] if r != "owner"]]
    schemas["model.registered"] = schema
    catalogue = Catalogue.from_schemas(schemas)

    def to_v2(data: dict[str, object]) -> dict[str, object]:
        out = {k: v for k, v in data.items() if k != "owner"}
        out["owners"] = [data["owner"]]
        return out

    catalogue.register_upcast("model.registered", 1, to_v2)
    return catalogue


def test_an_old_payload_is_upcast_on_read_and_the_stored_bytes_stay(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    old = Ledger(
        open_store(path),
        clock=StepClock(),
        catalogue=Catalogue.from_schemas(read_schemas(schema_dir())),
    )
    old.append([EventDraft.create("model.registered", "model:a", V1)], "ci")
    new = Ledger(open_store(path), clock=StepClock(), catalogue=_catalogue_v2())
    v2 = {**{k: v for k, v in V1.items() if k != "owner"}, "owners": ["fraud-ml", "risk"]}
    new.append([EventDraft.create("model.registered", "model:b", v2)], "ci")
    first, second = new.events()
    assert (new.schema_version_of(first), new.schema_version_of(second)) == (1, 2)
    assert new.upcast(first) == {
        **{k: v for k, v in V1.items() if k != "owner"},
        "owners": ["fraud-ml"],
    }
    assert new.upcast(second) == v2
    assert first.data == V1  # the hashed bytes are never rewritten
    assert new.verify().ok
