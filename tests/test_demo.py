"""``rollout-ledger demo``: the story loads through the policy, verifies, and answers queries."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ledger.cli import cli
from ledger.demo import DENIED_KEY, FIRST_KEY, draft_id, resolve, start_for, story, story_span
from ledger.events import format_time
from ledger.schema_files import load_catalogue
from ledger.store.sqlite import SQLiteStore


@dataclass(frozen=True)
class Loaded:
    """A ledger with the demo loaded once."""

    db: Path
    first: Result


def _run(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), *args])


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    assert _run(db, "init").exit_code == 0
    return Loaded(db, _run(db, "demo"))


@pytest.fixture
def store(loaded: Loaded) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(loaded.db)
    yield opened
    opened.close()


def _doc(store: SQLiteStore, key: str) -> dict[str, object]:
    raw = store.get_docs([key])
    assert key in raw, f"no projection document {key}"
    doc = json.loads(raw[key])
    assert isinstance(doc, dict)
    return doc


def _entries(doc: dict[str, object], field: str) -> list[dict[str, Any]]:
    entries = doc[field]
    assert isinstance(entries, list)
    return entries


def _prod_status(store: SQLiteStore, model: str) -> dict[str, object]:
    """version -> its prod status entry, from the model document."""
    versions = _entries(_doc(store, f"model:{model}"), "versions")
    return {v["version"]: v["status"].get("prod", {}).get("status") for v in versions}


def _serving(store: SQLiteStore, at_time: str) -> set[tuple[object, ...]]:
    rows = store.status_intervals(environment="prod", at_time=at_time)
    return {(r[0], r[1], r[3], r[4]) for r in rows}


def test_demo_loads_the_story_and_ends_with_a_checkpoint(loaded: Loaded) -> None:
    result = loaded.first
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("demo: appended 110 events as 15 principals")
    assert "  fraud-detector (high risk): prod 1.3.2 replaced, 1.4.0 production 100%" in lines
    assert any(line.startswith("denied as expected and recorded") for line in lines)
    assert any(line.startswith("incident: incident:INC-2291") for line in lines)
    assert lines[lines.index("checkpoint:") + 2] == "110"


def test_verify_passes_after_demo(loaded: Loaded) -> None:
    result = _run(loaded.db, "verify")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("ok: 110 events verified")


def test_the_ledger_keeps_the_denial_naming_the_missing_fairness_evidence(
    store: SQLiteStore,
) -> None:
    denials = [e for e in store.read() if e.type == "policy.denied"]
    assert len(denials) == 1
    denial = denials[0]
    data = denial.data
    assert isinstance(data, dict)
    assert (denial.subject, denial.actor) == ("model:credit-limits@3.2.0", "release-manager-sam")
    assert data["draft_type"] == "deployment.decided"
    assert data["draft_id"] == draft_id(DENIED_KEY)
    assert (data["policy"], data["environment"]) == ("policy:critical-risk", "prod")
    assert any("passing fairness test" in line for line in data["unmet"])
    assert store.get_by_id(draft_id(DENIED_KEY)) is None  # the refused draft itself is not in


def test_fraud_detector_140_serves_prod_at_the_end_and_replaced_132(store: SQLiteStore) -> None:
    assert _prod_status(store, "fraud-detector") == {"1.3.2": "replaced", "1.4.0": "production"}
    now = format_time(datetime.now(UTC))
    serving = _serving(store, now)
    assert ("fraud-detector", "1.4.0", "production", 100.0) in serving
    assert ("fraud-detector", "1.3.2", "replaced", 0.0) in serving
    assert ("credit-limits", "3.2.0", "canary", 5.0) in serving


def test_as_of_the_25_percent_canary_132_still_served_the_rest(store: SQLiteStore) -> None:
    stage = store.get_by_id(draft_id("fraud-canary-25"))
    assert stage is not None
    serving = _serving(store, stage.recorded_at)
    assert ("fraud-detector", "1.4.0", "canary", 25.0) in serving
    assert ("fraud-detector", "1.3.2", "production", 75.0) in serving


def test_the_incident_rollback_is_recorded_verified_and_reviewed(store: SQLiteStore) -> None:
    assert _prod_status(store, "product-recommender") == {
        "2.3.0": "production",
        "2.4.0": "rolled_back",
        "2.4.1": None,  # the retrained candidate, not deployed yet
    }
    deployment = _doc(store, "deployment:product-recommender/prod")
    assert deployment["rollback_required"] is False
    (rollback,) = _entries(deployment, "rollbacks")
    assert rollback["incident"] == "incident:INC-2291"
    assert (rollback["from_version"], rollback["to_version"]) == (
        "model:product-recommender@2.4.0",
        "model:product-recommender@2.3.0",
    )
    assert rollback["verified"] is True
    incident = _doc(store, "incident:INC-2291")
    assert incident["status"] == "resolved"
    assert len(_entries(incident, "reviews")) == 1
    model = _doc(store, "model:product-recommender")
    assert [r["signal"] for r in _entries(model, "retraining")] == ["data_drift"]


def test_running_demo_again_appends_nothing(loaded: Loaded, store: SQLiteStore) -> None:
    before = store.head()
    result = _run(loaded.db, "demo")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("demo: already loaded; nothing new appended")
    assert "denied as expected and recorded (policy.denied, seq" in result.stdout
    assert store.head() == before


def test_demo_needs_init(tmp_path: Path) -> None:
    result = _run(tmp_path / "missing.db", "demo")
    assert result.exit_code == 4
    assert "run `rollout-ledger init` first" in result.stderr


def test_demo_refuses_to_back_date_behind_newer_events(tmp_path: Path) -> None:
    db = tmp_path / "busy.db"
    assert _run(db, "init").exit_code == 0
    data = '{"owner":"x","risk_tier":"low","business_process":"p","description":"d"}'
    args = ["append", "--type", "model.registered", "--subject", "model:x", "--data", data]
    assert _run(db, *args).exit_code == 0
    result = _run(db, "demo")
    assert result.exit_code == 2
    assert "load the demo into a fresh ledger" in result.stderr
    opened = SQLiteStore(db)
    try:
        assert opened.head().seq == 1
    finally:
        opened.close()


def test_story_is_ordered_keyed_and_appended_by_allowed_roles() -> None:
    now = datetime(2026, 11, 25, 14, 2, tzinfo=UTC)
    steps = story(start_for(now))
    catalogue = load_catalogue()
    assert steps[0].drafts[0].key == FIRST_KEY
    assert steps[0].at == start_for(now)
    assert now - timedelta(hours=1) < steps[-1].at < now
    assert timedelta(days=12) < story_span() < timedelta(days=15)
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    for step in steps:
        for spec in step.drafts:
            assert step.role in catalogue.allowed_roles(spec.type), (step.name, spec.type)
    kinds = Counter(
        spec.data["kind"]
        for step in steps
        for spec in step.drafts
        if spec.type == "test.result.recorded"
    )
    assert set(kinds) == {
        "unit",
        "integration",
        "evaluation",
        "fairness",
        "latency",
        "shadow",
        "canary_analysis",
    }
    assert [s.name for s in steps if s.expect_denied] == [DENIED_KEY]


def test_resolve_fills_evidence_and_seqs_from_acknowledged_events() -> None:
    steps = {s.name: s for s in story(datetime(2026, 11, 1, tzinfo=UTC))}
    known = {"recs-rollback": (67, "ab" * 32)}
    (draft,) = resolve(steps["recs-rollback-verified"], known)
    assert draft.id == draft_id("recs-rollback-verified")
    assert draft.occurred_at == format_time(steps["recs-rollback-verified"].at)
    data = draft.data
    assert isinstance(data, dict)
    assert data["rollback_seq"] == 67
    with pytest.raises(KeyError):
        resolve(steps["fraud-promote"], known)
