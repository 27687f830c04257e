"""Flagger webhooks -> drafts and proposed steps, table first, on Flagger's payload shapes."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.catalogue import Catalogue
from ledger.errors import BadRequest
from ledger.integrations.flagger import (
    Target,
    context_of,
    proposed_step,
    resolve_version,
    target_of,
    translate_event,
)
from ledger.schema_files import load_catalogue
from tests.integrations.payloads import flagger_event, flagger_gate

V = "model:fraud-detector@1.4.0"
TARGET = Target("fraud-detector", "prod", "1.4.0")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


EVENTS = [
    (
        "Starting canary analysis for fraud-detector.prod",
        None,
        "rollout.stage.changed",
        {"version": V, "strategy": "canary", "exposure_percent": 0},
    ),
    (
        "Advance fraud-detector.prod canary weight 10",
        None,
        "rollout.stage.changed",
        {"version": V, "strategy": "canary", "exposure_percent": 10},
    ),
    (
        "Promotion completed! Scaling down fraud-detector.prod",
        None,
        "rollout.stage.changed",
        {"version": V, "strategy": "full", "exposure_percent": 100},
    ),
    (
        "Rolling back fraud-detector.prod failed checks threshold reached 5",
        "1.3.2",
        "rollback.executed",
        {
            "from_version": V,
            "to_version": "model:fraud-detector@1.3.2",
            "trigger": "policy",
        },
    ),
    (
        "Rolling back fraud-detector.prod manual webhook invoked",
        "1.3.2",
        "rollback.executed",
        {"trigger": "manual"},
    ),
    (
        "Rolling back fraud-detector.prod progress deadline exceeded canary not ready",
        None,  # no stable version known: the canary is drained instead
        "rollout.stage.changed",
        {"version": V, "strategy": "canary", "exposure_percent": 0},
    ),
]


@pytest.mark.parametrize(("message", "stable", "kind", "expected"), EVENTS)
def test_flagger_events_become_rollout_events(
    message: str, stable: str | None, kind: str, expected: dict[str, Any], catalogue: Catalogue
) -> None:
    (draft,) = translate_event(flagger_event(message, weight=7), TARGET, stable).drafts
    assert (draft.type, draft.subject) == (kind, "deployment:fraud-detector/prod")
    data = draft.data
    assert isinstance(data, dict)
    assert {k: data[k] for k in expected} == expected
    assert data["reason"] == message
    assert draft.occurred_at == "2026-11-20T08:34:03.123000Z"  # metadata.timestamp (ms)
    catalogue.check_subject(draft.type, draft.subject)
    catalogue.validate(draft.type, data)


@pytest.mark.parametrize(
    "message",
    [
        "Halt advancement no values found for istio metric request-success-rate",
        "Copying fraud-detector.prod template spec to fraud-detector-primary.prod",
        "Routing all traffic to primary",
        "Canary failed! Scaling down fraud-detector.prod",
        "Advance fraud-detector.prod canary iteration 2/10",
    ],
)
def test_other_messages_are_noted_not_recorded(message: str) -> None:
    translation = translate_event(flagger_event(message), TARGET, "1.3.2")
    assert translation.drafts == []
    assert "not recorded" in translation.notes[0]


def test_a_retried_event_has_the_same_id() -> None:
    message = "Advance fraud-detector.prod canary weight 10"
    first = translate_event(flagger_event(message), TARGET, None).drafts[0]
    again = translate_event(flagger_event(message), TARGET, None).drafts[0]
    assert first == again


@pytest.mark.parametrize(
    ("metadata", "query", "expected"),
    [
        ({"deployment": "fraud-detector/prod", "version": "1.4.0"}, {}, TARGET),
        ({"deployment": "deployment:fraud-detector/prod", "version": V}, {}, TARGET),
        (
            {"model": "fraud-detector", "environment": "eu-prod"},
            {},
            Target("fraud-detector", "eu-prod", None),
        ),
        ({}, {}, Target("podinfo", "test", None)),  # the canary's name and namespace
        ({}, {"deployment": "fraud-detector/prod", "version": "1.4.0"}, TARGET),
        ({"version": "2.0.0"}, {"version": "1.4.0"}, Target("podinfo", "test", "2.0.0")),
    ],
)
def test_the_target_comes_from_metadata_query_or_the_canary(
    metadata: dict[str, str], query: dict[str, str], expected: Target
) -> None:
    payload = {"name": "podinfo", "namespace": "test", "phase": "Progressing", "metadata": metadata}
    assert target_of(payload, query) == expected


def test_an_environment_that_is_not_a_slug_is_refused() -> None:
    with pytest.raises(BadRequest) as raised:
        target_of({"name": "x", "namespace": "Prod_EU!", "metadata": {}}, {})
    assert raised.value.field == "metadata.deployment"


def _model(*entries: tuple[str, str, int]) -> dict[str, object]:
    return {
        "versions": [
            {"version": v, "status": {"prod": {"status": s, "seq": seq}}} for v, s, seq in entries
        ]
    }


@pytest.mark.parametrize(
    ("deployment", "model", "expected"),
    [
        ({"version": "1.4.0", "stable_version": "1.3.2"}, None, "1.4.0"),
        (
            {"version": "1.3.2", "stable_version": "1.3.2"},
            _model(
                ("1.4.0", "candidate", 9), ("1.5.0", "candidate", 12), ("1.3.2", "production", 3)
            ),
            "1.5.0",
        ),
        (None, _model(("1.4.0", "candidate", 9)), "1.4.0"),
    ],
)
def test_a_missing_version_is_taken_from_the_ledger(
    deployment: dict[str, object] | None, model: dict[str, object] | None, expected: str
) -> None:
    target = Target("fraud-detector", "prod", None)
    assert resolve_version(target, deployment, model).version == expected


def test_no_version_anywhere_fails_closed() -> None:
    with pytest.raises(BadRequest):
        resolve_version(
            Target("fraud-detector", "prod", None), None, _model(("1.3.2", "production", 1))
        )


@pytest.mark.parametrize(
    ("kind", "weight", "metadata", "expected"),
    [
        ("confirm-rollout", 0, {"stepWeight": "5"}, ("deployment.decided", None, 5.0)),
        ("confirm-promotion", 50, {}, ("rollout.stage.changed", "full", 100)),
        (
            "confirm-traffic-increase",
            10,
            {"stepWeight": "10"},
            ("rollout.stage.changed", "canary", 20),
        ),
        (
            "confirm-traffic-increase",
            40,
            {"stepWeight": "20", "maxWeight": "50"},
            ("rollout.stage.changed", "canary", 50),
        ),
        (
            "confirm-traffic-increase",
            5,
            {"stepWeights": "1, 5, 25, 50"},
            ("rollout.stage.changed", "canary", 25),
        ),
    ],
)
def test_each_gate_proposes_the_canarys_next_step(
    kind: str, weight: int, metadata: dict[str, str], expected: tuple[object, ...]
) -> None:
    step = proposed_step(kind, TARGET, flagger_gate(kind, weight=weight, **metadata), "flagger")
    data = step["data"]
    exposure = data.get("exposure_percent", data.get("target_exposure"))
    strategy = data.get("strategy") if step["type"] == "rollout.stage.changed" else None
    assert (step["type"], strategy, exposure) == expected
    assert step["actor"] == "flagger"


def test_a_traffic_increase_without_step_metadata_fails_closed() -> None:
    with pytest.raises(BadRequest) as raised:
        proposed_step("confirm-traffic-increase", TARGET, flagger_gate("x"), "flagger")
    assert raised.value.field == "metadata.stepWeight"


def test_the_gate_context_never_carries_the_token() -> None:
    payload = flagger_gate("confirm-promotion", token="rl_secret")  # noqa: S106
    assert context_of(payload) == {
        "canary": "prod/fraud-detector",
        "phase": "WaitingPromotion",
        "checksum": "85d557f47b",
    }
