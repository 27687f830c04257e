"""One-line summaries of events, as timelines print them."""

from __future__ import annotations

import pytest

from ledger.projections.summary import summarize


@pytest.mark.parametrize(
    ("event_type", "data", "summary"),
    [
        (
            "test.result.recorded",
            {"kind": "evaluation", "suite": "holdout", "passed": True, "metrics": {"auc": 0.95}},
            "evaluation holdout passed auc=0.95",
        ),
        (
            "test.result.recorded",
            {"kind": "canary_analysis", "suite": "c", "passed": False, "environment": "prod"},
            "canary_analysis c in prod FAILED",
        ),
        (
            "approval.granted",
            {"environment": "prod", "approver_role": "model_risk"},
            "approved for prod as model_risk",
        ),
        (
            "deployment.decided",
            {"decision": "promote", "environment": "prod", "target_exposure": 5},
            "decided promote in prod to 5%",
        ),
        ("deployment.decided", {"decision": "hold", "environment": "prod"}, "decided hold in prod"),
        (
            "rollout.stage.changed",
            {"version": "model:m@1.2.0", "strategy": "canary", "exposure_percent": 25},
            "1.2.0 canary at 25%",
        ),
        (
            "alert.raised",
            {
                "severity": "critical",
                "metric": "error_rate",
                "observed": 0.07,
                "threshold": 0.05,
                "comparator": "gt",
            },
            "critical error_rate 0.07 > 0.05",
        ),
        (
            "rollback.executed",
            {"from_version": "model:m@2", "to_version": "model:m@1"},
            "rolled back 2 -> 1",
        ),
        (
            "rollback.verified",
            {"to_version": "model:m@1", "passed": False, "checks": [{"passed": True}, {}]},
            "rollback to 1 NOT verified: 1/2 checks passed",
        ),
        ("review.recorded", {"findings": [{}], "actions": []}, "review: 1 findings, 0 actions"),
        (
            "policy.denied",
            {"unmet": ["needs fairness", "needs 3 approvals"]},
            "policy refused: needs fairness (+1 more)",
        ),
        (
            "lineage.edge.recorded",
            {"relation": "trained_on", "target": "dataset:d@1"},
            "trained_on dataset:d@1",
        ),
    ],
)
def test_each_type_says_what_a_reviewer_scans_for(
    event_type: str, data: dict[str, object], summary: str
) -> None:
    assert summarize(event_type, data) == summary


@pytest.mark.parametrize(
    ("event_type", "data"),
    [("made.up", {"a": 1}), ("approval.granted", "not an object"), ("incident.opened", {})],
)
def test_unknown_types_and_odd_payloads_fall_back_to_the_type(
    event_type: str, data: object
) -> None:
    assert summarize(event_type, data) == event_type


def test_a_summary_is_one_line() -> None:
    text = summarize("incident.opened", {"severity": "sev1", "summary": "two\nlines\there"})
    assert text == "sev1 two lines here"
