"""The compliance evaluator on hand-built records: each control's met, partial and gap."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.chain import seal
from ledger.compliance import CONTROLS, ComplianceReport, Credential, Integrity, Status, evaluate
from ledger.events import Event, EventDraft, format_time

BASE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LATER = format_time(BASE + timedelta(days=200))
INTACT = Integrity(ok=True, checked=1000, signed_size=1000)
DIGEST = "sha256:" + "ab" * 32

Step = tuple[str, str, str, dict[str, object]]
"""(type, subject, actor, data)."""

STORY: list[Step] = [
    (
        "model.registered",
        "model:m",
        "ci",
        {"owner": "m-team", "risk_tier": "high", "business_process": "p", "description": "d"},
    ),
    ("dataset.version.registered", "dataset:d@1", "etl", {"digest": DIGEST}),
    ("model.version.registered", "model:m@1", "ci", {"trained_on": ["dataset:d@1"]}),
    (
        "test.result.recorded",
        "model:m@1",
        "ci",
        {"suite": "holdout", "kind": "evaluation", "passed": True, "metrics": {"auc": 0.9}},
    ),
    (
        "approval.granted",
        "model:m@1",
        "ana",
        {"environment": "prod", "approver_role": "model_risk", "justification": "ok"},
    ),
    (
        "deployment.decided",
        "model:m@1",
        "sam",
        {"environment": "prod", "decision": "promote", "target_exposure": 10},
    ),
    (
        "rollout.stage.changed",
        "deployment:m/prod",
        "ops",
        {"version": "model:m@1", "strategy": "canary", "exposure_percent": 10},
    ),
    (
        "alert.raised",
        "deployment:m/prod",
        "prometheus",
        {"alert_id": "a1", "metric": "error_rate", "observed": 0.02, "threshold": 0.05},
    ),
]
EVIDENCE_TYPES = {
    "test.result.recorded",
    "approval.granted",
    "alert.raised",
    "dataset.version.registered",
}
EVIDENCE = [i for i, step in enumerate(STORY) if step[0] in EVIDENCE_TYPES]
"""Indexes of the steps that are evidence only (no obligation of their own)."""


def events(steps: Iterable[tuple[int, Step]]) -> list[Event]:
    """Seal each (index, step) at seq 10 * (index + 1), a day apart, so removal keeps seqs."""
    out = []
    for index, (kind, subject, actor, data) in steps:
        seq = 10 * (index + 1)
        out.append(
            seal(
                EventDraft.create(kind, subject, data),
                seq=seq,
                prev_hash="0" * 64,
                actor=actor,
                recorded_at=format_time(BASE + timedelta(days=index)),
                id=f"00000000-0000-4000-8000-{seq:012d}",
            )
        )
    return out


def report(steps: list[Step] | None = None, **kwargs: object) -> ComplianceReport:
    chosen = list(enumerate(STORY if steps is None else steps))
    integrity = kwargs.get("integrity", INTACT)
    assert isinstance(integrity, Integrity)
    return evaluate("m", events(chosen), integrity, str(kwargs.get("at", LATER)))


def statuses(found: ComplianceReport) -> dict[str, Status]:
    return {f.control.id: f.status for f in found.findings}


def finding(found: ComplianceReport, control_id: str) -> tuple[Status, list[int], list[str]]:
    (match,) = [f for f in found.findings if f.control.id == control_id]
    return match.status, [e.seq for e in match.evidence], list(match.gaps)


def without(kind: str, steps: list[Step] = STORY) -> list[Step]:
    return [s for s in steps if s[0] != kind]


def test_a_complete_record_meets_every_control() -> None:
    assert statuses(report()) == {c.id: Status.MET for c in CONTROLS}


def test_change_control_cites_the_decision_and_the_named_approver() -> None:
    status, seqs, gaps = finding(report(), "sr11-7-change-control")
    assert (status, seqs, gaps) == (Status.MET, [50, 60], [])
    (match,) = [f for f in report().findings if f.control.id == "sr11-7-change-control"]
    assert [e.note for e in match.evidence] == [
        "approved by ana as model_risk",
        "promote decided by sam",
    ]


def test_removing_the_approval_turns_change_control_into_a_gap() -> None:
    status, seqs, gaps = finding(report(without("approval.granted")), "sr11-7-change-control")
    assert (status, seqs) == (Status.GAP, [])
    assert gaps == ["model:m@1 in prod (promoted at seq 50): no approval before the decision"]


def test_an_approval_revoked_before_the_decision_does_not_count() -> None:
    revoke: Step = (
        "approval.revoked",
        "model:m@1",
        "ana",
        {"approval_seq": 50, "environment": "prod", "justification": "stale"},
    )
    steps = [*STORY[:5], revoke, *STORY[5:]]  # approval at seq 50, revoked at 60, decided at 70
    assert finding(report(steps), "sr11-7-change-control")[0] is Status.GAP


def test_a_release_nobody_decided_is_a_change_control_and_validation_gap() -> None:
    found = report(without("deployment.decided"))
    assert finding(found, "sr11-7-change-control")[2] == [
        "model:m@1 in prod (live at seq 60): no deployment.decided"
    ]
    # the evaluation (seq 40) came before the live stage, so validation still holds
    assert finding(found, "sr11-7-validation")[0] is Status.MET


def test_a_failing_latest_evaluation_is_no_validation() -> None:
    failed: Step = (
        "test.result.recorded",
        "model:m@1",
        "ci",
        {"suite": "holdout", "kind": "evaluation", "passed": False, "metrics": {"auc": 0.5}},
    )
    steps = [*STORY[:4], failed, *STORY[4:]]
    assert finding(report(steps), "sr11-7-validation")[0] is Status.GAP


def test_a_deployed_version_with_no_trained_on_edge_is_a_provenance_gap() -> None:
    steps = [s if s[0] != "model.version.registered" else (*s[:3], {}) for s in STORY]
    status, _, gaps = finding(report(steps), "iso42001-a7.5")
    assert (status, gaps) == (Status.GAP, ["model:m@1: no trained_on"])


def test_training_data_must_be_a_registered_dataset_version() -> None:
    status, _, gaps = finding(report(without("dataset.version.registered")), "iso42001-a7.5")
    assert (status, gaps) == (Status.GAP, ["model:m@1: trained on unregistered dataset:d@1"])


def test_an_unmonitored_deployed_version_is_a_monitoring_gap() -> None:
    status, _, gaps = finding(report(without("alert.raised")), "sr11-7-monitoring")
    assert (status, gaps) == (Status.GAP, ["model:m@1 served prod from seq 70 unmonitored"])


def test_retention_is_partial_until_six_months_are_held() -> None:
    young = report(at=format_time(BASE + timedelta(days=30)))
    status, seqs, gaps = finding(young, "eu-ai-act-art19-26")
    assert (status, seqs, gaps) == (Status.PARTIAL, [10], ["only 30 of 183 days held so far"])
    (match,) = [f for f in young.findings if f.control.id == "eu-ai-act-art19-26"]
    assert "can only be shown from 2026-07-07" in match.explanation


def test_a_broken_chain_leaves_nothing_to_rely_on() -> None:
    broken = Integrity(ok=False, checked=3, reason="seq 4: hash mismatch")
    found = statuses(report(integrity=broken))
    # a tampered log proves no approval, test or registration either
    assert found == {c.id: Status.GAP for c in CONTROLS}


def test_events_after_the_signed_checkpoint_make_event_logs_partial() -> None:
    found = report(integrity=Integrity(ok=True, checked=80, signed_size=40))
    assert finding(found, "iso42001-a6.2.8")[2] == [
        "events after seq 40 not yet in a signed checkpoint"
    ]


def test_an_unregistered_model_is_missing_from_the_inventory_and_the_log() -> None:
    found = statuses(report(without("model.registered")))
    assert found["sr11-7-inventory"] is Status.GAP
    assert found["eu-ai-act-art12"] is Status.GAP


def test_a_retired_model_stays_in_the_inventory_with_its_retirement() -> None:
    retire: Step = ("model.retired", "model:m", "sam", {"reason": "replaced"})
    found = report([*STORY, retire])
    assert found.retired
    assert finding(found, "sr11-7-inventory")[:2] == (Status.MET, [10, 90])


def test_a_model_never_released_has_nothing_to_validate_monitor_or_trace() -> None:
    found = statuses(report(STORY[:4]))
    for control_id in ("sr11-7-validation", "sr11-7-monitoring", "iso42001-a7.5"):
        assert found[control_id] is Status.MET


def test_staging_releases_need_no_approval() -> None:
    staging = [
        s if s[0] != "rollout.stage.changed" else (s[0], "deployment:m/staging", s[2], s[3])
        for s in without("deployment.decided")
    ]
    assert finding(report(staging), "sr11-7-change-control")[0] is Status.MET


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_adding_evidence_never_lowers_a_status(data: st.DataObject) -> None:
    removed = data.draw(st.sets(st.sampled_from(EVIDENCE)), label="removed")
    restored = data.draw(st.sets(st.sampled_from(sorted(removed))) if removed else st.just(set()))
    fewer = [(i, s) for i, s in enumerate(STORY) if i not in removed]
    more = [(i, s) for i, s in enumerate(STORY) if i not in removed - restored]
    before = evaluate("m", events(fewer), INTACT, LATER)
    after = evaluate("m", events(more), INTACT, LATER)
    for old, new in zip(before.findings, after.findings, strict=True):
        assert new.status.rank >= old.status.rank, (old.control.id, removed, restored)


# ---- change control: who may approve, and until when ----------------------------------

APPROVAL = next(i for i, s in enumerate(STORY) if s[0] == "approval.granted")
APPROVED_AT = format_time(BASE + timedelta(days=APPROVAL))


def _with_approval(actor: str = "ana", **extra: object) -> list[Step]:
    kind, subject, _, data = STORY[APPROVAL]
    return [*STORY[:APPROVAL], (kind, subject, actor, {**data, **extra}), *STORY[APPROVAL + 1 :]]


def _change_control(steps: list[Step], credentials: dict[str, Credential] | None = None) -> Status:
    found = evaluate("m", events(enumerate(steps)), INTACT, LATER, credentials)
    (match,) = [f for f in found.findings if f.control.id == "sr11-7-change-control"]
    return match.status


def test_an_approval_appended_locally_without_a_token_is_no_named_authority() -> None:
    steps = _with_approval(actor="local:root")
    assert _change_control(steps) is Status.GAP
    (gap,) = finding(report(steps), "sr11-7-change-control")[2]
    assert gap.endswith("(not counted: seq 50 by local:root, a local caller with no token, "
                        "so no approver role)")  # fmt: skip


@pytest.mark.parametrize(
    ("credential", "status"),
    [
        (Credential("ana", "approver", "2026-01-01T00:00:00.000000Z"), Status.MET),
        (Credential("ana", "admin", "2026-01-01T00:00:00.000000Z"), Status.GAP),
        (Credential("ana", "pipeline", "2026-01-01T00:00:00.000000Z"), Status.GAP),
        # the token was made after the approval, or revoked before it: not the approver then
        (Credential("ana", "approver", format_time(BASE + timedelta(days=30))), Status.GAP),
        (Credential("ana", "approver", "2026-01-01T00:00:00.000000Z", APPROVED_AT), Status.GAP),
        (
            Credential("ana", "approver", "2026-01-01T00:00:00.000000Z", LATER),
            Status.MET,  # revoked long after: the approval stands
        ),
    ],
)
def test_an_approval_counts_only_from_a_live_approver_token(
    credential: Credential, status: Status
) -> None:
    assert _change_control(STORY, {"ana": credential}) is status


def test_an_approval_expired_before_the_decision_does_not_count() -> None:
    expired = format_time(BASE + timedelta(days=APPROVAL, hours=1))  # decided a day later
    assert _change_control(_with_approval(expires_at=expired)) is Status.GAP
    assert _change_control(_with_approval(expires_at=LATER)) is Status.MET


# ---- retirement, monitoring, logging ------------------------------------------------


def test_retiring_one_version_does_not_retire_the_model() -> None:
    retire: Step = (
        "deployment.decided",
        "model:m@1",
        "sam",
        {"environment": "staging", "decision": "retire", "justification": "old"},
    )
    found = report([*STORY, retire])
    assert not found.retired
    (match,) = [f for f in found.findings if f.control.id == "sr11-7-inventory"]
    assert match.explanation.endswith("; active")


def test_an_alert_from_before_the_version_served_does_not_monitor_it() -> None:
    alert = next(s for s in STORY if s[0] == "alert.raised")
    early = [*STORY[:5], alert, *without("alert.raised")[5:]]  # the alert at seq 60, live at 80
    status, _, gaps = finding(report(early), "sr11-7-monitoring")
    assert (status, gaps) == (Status.GAP, ["model:m@1 served prod from seq 80 unmonitored"])


def test_an_alert_naming_the_version_monitors_it_whenever_raised() -> None:
    kind, subject, actor, data = next(s for s in STORY if s[0] == "alert.raised")
    early = [*STORY[:5], (kind, subject, actor, {**data, "version": "model:m@1"})]
    early += without("alert.raised")[5:]
    assert finding(report(early), "sr11-7-monitoring")[0] is Status.MET


def test_a_stage_of_an_unregistered_version_leaves_a_logging_gap() -> None:
    stage: Step = (
        "rollout.stage.changed",
        "deployment:m/staging",
        "ops",
        {"version": "model:m@9", "strategy": "canary", "exposure_percent": 5},
    )
    status, _, gaps = finding(report([*STORY, stage]), "eu-ai-act-art12")
    assert (status, gaps) == (
        Status.PARTIAL,
        ["model:m@9 appears from seq 90 but was never registered"],
    )
