"""``verify_bundle`` itself: every byte of the evidence counts, and a good bundle passes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.cli._bundle_files import read_bundle
from ledger.errors import LedgerError
from ledger.exports.bundle import CHECKPOINT, EVENTS, bundle_verifier, verify_bundle
from ledger.note import Verifier, parse_verifier_key
from tests.exports.conftest import Demo, ok


@pytest.fixture(scope="module")
def evidence(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("verify") / "incident-bundle"
    ok("--db", demo.db, "bundle", "--incident", "INC-2291", "--out", out)
    return read_bundle(out)


@pytest.fixture(scope="module")
def key(demo: Demo) -> Verifier:
    return parse_verifier_key(demo.key.read_text(encoding="utf-8"))


def test_a_good_bundle_verifies_with_the_ledgers_key_and_its_own(
    evidence: dict[str, bytes], key: Verifier
) -> None:
    report = verify_bundle(evidence, key)
    assert report == verify_bundle(evidence, bundle_verifier(evidence))
    assert list(report.seqs) == sorted(set(report.seqs))
    assert 66 in report.seqs  # incident.opened


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([EVENTS, CHECKPOINT]), st.integers(min_value=0), st.integers(1, 255))
def test_changing_any_byte_of_the_events_or_the_checkpoint_is_caught(
    evidence: dict[str, bytes], key: Verifier, name: str, where: int, delta: int
) -> None:
    original = evidence[name]
    at = where % len(original)
    altered = bytearray(original)
    altered[at] = (altered[at] + delta) % 256
    with pytest.raises(LedgerError):
        verify_bundle({**evidence, name: bytes(altered)}, key)


def test_the_bundle_files_read_from_a_directory_and_a_zip_agree(demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "b"
    ok("--db", demo.db, "bundle", "--incident", "INC-2291", "--out", out, "--zip")
    assert read_bundle(out) == read_bundle(tmp_path / "b.zip")
