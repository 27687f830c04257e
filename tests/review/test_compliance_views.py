"""The compliance view on the demo story: the CLI report and the GraphQL query, with auth."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ledger.cli import cli
from ledger.compliance import CONTROLS, Integrity
from ledger.service import Ledger
from ledger.service_compliance import integrity_of
from ledger.store import open_store
from ledger.store.protocol import TokenRecord
from tests.api.test_graphql_models import DemoApi, copy_demo, demo_api
from tests.review.conftest import Run

JsonRun = Callable[..., Any]

QUERY = """
query ($model: String!, $asOf: AsOf) {
  compliance(model: $model, asOf: $asOf) {
    model at registered retired chainVerified chainChecked signedTreeSize
    findings {
      control { id framework clause title requirement }
      status explanation gaps
      evidence { seq hash type subject note }
    }
  }
}
"""


@pytest.fixture(scope="module")
def api(demo_db: Path) -> Iterator[DemoApi]:
    with demo_api(demo_db) as made:
        yield made


def _statuses(findings: list[dict[str, Any]]) -> dict[str, str]:
    return {f["control"]["id"] if "control" in f else f["id"]: f["status"] for f in findings}


def test_the_cli_report_lists_every_control_with_status_and_evidence(run: Run) -> None:
    result = run("compliance", "credit-limits")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("credit-limits (active) at ")
    assert lines[1].split() == ["status", "control", "framework", "clause", "evidence", "(seq)"]
    table = {line.split()[1]: line.split()[0] for line in lines[2 : 2 + len(CONTROLS)]}
    assert table == {
        "eu-ai-act-art12": "met",
        "eu-ai-act-art19-26": "partial",  # the demo spans 13 days, not six months
        "sr11-7-inventory": "met",
        "sr11-7-validation": "partial",  # 3.1.0 was backfilled into prod with no evaluation
        "sr11-7-monitoring": "partial",
        "sr11-7-change-control": "partial",
        "iso42001-a6.2.8": "met",
        "iso42001-a7.5": "met",
    }
    assert (
        "  gap: model:credit-limits@3.1.0 in prod (live at seq 12): no deployment.decided" in lines
    )
    change = next(line for line in lines if line.split()[1:2] == ["sr11-7-change-control"])
    assert change.split()[-5:] == ["101,", "102,", "105,", "107,", "108"]  # 105: the denial


def test_the_json_report_links_each_piece_of_evidence_by_seq_and_hash(run_json: JsonRun) -> None:
    report = run_json("compliance", "product-recommender")
    assert report["model"] == "product-recommender"
    assert report["chain"] == {"ok": True, "checked": 110, "reason": None, "signed_size": 110}
    assert [c["id"] for c in report["controls"]] == [c.id for c in CONTROLS]
    change = next(c for c in report["controls"] if c["id"] == "sr11-7-change-control")
    assert [(e["seq"], e["type"]) for e in change["evidence"]] == [
        (62, "approval.granted"),
        (63, "deployment.decided"),
    ]
    assert all(len(e["hash"]) == 64 for e in change["evidence"])


def test_as_of_before_the_promotion_there_is_only_the_backfilled_release(
    run_json: JsonRun,
) -> None:
    report = run_json("compliance", "product-recommender", "--as-of", "seq:60")
    change = next(c for c in report["controls"] if c["id"] == "sr11-7-change-control")
    assert change["status"] == "gap"
    assert change["gaps"] == [
        "model:product-recommender@2.3.0 in prod (live at seq 11): no deployment.decided"
    ]


def test_all_reports_every_model(run_json: JsonRun) -> None:
    reports = run_json("compliance", "--all")
    assert sorted(r["model"] for r in reports) == [
        "credit-limits",
        "fraud-detector",
        "product-recommender",
    ]


def test_an_unknown_model_is_a_one_line_error(run: Run) -> None:
    result = run("compliance", "nope")
    assert (result.exit_code, result.stderr) == (4, "error: model: no model 'nope' in the ledger\n")


def test_the_graphql_report_matches_the_cli(api: DemoApi, run_json: JsonRun) -> None:
    data = api.data(QUERY, "auditor", model="fraud-detector")["compliance"]
    cli = run_json("compliance", "fraud-detector")
    assert (data["chainVerified"], data["chainChecked"], data["signedTreeSize"]) == (True, 110, 110)
    assert {k: v.upper() for k, v in _statuses(cli["controls"]).items()} == _statuses(
        data["findings"]
    )
    provenance = next(f for f in data["findings"] if f["control"]["id"] == "iso42001-a7.5")
    assert provenance["control"]["framework"] == "ISO/IEC 42001"
    subjects = {e["subject"].partition("@")[0] for e in provenance["evidence"]}
    assert subjects >= {
        "dataset:fraud-features",
        "dataset:card-transactions",
        "model:fraud-detector",
    }


def test_graphql_as_of_a_seq_evaluates_then(api: DemoApi) -> None:
    data = api.data(QUERY, "auditor", model="product-recommender", asOf={"seq": 60})
    statuses = _statuses(data["compliance"]["findings"])
    assert statuses["sr11-7-change-control"] == "GAP"


def test_compliance_all_over_graphql(api: DemoApi) -> None:
    data = api.data("{ complianceAll { model registered findings { status } } }", "admin")
    assert sorted(r["model"] for r in data["complianceAll"]) == [
        "credit-limits",
        "fraud-detector",
        "product-recommender",
    ]


@pytest.mark.parametrize(("role", "code"), [("pipeline", "forbidden"), (None, "unauthorized")])
def test_only_auditors_and_admins_may_ask(api: DemoApi, role: str | None, code: str) -> None:
    body = api.post(QUERY, role, model="fraud-detector")
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]


def test_an_unknown_model_is_a_not_found_error(api: DemoApi) -> None:
    body = api.post(QUERY, "auditor", model="nope")
    assert [e["extensions"]["code"] for e in body["errors"]] == ["not_found"]


def _control(report: dict[str, Any], control_id: str) -> dict[str, Any]:
    found = next(c for c in report["controls"] if c["id"] == control_id)
    assert isinstance(found, dict)
    return found


def test_as_of_a_future_time_speaks_for_now_not_for_then(run_json: JsonRun) -> None:
    report = run_json("compliance", "product-recommender", "--as-of", "2099-01-01T00:00:00Z")
    assert report["at"] < "2099"
    # six months cannot be claimed by asking about a day that has not come
    assert _control(report, "eu-ai-act-art19-26")["status"] == "partial"


def test_as_of_before_any_checkpoint_no_signature_covers_the_events(run_json: JsonRun) -> None:
    report = run_json("compliance", "product-recommender", "--as-of", "seq:100")
    assert report["chain"]["signed_size"] is None  # the demo signs only at its end, seq 110
    assert _control(report, "iso42001-a6.2.8")["gaps"] == ["no signed checkpoint"]
    assert run_json("compliance", "product-recommender")["chain"]["signed_size"] == 110


def test_all_as_of_leaves_out_models_registered_later(run_json: JsonRun) -> None:
    reports = run_json("compliance", "--all", "--as-of", "seq:6")
    assert [r["model"] for r in reports] == ["fraud-detector", "product-recommender"]


def test_an_approver_whose_token_is_not_an_approver_token_is_no_authority(
    demo_db: Path, tmp_path: Path
) -> None:
    db = copy_demo(demo_db, tmp_path)
    store = open_store(str(db))
    try:  # maya approved 2.4.0 (seq 62); the registry says her token only operates
        store.add_token(TokenRecord("recs-lead-maya", "operator", "0" * 64, "2026-01-01T00:00:00Z"))
    finally:
        store.close()
    result = CliRunner().invoke(
        cli, ["--db", str(db), "compliance", "product-recommender", "--json"]
    )
    assert result.exit_code == 0, result.output
    change = _control(json.loads(result.stdout), "sr11-7-change-control")
    assert change["status"] == "gap"
    assert change["gaps"][-1].endswith(
        "(not counted: seq 62 by recs-lead-maya, whose token role is operator, not approver)"
    )


def test_fail_on_gap_exits_3_after_printing_the_report(run: Run) -> None:
    result = run("compliance", "product-recommender", "--as-of", "seq:60", "--fail-on-gap")
    assert result.exit_code == 3
    assert result.stdout.startswith("product-recommender (active) at ")
    assert result.stderr == (
        "error: --fail-on-gap: 3 controls are gaps: product-recommender sr11-7-validation, "
        "product-recommender sr11-7-monitoring, product-recommender sr11-7-change-control\n"
    )


def test_fail_on_gap_passes_when_nothing_is_a_gap(run: Run) -> None:
    result = run("compliance", "--all", "--fail-on-gap", "--json")
    assert result.exit_code == 0, result.output
    assert all(c["status"] != "gap" for r in json.loads(result.stdout) for c in r["controls"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("fraud-detector", "--all"), "error: --all: give a MODEL or --all, not both\n"),
        ((), "error: MODEL: give a MODEL, or --all for every model\n"),
    ],
)
def test_model_and_all_are_one_line_errors(run: Run, args: tuple[str, ...], message: str) -> None:
    result = run("compliance", *args)
    assert (result.exit_code, result.stderr) == (2, message)


def test_two_reports_in_one_request_verify_the_chain_once(
    api: DemoApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def counting(ledger: Ledger) -> Integrity:
        calls.append(1)
        return integrity_of(ledger)

    monkeypatch.setattr("ledger.api.graphql.compliance.integrity_of", counting)
    query = """{ a: compliance(model: "fraud-detector") { model }
                 b: compliance(model: "credit-limits") { model }
                 complianceAll { model } }"""
    data = api.data(query, "auditor")
    assert (data["a"]["model"], data["b"]["model"], len(data["complianceAll"])) == (
        "fraud-detector",
        "credit-limits",
        3,
    )
    assert calls == [1]
