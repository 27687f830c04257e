"""Timelines: widening subjects through lineage, and filtering events by type and window."""

from __future__ import annotations

import pytest

from ledger.projections.base import EventView
from ledger.projections.lineage import LineageGraph
from ledger.projections.timeline import TimelineFilter, related_subjects
from tests.projections.story import DATA, DEP, HOLDOUT, OLD, V, build_story


@pytest.fixture(scope="module")
def story_events() -> tuple[list[EventView], LineageGraph]:
    story = build_story()
    return story.log.events, LineageGraph(story.store.edges)


def test_an_incident_pulls_in_the_deployment_versions_models_and_data(
    story_events: tuple[list[EventView], LineageGraph],
) -> None:
    events, graph = story_events
    related = related_subjects(["incident:INC-204"], graph)
    assert related == {
        "incident:INC-204",
        DEP,
        V,
        OLD,
        "model:fraud-detector",
        DATA,
        "dataset:transactions",
        HOLDOUT,
        "dataset:transactions-holdout",
        "run:mlflow/1",
        "run:mlflow/2",
    }
    timeline = TimelineFilter(subjects=frozenset(related)).select(events)
    types = [e["type"] for e in timeline]
    wanted = {"test.result.recorded", "approval.granted", "dataset.version.registered"}
    wanted |= {"alert.raised", "rollback.executed", "rollback.verified", "incident.opened"}
    assert wanted <= set(types)
    assert [e["seq"] for e in timeline] == sorted(e["seq"] for e in timeline)


def test_related_subjects_as_of_leave_later_lineage_out(
    story_events: tuple[list[EventView], LineageGraph],
) -> None:
    events, graph = story_events
    before_v = events[4]["recorded_at"]  # policy.defined, before 1.4.0 was registered
    assert related_subjects([DEP], graph, as_of_time=before_v) == {
        DEP, OLD, "model:fraud-detector", "run:mlflow/1"
    }  # fmt: skip
    assert related_subjects([V], graph, as_of_seq=6, depth=1) == {
        V, "model:fraud-detector", DATA, "run:mlflow/2"
    }  # fmt: skip


def test_filter_by_type_prefix_and_half_open_window(
    story_events: tuple[list[EventView], LineageGraph],
) -> None:
    events, _ = story_events
    start, end = events[19]["recorded_at"], events[26]["recorded_at"]  # seq 20 .. 26
    window = TimelineFilter(types=frozenset({"alert.*", "rollback.executed"}), start=start, end=end)
    assert [(e["seq"], e["type"]) for e in window.select(events)] == [
        (20, "alert.raised"),
        (21, "alert.resolved"),
        (23, "alert.raised"),
        (25, "rollback.executed"),
    ]
    assert window.exact_types == frozenset({"rollback.executed"})
    assert window.type_prefixes == ("alert.",)


def test_filter_normalises_window_bounds() -> None:
    assert TimelineFilter(start="2026-11-20T10:00:00+01:00").start == "2026-11-20T09:00:00.000000Z"
    with pytest.raises(ValueError, match="end: 'yesterday' is not an RFC 3339 date-time"):
        TimelineFilter(end="yesterday")
