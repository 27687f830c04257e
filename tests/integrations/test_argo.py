"""Argo Rollouts notifications -> drafts, table first, on the documented template's body."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.catalogue import Catalogue
from ledger.errors import BadRequest
from ledger.integrations.argo import target_of, translate, weight_in_effect
from ledger.integrations.flagger import Target
from ledger.schema_files import load_catalogue
from tests.integrations.payloads import argo_notification

V = "model:fraud-detector@1.4.0"
TARGET = Target("fraud-detector", "prod", "1.4.0")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


CASES = [
    (
        argo_notification("rollout-step-completed", step=1),
        None,
        "rollout.stage.changed",
        {"version": V, "strategy": "canary", "exposure_percent": 10},
    ),
    (
        argo_notification("rollout-step-completed", step=4),
        None,
        "rollout.stage.changed",
        {"strategy": "canary", "exposure_percent": 50},
    ),
    (
        argo_notification("rollout-step-completed", step=1, weight="25"),
        None,
        "rollout.stage.changed",
        {"exposure_percent": 25},
    ),
    (
        argo_notification("rollout-completed", step=5),
        None,
        "rollout.stage.changed",
        {"strategy": "full", "exposure_percent": 100},
    ),
    (
        argo_notification("rollout-aborted", step=3, message="metric success-rate failed"),
        "1.3.2",
        "rollback.executed",
        {"to_version": "model:fraud-detector@1.3.2", "reason": "metric success-rate failed"},
    ),
    (
        argo_notification("rollout-aborted", step=3),
        None,
        "rollout.stage.changed",
        {"strategy": "canary", "exposure_percent": 0},
    ),
    (
        argo_notification("analysis-run-failed", step=3),
        None,
        "test.result.recorded",
        {"kind": "canary_analysis", "passed": False, "environment": "prod"},
    ),
]


@pytest.mark.parametrize(("payload", "stable", "kind", "expected"), CASES)
def test_notifications_become_rollout_events(
    payload: dict[str, Any],
    stable: str | None,
    kind: str,
    expected: dict[str, Any],
    catalogue: Catalogue,
) -> None:
    (draft,) = translate(payload, TARGET, stable).drafts
    assert draft.type == kind
    data = draft.data
    assert isinstance(data, dict)
    assert {k: data[k] for k in expected} == expected
    catalogue.check_subject(draft.type, draft.subject)
    catalogue.validate(draft.type, data)


def test_a_pause_before_any_weight_is_noted_not_recorded() -> None:
    payload = argo_notification("rollout-step-completed", step=1, steps=[{"pause": {}}])
    translation = translate(payload, TARGET, None)
    assert translation.drafts == []
    assert translation.notes


def test_ids_repeat_for_a_retry_and_differ_by_step_and_time() -> None:
    one = translate(argo_notification("rollout-step-completed", step=1), TARGET, None).drafts[0]
    again = translate(argo_notification("rollout-step-completed", step=1), TARGET, None).drafts[0]
    other = translate(argo_notification("rollout-step-completed", step=3), TARGET, None).drafts[0]
    later = translate(
        argo_notification("rollout-step-completed", step=1, time="2026-11-21T09:00:00Z"),
        TARGET,
        None,
    ).drafts[0]
    assert one.id == again.id
    assert len({one.id, other.id, later.id}) == 3
    assert later.occurred_at == "2026-11-21T09:00:00.000000Z"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, TARGET),
        ({"version": "model:fraud-detector@1.4.0"}, TARGET),
        ({"deployment": "", "version": ""}, Target("fraud-detector", "prod", None)),
    ],
)
def test_the_target_comes_from_the_annotations_or_the_rollout(
    fields: dict[str, Any], expected: Target
) -> None:
    assert target_of(argo_notification("rollout-completed", **fields)) == expected


def test_unknown_events_and_bad_environments_are_refused() -> None:
    with pytest.raises(BadRequest):
        translate(argo_notification("rollout-paused"), TARGET, None)
    with pytest.raises(BadRequest):
        target_of(argo_notification("rollout-completed", deployment="fraud-detector/Prod EU"))


@pytest.mark.parametrize(
    ("step", "weight"), [(0, None), (1, 10.0), (2, 10.0), (3, 50.0), (9, 50.0)]
)
def test_the_weight_in_effect_is_the_last_set_weight_before_the_current_step(
    step: int, weight: float | None
) -> None:
    assert weight_in_effect(argo_notification("x", step=step)) == weight
