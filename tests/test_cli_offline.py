"""The offline commands through the real CLI: verify-export, receipts, verify-receipt."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from click.testing import Result

from tests.helpers import ok, run


@dataclass(frozen=True)
class Handover:
    """What an operator gives an auditor: an export, a checkpoint and the public key."""

    db: Path
    export: Path
    checkpoint: Path
    key: Path


def payload(n: int) -> str:
    """A test.result.recorded payload that the event catalogue accepts."""
    metrics = {"auc": 0.9 + n / 100}
    return json.dumps({"suite": "offline-eval", "kind": "evaluation", "passed": n % 2 == 0,
                       "metrics": metrics})  # fmt: skip


@pytest.fixture
def handover(tmp_path: Path) -> Handover:
    work = tmp_path / "operator"
    work.mkdir()
    db = work / "ledger.db"
    ok("--db", db, "init", "--origin", "ci.example/ledger")
    for n in range(5):
        data = payload(n)
        subject = f"model:fraud-detector@1.{n}.0"
        ok("--db", db, "append", "--type", "test.result.recorded", "--subject", subject,
           "--data", data)  # fmt: skip
    files = Handover(db, work / "export.jsonl", work / "checkpoint.txt", work / "key.txt")
    files.checkpoint.write_text(ok("--db", db, "checkpoint").stdout, encoding="utf-8")
    files.key.write_text(ok("--db", db, "key", "show").stdout, encoding="utf-8")
    ok("--db", db, "export", "--out", files.export)
    return files


def verify_export(files: Handover, *extra: str) -> Result:
    return run("--db", files.db, "verify-export", files.export, "--checkpoint", files.checkpoint,
               "--public-key", files.key, *extra)  # fmt: skip


def test_verify_export_accepts_a_fresh_export_and_prints_the_signed_root(
    handover: Handover,
) -> None:
    result = verify_export(handover, "--origin", "ci.example/ledger")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("ok: 5 events match checkpoint ci.example/ledger size 5 root ")
    assert len(result.stdout.split(" root ")[1].strip()) == 64


def test_verify_export_needs_no_database(
    handover: Handover, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    monkeypatch.chdir(auditor)
    nowhere = auditor / "missing" / "ledger.db"

    result = run("--db", nowhere, "verify-export", handover.export, "--checkpoint",
                 handover.checkpoint, "--public-key", handover.key)  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("ok: 5 events match checkpoint ")
    assert list(auditor.iterdir()) == []


def test_verify_export_names_the_seq_of_a_tampered_line(handover: Handover) -> None:
    lines = handover.export.read_bytes().splitlines(keepends=True)
    event = orjson.loads(lines[2])
    event["data"]["passed"] = not event["data"]["passed"]
    lines[2] = orjson.dumps(event, option=orjson.OPT_SORT_KEYS) + b"\n"
    handover.export.write_bytes(b"".join(lines))

    result = verify_export(handover)

    assert result.exit_code == 5
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {handover.export}: seq 3: altered_content: "
        "line 3: stored bytes do not match the stored hash\n"
    )


def test_verify_export_refuses_a_checkpoint_from_another_origin(handover: Handover) -> None:
    result = verify_export(handover, "--origin", "other.example/ledger")
    assert result.exit_code == 5
    assert result.stderr == (
        "error: checkpoint is for origin 'ci.example/ledger', expected 'other.example/ledger'\n"
    )


def test_verify_export_refuses_a_bad_public_key_file(handover: Handover) -> None:
    handover.key.write_text("not a key\n")
    result = verify_export(handover)
    assert (result.exit_code, result.stderr) == (
        5,
        "error: a verifier key reads <name>+<key id>+<key>\n",
    )


def test_verify_export_warns_about_events_after_the_checkpoint(handover: Handover) -> None:
    ok("--db", handover.db, "append", "--type", "test.result.recorded", "--subject",
       "model:fraud-detector@2.0.0", "--data", payload(6))  # fmt: skip
    ok("--db", handover.db, "export", "--out", handover.export)

    result = verify_export(handover)

    assert result.exit_code == 0
    assert result.stdout.startswith("ok: 5 events match checkpoint ci.example/ledger size 5 ")
    assert result.stderr == "warning: seq 6 is chained but not covered by this checkpoint\n"


def test_a_receipt_written_by_proof_inclusion_verifies_offline(
    handover: Handover, tmp_path: Path
) -> None:
    receipt = tmp_path / "seq3.tlog-proof"
    written = ok("--db", handover.db, "proof", "inclusion", "--seq", "3", "--receipt", receipt)
    assert json.loads(written.stdout)["tree_size"] == 5  # the stored checkpoint's size

    result = ok("verify-receipt", receipt, "--public-key", handover.key)

    first, line = result.stdout.splitlines()
    assert first.startswith(
        "ok: event seq 3 (test.result.recorded model:fraud-detector@1.2.0) is in checkpoint "
        "ci.example/ledger size 5 root "
    )
    assert orjson.loads(line)["seq"] == 3


def test_proof_inclusion_signs_a_fresh_checkpoint_when_none_covers_the_seq(
    handover: Handover, tmp_path: Path
) -> None:
    ok("--db", handover.db, "append", "--type", "test.result.recorded", "--subject",
       "model:fraud-detector@2.0.0", "--data", payload(6))  # fmt: skip
    receipt = tmp_path / "seq6.tlog-proof"

    written = ok("--db", handover.db, "proof", "inclusion", "--seq", "6", "--receipt", receipt)

    assert json.loads(written.stdout)["tree_size"] == 6
    assert "size 6 root" in ok("verify-receipt", receipt, "--public-key", handover.key).stdout


def test_a_tampered_receipt_fails_verify_receipt(handover: Handover, tmp_path: Path) -> None:
    receipt = tmp_path / "seq2.tlog-proof"
    ok("--db", handover.db, "proof", "inclusion", "--seq", "2", "--receipt", receipt)
    lines = receipt.read_text(encoding="utf-8").split("\n")
    event = orjson.loads(base64.b64decode(lines[1].removeprefix("extra ")))
    event["subject"] = "model:fraud-detector@9.9.9"
    lines[1] = (
        "extra " + base64.b64encode(orjson.dumps(event, option=orjson.OPT_SORT_KEYS)).decode()
    )
    receipt.write_text("\n".join(lines), encoding="utf-8")

    result = run("verify-receipt", receipt, "--public-key", handover.key)

    assert result.exit_code == 5
    assert result.stderr == "error: event seq 2: its hash does not match its content\n"
