"""MLflow registry webhooks -> drafts, signatures and alias history, table first."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.catalogue import Catalogue
from ledger.errors import Unauthorized
from ledger.integrations.mlflow import aliases_at, sign, translate, verify
from ledger.schema_files import load_catalogue
from tests.integrations import payloads as p

M = "model:fraud-detector"
V7 = "model:fraud-detector@7"


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


CASES = [
    (
        "version created, tags complete",
        p.mlflow_version_created(),
        [("mlflow.webhook.received", V7), ("model.version.registered", V7)],
    ),
    (
        "version created, no digest tag",
        p.mlflow_version_created(**{"ledger.artifact_digest": ""}),
        [("mlflow.webhook.received", V7)],
    ),
    (
        "registered model",
        p.mlflow_envelope(
            "registered_model",
            "created",
            {
                "name": "fraud-detector",
                "tags": {
                    "ledger.owner": "fraud-ml",
                    "ledger.risk_tier": "high",
                    "ledger.business_process": "card-payment-authorisation",
                },
                "description": "Scores card transactions.",
            },
        ),
        [("mlflow.webhook.received", M), ("model.registered", M)],
    ),
    (
        "alias set",
        p.mlflow_envelope(
            "model_version_alias",
            "created",
            {"name": "fraud-detector", "alias": "production", "version": "7"},
        ),
        [("mlflow.webhook.received", M), ("model.alias.changed", M)],
    ),
    (
        "alias deleted",
        p.mlflow_envelope(
            "model_version_alias", "deleted", {"name": "fraud-detector", "alias": "production"}
        ),
        [("mlflow.webhook.received", M), ("model.alias.changed", M)],
    ),
    (
        "tag set",
        p.mlflow_envelope(
            "model_version_tag",
            "set",
            {
                "name": "fraud-detector",
                "version": "7",
                "key": "validation_status",
                "value": "approved",
            },
        ),
        [("mlflow.webhook.received", V7), ("model.tag.changed", V7)],
    ),
    (
        "tag deleted",
        p.mlflow_envelope(
            "model_version_tag",
            "deleted",
            {"name": "fraud-detector", "version": "7", "key": "validation_status"},
        ),
        [("mlflow.webhook.received", V7), ("model.tag.changed", V7)],
    ),
    (
        "prompt version (recorded only)",
        p.mlflow_envelope(
            "prompt_version",
            "created",
            {"name": "support-bot", "version": "3", "template": "Hi {{name}}"},
        ),
        [("mlflow.webhook.received", "prompt:support-bot@3")],
    ),
]


@pytest.mark.parametrize(("name", "envelope", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_delivery_is_recorded_and_mapped(
    name: str, envelope: dict[str, Any], expected: list[tuple[str, str]], catalogue: Catalogue
) -> None:
    translation = translate(envelope, "d-1")
    assert [(d.type, d.subject) for d in translation.drafts] == expected
    assert translation.drafts[0].data["payload"] == envelope  # type: ignore[index]
    for draft in translation.drafts:
        assert draft.occurred_at == "2026-11-20T09:14:03.123456Z"
        catalogue.check_subject(draft.type, draft.subject)
        catalogue.validate(draft.type, draft.data)


def test_a_version_becomes_registered_from_mlflow_fields_and_tags() -> None:
    registered = translate(p.mlflow_version_created(), "d-1").drafts[1].data
    assert registered == {
        "artifact_digest": "sha256:" + "3f" * 32,
        "artifact_uri": "models:/m-0a1b2c3d4e5f",
        "training_run": "run:mlflow/8c1b0e4f2a9d",
        "code_ref": "git+https://git.example.com/fraud-models@4f1c2e9",
        "author": "alice",
    }


def test_what_was_missing_is_recorded_and_noted() -> None:
    translation = translate(p.mlflow_version_created(**{"ledger.artifact_digest": "nope"}), "d-1")
    raw = translation.drafts[0].data
    assert isinstance(raw, dict)
    assert raw["not_registered"] == [
        "artifact_digest: set one of the tags ledger.artifact_digest, artifact_digest"
    ]
    assert "not registered" in translation.notes[0]


def test_alias_changes_carry_the_version_and_ids_follow_the_delivery() -> None:
    envelope = p.mlflow_envelope(
        "model_version_alias",
        "created",
        {"name": "fraud-detector", "alias": "production", "version": 7},
    )
    first = translate(envelope, "d-1").drafts
    assert first[1].data == {
        "alias": "production",
        "action": "set",
        "version": V7,
        "registry": "mlflow",
    }
    assert [d.id for d in translate(envelope, "d-1").drafts] == [d.id for d in first]
    assert translate(envelope, "d-2").drafts[1].id != first[1].id  # the same alias set again


def test_aliases_at_answers_what_pointed_where_at_a_time() -> None:
    changes = [
        (
            "2026-11-01T00:00:00.000000Z",
            {"alias": "production", "action": "set", "version": "model:m@6"},
        ),
        (
            "2026-11-10T00:00:00.000000Z",
            {"alias": "production", "action": "set", "version": "model:m@7"},
        ),
        (
            "2026-11-12T00:00:00.000000Z",
            {"alias": "champion", "action": "set", "version": "model:m@7"},
        ),
        ("2026-11-15T00:00:00.000000Z", {"alias": "production", "action": "deleted"}),
    ]
    assert aliases_at(changes, "2026-10-31T00:00:00.000000Z") == {}
    assert aliases_at(changes, "2026-11-05T00:00:00.000000Z") == {"production": "model:m@6"}
    assert aliases_at(changes, "2026-11-13T00:00:00.000000Z") == {
        "production": "model:m@7",
        "champion": "model:m@7",
    }
    assert aliases_at(changes, "2026-11-20T00:00:00.000000Z") == {"champion": "model:m@7"}


BODY = b'{"entity":"model_version","action":"created"}'
NOW = 1_795_000_000


def _headers(signature: str, stamp: int = NOW, delivery: str = "d-1") -> dict[str, str]:
    return {
        "x-mlflow-delivery-id": delivery,
        "x-mlflow-timestamp": str(stamp),
        "x-mlflow-signature": signature,
    }


def test_a_good_signature_verifies_and_names_the_delivery() -> None:
    good = sign("s3cret", "d-1", str(NOW), BODY)
    assert good.startswith("v1,")
    assert verify("s3cret", _headers(good), BODY, NOW + 10) == "d-1"
    assert verify("s3cret", _headers(f"v1,bm9wZQ== {good}"), BODY, NOW) == "d-1"  # rotation


@pytest.mark.parametrize(
    ("headers", "body", "now", "field"),
    [
        (_headers(sign("other", "d-1", str(NOW), BODY)), BODY, NOW, "X-MLflow-Signature"),
        (_headers(sign("s3cret", "d-1", str(NOW), BODY)), BODY + b" ", NOW, "X-MLflow-Signature"),
        (
            _headers(sign("s3cret", "d-1", str(NOW), BODY), delivery="d-2"),
            BODY,
            NOW,
            "X-MLflow-Signature",
        ),
        (_headers(sign("s3cret", "d-1", str(NOW), BODY)), BODY, NOW + 301, "X-MLflow-Timestamp"),
        (
            {"x-mlflow-delivery-id": "d-1", "x-mlflow-timestamp": str(NOW)},
            BODY,
            NOW,
            "X-MLflow-Signature",
        ),
    ],
)
def test_bad_signatures_stale_or_unsigned_deliveries_are_refused(
    headers: dict[str, str], body: bytes, now: int, field: str
) -> None:
    with pytest.raises(Unauthorized) as raised:
        verify("s3cret", headers, body, now)
    assert raised.value.field == field
