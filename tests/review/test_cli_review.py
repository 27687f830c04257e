"""timeline, lineage and status on the demo story: what an incident reviewer runs."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from ledger.service_review import ProjectionReader, lineage, timeline
from ledger.store import EventStore, open_store
from tests.review.conftest import Run

JsonRun = Callable[..., Any]

INCIDENT = "incident:INC-2291"
RECS = "deployment:product-recommender/prod"


def _seqs_by_type(events: list[dict[str, Any]]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for event in events:
        out.setdefault(event["type"], []).append(event["seq"])
    return out


def test_the_related_incident_timeline_holds_alert_rollback_verification_tests_and_approval(
    run_json: JsonRun,
) -> None:
    found = run_json("timeline", "--subject", INCIDENT, "--related")
    by_type = _seqs_by_type(found["events"])
    assert by_type["alert.raised"] == [65]
    assert by_type["rollback.executed"] == [67]
    assert by_type["rollback.verified"] == [69]
    assert by_type["test.result.recorded"] == [57, 58, 59, 60]
    assert by_type["approval.granted"] == [62]
    assert by_type["approval.revoked"] == [71]
    assert RECS in found["subjects"]
    assert not found["truncated"]


def test_without_related_the_timeline_is_the_incident_alone(run_json: JsonRun) -> None:
    found = run_json("timeline", "--subject", INCIDENT)
    assert [(e["seq"], e["type"]) for e in found["events"]] == [
        (66, "incident.opened"),
        (70, "incident.resolved"),
        (73, "review.recorded"),
    ]


def test_the_table_has_seq_time_actor_type_subject_summary_and_short_hash(run: Run) -> None:
    result = run("timeline", "--subject", RECS, "--types", "alert.*", "--types", "rollback.*")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["seq", "time", "actor", "type", "subject", "summary", "hash"]
    row = re.compile(
        r" *(\d+)  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  (\S+) +(\S+) +(\S+)  (.+?)  ([0-9a-f]{12})"
    )
    rows = [row.fullmatch(line) for line in lines[1:-1]]
    assert all(rows), lines
    assert [(m[1], m[3]) for m in rows if m] == [
        ("65", "alert.raised"),
        ("67", "rollback.executed"),
        ("68", "alert.resolved"),
        ("69", "rollback.verified"),
    ]
    assert "rolled back 2.4.0 -> 2.3.0" in lines[2]
    assert lines[-1] == "4 events about 1 subjects"


def test_the_table_is_the_same_on_every_run_off_a_terminal(run: Run) -> None:
    args = ("timeline", "--subject", INCIDENT, "--related")
    assert run(*args).stdout == run(*args).stdout


def test_full_hash_prints_all_64_digits(run: Run, run_json: JsonRun) -> None:
    whole = run_json("timeline", "--subject", INCIDENT)["events"][0]["hash"]
    result = run("timeline", "--subject", INCIDENT, "--full-hash")
    assert whole in result.stdout
    assert whole not in run("timeline", "--subject", INCIDENT).stdout


def test_from_and_to_bound_the_window_end_exclusive(run_json: JsonRun) -> None:
    everything = run_json("timeline", "--subject", RECS)["events"]
    times = {e["seq"]: e["occurred_at"] for e in everything}
    found = run_json("timeline", "--subject", RECS, "--from", times[65], "--to", times[69])
    assert [e["seq"] for e in found["events"]] == [65, 67, 68]


def test_as_of_hides_what_was_recorded_later(run_json: JsonRun) -> None:
    found = run_json("timeline", "--subject", RECS, "--as-of", "seq:66")
    assert [e["seq"] for e in found["events"]] == [11, 64, 65]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "yesterday"), "error: --from: expected an RFC 3339 date-time"),
        (("--as-of", "seq:x"), "error: --as-of: 'seq:x' is not seq:N"),
        (("--as-of", "noon"), "error: --as-of: expected seq:N or an RFC 3339 time"),
    ],
)
def test_bad_times_are_one_line_errors(run: Run, args: tuple[str, ...], message: str) -> None:
    result = run("timeline", "--subject", INCIDENT, *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1


def test_a_bad_subject_is_a_one_line_error(run: Run) -> None:
    result = run("timeline", "--subject", "INC-2291")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: subjects[0]")


def test_upstream_lineage_shows_the_training_dataset_as_a_tree(run: Run) -> None:
    result = run("lineage", "model:product-recommender@2.4.0", "--upstream", "--depth", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "model:product-recommender@2.4.0"
    # dataset versions are named by the story's dates, which follow the day it is loaded
    text = re.sub(r"@\d{4}-\d\d-\d\d", "@<day>", result.stdout)
    assert "├── dataset:recs-training-pairs@<day>  trained_on, seq 52" in text.splitlines()
    assert "│   ├── dataset:catalog-items@<day>  derived_from, seq 50" in text.splitlines()
    assert not any("deployment:" in line for line in lines)  # downstream left out


def test_lineage_as_of_before_the_version_was_registered_is_empty(run_json: JsonRun) -> None:
    ref = "model:product-recommender@2.4.0"
    assert run_json("lineage", ref, "--as-of", "seq:51")["edges"] == []
    later = run_json("lineage", ref, "--upstream", "--depth", "1")
    trained = [(e["target"], e["seq"]) for e in later["edges"] if e["relation"] == "trained_on"]
    assert [seq for target, seq in trained if "recs-training-pairs@" in target] == [52]


def test_both_directions_print_two_branches(run: Run) -> None:
    result = run("lineage", "dataset:recs-training-pairs", "--depth", "2")
    assert result.exit_code == 0, result.output
    assert "├── upstream (depends on)" in result.stdout
    assert "└── downstream (used by)" in result.stdout
    assert "│   └── model:product-recommender@2.4.0  trained_on, seq 52" in result.stdout
    assert "├── upstream (depends on)\n│   └── (nothing)\n" in result.stdout


def test_status_shows_what_runs_in_prod_now(run: Run) -> None:
    result = run("status", "product-recommender")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "product-recommender (low risk, owner recs-ml) as of now"
    assert lines[1].split() == [
        "environment", "version", "status", "exposure", "strategy", "since", "seq",
    ]  # fmt: skip
    rows = [line.split() for line in lines[2:]]
    assert [(r[0], r[1], r[2], r[3], r[-1]) for r in rows] == [
        ("prod", "2.3.0", "production", "100%", "67"),
        ("prod", "2.4.0", "rolled_back", "0%", "67"),
        ("staging", "2.4.0", "production", "100%", "61"),
    ]


def test_status_as_of_before_the_rollout_differs(run_json: JsonRun) -> None:
    def prod(*args: str) -> list[tuple[str, str, float]]:
        rows = run_json("status", "fraud-detector", *args)
        return [
            (r["version"], r["status"], r["exposure"]) for r in rows if r["environment"] == "prod"
        ]

    assert prod("--as-of", "seq:34") == [("1.3.2", "production", 100.0)]
    assert prod("--as-of", "seq:38") == [
        ("1.3.2", "production", 95.0),
        ("1.4.0", "canary", 5.0),
    ]
    assert prod() == [("1.4.0", "production", 100.0), ("1.3.2", "replaced", 0.0)]


def test_status_of_an_unknown_model_is_a_one_line_not_found(run: Run) -> None:
    result = run("status", "no-such-model")
    assert result.exit_code == 4
    assert result.stderr == "error: model: no model 'no-such-model' in the ledger\n"


def test_status_with_a_bad_as_of_is_a_one_line_error(run: Run) -> None:
    result = run("status", "fraud-detector", "--as-of", "yesterday")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --as-of: expected seq:N or an RFC 3339 time")


def test_status_refuses_a_version(run: Run) -> None:
    result = run("status", "model:fraud-detector@1.4.0")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: model: give a model, not a version")


def test_a_missing_ledger_is_named(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from ledger.cli import cli

    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.db"), "status", "m"])
    assert result.exit_code == 4
    assert "run `rollout-ledger init` first" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--from", "2026-11-20T10:00:00"),
            "error: --from: '2026-11-20T10:00:00' has no UTC offset",
        ),
        (("--to", "2026-11-20 10:00"), "error: --to: '2026-11-20 10:00' has no UTC offset"),
        (("--as-of", "2026-11-20T10:00"), "error: --as-of: '2026-11-20T10:00' has no UTC offset"),
    ],
)
def test_a_time_without_an_offset_is_refused_never_taken_as_utc(
    run: Run, args: tuple[str, ...], message: str
) -> None:
    result = run("timeline", "--subject", INCIDENT, *args)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == message + "; add Z or +hh:mm\n"


def test_a_window_ending_before_it_starts_names_the_to_flag(run: Run) -> None:
    window = ("--from", "2026-11-20T10:00:00Z", "--to", "2026-11-20T12:00:00+05:00")
    result = run("timeline", "--subject", INCIDENT, *window)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "error: --to: 2026-11-20T12:00:00+05:00 is not after --from 2026-11-20T10:00:00Z\n"
    )


class _NoFullScan:
    """A store whose whole-table edge read fails: only the per-entity index may be used."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    def edges(self, after_seq: int = 0) -> Iterator[tuple[str, str, str, int, str]]:
        raise AssertionError("read the whole edge table")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_related_timelines_and_lineage_read_only_the_neighbourhood(demo_db: Path) -> None:
    store = open_store(str(demo_db))
    try:
        reader = cast(ProjectionReader, _NoFullScan(store))
        found = timeline(reader, [INCIDENT], related=True)
        assert RECS in found.subjects
        assert 69 in [e.seq for e in found.events]
        nodes, _ = lineage(reader, "dataset:catalog-items", "downstream", 4, None)
        assert "incident:INC-2291" in nodes
    finally:
        store.close()
