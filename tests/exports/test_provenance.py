"""PROV-JSON of a model's provenance: parses back with ``prov`` and says what the demo did."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prov.model import (
    PROV_ATTR_ACTIVITY,
    PROV_ATTR_AGENT,
    PROV_ATTR_ENTITY,
    PROV_ATTR_GENERATED_ENTITY,
    PROV_ATTR_INFORMANT,
    PROV_ATTR_INFORMED,
    PROV_ATTR_USED_ENTITY,
    PROV_LABEL,
    ProvDocument,
    ProvRecord,
    QualifiedName,
)

from ledger.exports.provenance import model_provenance, prov_json
from tests.exports.conftest import Demo, ok, run


def _label(doc: ProvDocument, identifier: QualifiedName | None) -> str:
    assert identifier is not None
    (record,) = doc.get_record(identifier)
    labels = record.get_attribute(PROV_LABEL)
    return str(next(iter(labels)))


def _relations(doc: ProvDocument, kind: str) -> Iterator[ProvRecord]:
    return (r for r in doc.get_records() if r.get_type().localpart == kind)


def _pairs(
    doc: ProvDocument, kind: str, first: QualifiedName, second: QualifiedName
) -> set[tuple[str, str]]:
    """(label, label) of each relation of ``kind`` between its ``first`` and ``second`` ends."""
    out = set()
    for record in _relations(doc, kind):
        attrs = dict(record.formal_attributes)
        a, b = attrs.get(first), attrs.get(second)
        if a is not None and b is not None:
            out.add((_label(doc, a), _label(doc, b)))
    return out


@pytest.fixture(scope="module")
def fraud(demo: Demo) -> ProvDocument:
    text = ok("--db", demo.db, "prov", "fraud-detector").stdout
    return ProvDocument.deserialize(content=text, format="json")


def test_the_prov_json_parses_back_into_the_same_document(demo: Demo) -> None:
    text = ok("--db", demo.db, "prov", "model:fraud-detector").stdout
    assert ProvDocument.deserialize(content=text, format="json") == ProvDocument.deserialize(
        content=ok("--db", demo.db, "prov", "fraud-detector").stdout, format="json"
    )


def test_entities_are_the_model_its_versions_data_and_artifacts(fraud: ProvDocument) -> None:
    labels = {
        _label(fraud, r.identifier)
        for r in fraud.get_records()
        if r.get_type().localpart == "Entity" and r.get_attribute(PROV_LABEL)
    }
    assert {
        "model:fraud-detector",
        "model:fraud-detector@1.3.2",
        "model:fraud-detector@1.4.0",
        "dataset:fraud-features@2026-11-12",
        "dataset:card-transactions-holdout@2026-11-12",
        "deployment:fraud-detector/prod",
    } <= labels
    artifacts = [r for r in fraud.get_records() if str(r.identifier).startswith("artifact:")]
    assert len(artifacts) == 2


def test_the_version_was_generated_by_its_training_run_which_used_the_features(
    fraud: ProvDocument,
) -> None:
    generated = _pairs(fraud, "Generation", PROV_ATTR_ENTITY, PROV_ATTR_ACTIVITY)
    assert ("model:fraud-detector@1.4.0", "run:mlflow/8c1b0e4f2a") in generated
    used = _pairs(fraud, "Usage", PROV_ATTR_ACTIVITY, PROV_ATTR_ENTITY)
    assert ("run:mlflow/8c1b0e4f2a", "dataset:fraud-features@2026-11-12") in used


def test_the_new_version_was_derived_from_the_old_one_and_its_data(fraud: ProvDocument) -> None:
    derived = _pairs(fraud, "Derivation", PROV_ATTR_GENERATED_ENTITY, PROV_ATTR_USED_ENTITY)
    assert ("model:fraud-detector@1.4.0", "model:fraud-detector@1.3.2") in derived
    assert ("model:fraud-detector@1.4.0", "dataset:fraud-features@2026-11-12") in derived


def test_approvals_are_activities_associated_with_the_approvers(fraud: ProvDocument) -> None:
    associated = _pairs(fraud, "Association", PROV_ATTR_ACTIVITY, PROV_ATTR_AGENT)
    approvals = {a for a, _ in associated if a.startswith("approval.granted")}
    assert approvals == {"approval.granted model:fraud-detector@1.4.0"}
    assert {agent for a, agent in associated if a in approvals} == {
        "ml-lead-ben",
        "risk-officer-ana",
    }


def test_a_decision_was_informed_by_the_evidence_it_cites(fraud: ProvDocument) -> None:
    informed = _pairs(fraud, "Communication", PROV_ATTR_INFORMED, PROV_ATTR_INFORMANT)
    assert (
        "deployment.decided model:fraud-detector@1.4.0",
        "approval.granted model:fraud-detector@1.4.0",
    ) in informed


def test_prov_of_an_unknown_model_is_not_found(demo: Demo) -> None:
    result = run("--db", demo.db, "prov", "no-such-model")
    assert result.exit_code == 4
    assert result.stderr == "error: model:no-such-model: no events about it; nothing to export\n"


_NAME = st.text(
    st.characters(exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=20
)


@given(_NAME)
def test_any_model_name_gives_an_identifier_prov_can_write(name: str) -> None:
    # filterwarnings=error: prov's warning for an identifier PROV-N cannot write fails this.
    doc = ProvDocument.deserialize(content=prov_json(name, []), format="json")
    (record,) = doc.get_records()
    assert _label(doc, record.identifier) == f"model:{name}"
    assert model_provenance(name, []).get_provn()
