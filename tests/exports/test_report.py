"""The bundle's report: hostile payload text stays text in Markdown and in HTML."""

from __future__ import annotations

import re
import shlex
from dataclasses import replace

import pytest

from ledger.chain import GENESIS_HASH, seal
from ledger.events import Event, EventDraft
from ledger.exports.report import (
    ReportInput,
    report_html,
    report_markdown,
    verify_command,
    verify_instructions,
)
from ledger.projections.base import Edge

T = "2026-11-20T09:00:00.000000Z"


def _event() -> Event:
    draft = EventDraft.create(
        "approval.granted",
        "model:m@1",
        {
            "environment": "prod",
            "approver_role": "ml_lead",
            "justification": "fine | <script>alert(1)</script>",
        },
    )
    return seal(
        draft,
        seq=1,
        prev_hash=GENESIS_HASH,
        actor="eve|<b>",
        recorded_at=T,
        id="00000000-0000-0000-0000-000000000001",
    )


def _input() -> ReportInput:
    return ReportInput(
        scope="model:m",
        events=[_event()],
        origin="ledger.example/test",
        tree_size=1,
        root_hex="ab" * 32,
        key="ledger.example/test+01234567+AAAA",
        nodes=["model:m", "model:m@1"],
        edges=[Edge("model:m@1", "model:m", "version_of", 1, T)],
        bundle="m-bundle",
        created_at=T,
    )


def test_markdown_escapes_table_pipes_and_shows_the_verify_command() -> None:
    text = report_markdown(_input())
    (row,) = [line for line in text.splitlines() if line.startswith("| 1 |")]
    assert row.count(" | ") == 6  # seven cells: the pipe in the actor is escaped
    assert "rollout-ledger verify-bundle m-bundle --public-key trusted-key.txt" in text
    assert '  n0["model:m"]' in text


def test_html_escapes_every_value() -> None:
    text = report_html(_input())
    assert "<script>" not in text
    assert "eve|&lt;b&gt;" in text
    assert "<title>Audit bundle: model:m</title>" in text


def test_the_instructions_name_the_key_and_warn_about_the_bundled_one() -> None:
    text = verify_instructions("m-bundle", "ledger.example/test+01234567+AAAA")
    assert "    rollout-ledger verify-bundle m-bundle --public-key trusted-key.txt\n" in text
    assert "    ledger.example/test+01234567+AAAA\n" in text
    assert "only that the bundle is self-consistent" in text


def _hostile_event() -> Event:
    # Refs may hold any printable text after the kind, payloads anything at all.
    draft = EventDraft.create(
        "model.retired",
        "model:m`<img/src=x/onerror=alert(1)>`@1",
        {"reason": "[retired](javascript:alert(1)) <script>x</script> &amp; *bold*"},
    )
    return seal(
        draft,
        seq=1,
        prev_hash=GENESIS_HASH,
        actor="eve`<b>",
        recorded_at=T,
        id="00000000-0000-0000-0000-000000000002",
    )


def test_markdown_leaves_no_raw_html_link_or_open_code_span_from_event_data() -> None:
    text = report_markdown(replace(_input(), events=[_hostile_event()]))
    (row,) = [line for line in text.splitlines() if line.startswith("| 1 |")]
    # Every markup character the data brought is backslash-escaped, so the row
    # renders as the text it holds (CommonMark 2.4) and nothing else.
    hash_span = f"`{_hostile_event().hash[:12]}…`"
    assert not re.search(r"(?<!\\)[<>\[\]`&]", row.replace(hash_span, ""))
    assert "m\\`\\<img/src=x/onerror=alert(1)\\>\\`@1" in row
    assert "\\[retired\\](javascript:alert(1)) \\<script\\>x\\</script\\>" in row
    assert "\\&amp;" in row
    assert "eve\\`\\<b\\>" in row


def test_html_report_forbids_scripts_even_if_escaping_ever_failed() -> None:
    text = report_html(_input())
    assert (
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">" in text
    )


@pytest.mark.parametrize("name", ["audit bundle", "it's $(rm -rf ~)", "plain-name"])
def test_the_verify_command_is_one_shell_word_per_argument_whatever_the_name(name: str) -> None:
    command = verify_command(name)
    assert shlex.split(command) == [
        "rollout-ledger",
        "verify-bundle",
        name,
        "--public-key",
        "trusted-key.txt",
    ]
    assert f"    {command}\n" in verify_instructions(name, "k+01234567+AAAA")
