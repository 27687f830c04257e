"""Audit bundles: made from the demo ledger, verified offline, and refused when tampered with."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.exports.conftest import Demo, ok, run


@pytest.fixture(scope="module")
def made(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle of fraud-detector (and its zip), made once; tests tamper with copies."""
    out = tmp_path_factory.mktemp("bundles") / "fraud-bundle"
    ok("--db", demo.db, "bundle", "--model", "fraud-detector", "--out", out, "--zip")
    return out


@pytest.fixture
def copy(made: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(made, tmp_path / made.name))


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _refused(bundle: Path, key: Path, message: str, code: int = 5) -> None:
    result = run("verify-bundle", bundle, "--public-key", key)
    assert result.exit_code == code, result.stdout
    assert result.stderr == f"error: {message}\n"


def test_the_bundle_holds_evidence_report_and_instructions(made: Path) -> None:
    assert sorted(p.name for p in made.iterdir()) == [
        "VERIFY.txt",
        "checkpoint.txt",
        "events.jsonl",
        "lineage.mmd",
        "proofs.json",
        "provenance.json",
        "report.html",
        "report.md",
        "verifier-key.txt",
    ]
    verify = (made / "VERIFY.txt").read_text(encoding="utf-8")
    assert "    rollout-ledger verify-bundle fraud-bundle --public-key trusted-key.txt\n" in verify
    report = (made / "report.md").read_text(encoding="utf-8")
    assert "proves only that it is self-consistent" in report
    assert "| 33 | " in report  # ml-lead-ben's approval of 1.4.0, in the timeline table
    assert "```mermaid\nflowchart LR\n" in report


def test_the_bundle_holds_the_models_events_as_exported(
    demo: Demo, made: Path, tmp_path: Path
) -> None:
    export = tmp_path / "all.jsonl"
    ok("--db", demo.db, "export", "--out", export)
    everything = {json.loads(line)["seq"]: line for line in _lines(export)}
    bundled = _lines(made / "events.jsonl")
    seqs = [json.loads(line)["seq"] for line in bundled]
    assert bundled == [everything[s] for s in seqs]  # byte for byte, as export writes them
    subjects = {json.loads(line)["subject"] for line in bundled}
    assert {
        "model:fraud-detector@1.4.0",
        "deployment:fraud-detector/prod",
        "dataset:fraud-features@2026-11-12",
    } <= subjects
    assert not any(
        s.startswith(("model:credit-limits", "model:product-recommender")) for s in subjects
    )


def test_the_bundle_verifies_against_the_operators_key(demo: Demo, made: Path) -> None:
    result = ok("verify-bundle", made, "--public-key", demo.key)
    assert result.stdout.startswith(
        f"ok: 35 events of {made} are in checkpoint rollout-ledger.local/demo size "
    )
    assert result.stderr == ""


def test_the_zip_verifies_too_and_is_reproducible(demo: Demo, made: Path, tmp_path: Path) -> None:
    zipped = made.with_name("fraud-bundle.zip")
    assert ok("verify-bundle", zipped, "--public-key", demo.key).stdout.startswith("ok: 35 events")
    with zipfile.ZipFile(zipped) as archive:
        assert "fraud-bundle/events.jsonl" in archive.namelist()
    again = tmp_path / "fraud-bundle"
    ok("--db", demo.db, "bundle", "--model", "fraud-detector", "--out", again, "--zip")
    digest = [
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in (zipped, again.with_name("fraud-bundle.zip"))
    ]
    assert digest[0] == digest[1]


def test_without_a_pinned_key_it_warns_that_only_self_consistency_is_proven(made: Path) -> None:
    result = ok("verify-bundle", made)
    assert result.stdout.startswith("ok: 35 events")
    assert "proves only that the bundle is self-consistent" in result.stderr


def test_an_edited_event_line_is_named(demo: Demo, copy: Path) -> None:
    lines = _lines(copy / "events.jsonl")
    seq = json.loads(lines[4])["seq"]
    lines[4] = lines[4].replace('"actor":"', '"actor":"mallory-as-', 1)
    (copy / "events.jsonl").write_text("".join(lines), encoding="utf-8")
    _refused(
        copy, demo.key, f"events.jsonl line 5: event seq {seq}: its hash does not match its content"
    )


def test_an_edited_event_with_a_recomputed_hash_fails_its_inclusion_proof(
    demo: Demo, copy: Path
) -> None:
    lines = _lines(copy / "events.jsonl")
    event = json.loads(lines[2])
    event["actor"] = "mallory"
    del event["hash"]
    body = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    event["hash"] = hashlib.sha256(body.encode()).hexdigest()
    lines[2] = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    (copy / "events.jsonl").write_text("".join(lines), encoding="utf-8")
    wrong_leaf = "the proof's leaf hash is not that of events.jsonl line 3"
    _refused(copy, demo.key, f"proofs.json: seq {event['seq']}: {wrong_leaf}")


def test_an_altered_proof_hash_is_named(demo: Demo, copy: Path) -> None:
    document = json.loads((copy / "proofs.json").read_text(encoding="utf-8"))
    proof = document["proofs"][7]
    proof["proof"][0] = "00" * 32
    (copy / "proofs.json").write_text(json.dumps(document), encoding="utf-8")
    result = run("verify-bundle", copy, "--public-key", demo.key)
    assert result.exit_code == 5
    assert result.stderr.startswith(
        f"error: proofs.json: seq {proof['seq']}: not included in the signed checkpoint: "
    )


def test_a_missing_proof_is_named(demo: Demo, copy: Path) -> None:
    document = json.loads((copy / "proofs.json").read_text(encoding="utf-8"))
    dropped = document["proofs"].pop(0)
    (copy / "proofs.json").write_text(json.dumps(document), encoding="utf-8")
    _refused(copy, demo.key, f"proofs.json: no inclusion proof for seq {dropped['seq']}")


def test_an_altered_checkpoint_is_refused(demo: Demo, copy: Path) -> None:
    note = (copy / "checkpoint.txt").read_text(encoding="utf-8").split("\n")
    note[1] = str(int(note[1]) - 1)  # claim a smaller tree under the same signature
    (copy / "checkpoint.txt").write_text("\n".join(note), encoding="utf-8")
    result = run("verify-bundle", copy, "--public-key", demo.key)
    assert result.exit_code == 5
    assert result.stderr.startswith("error: checkpoint.txt: ")


def test_another_ledgers_key_is_refused_even_when_the_bundle_carries_it(
    copy: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.db"
    ok("--db", other, "init")
    key = tmp_path / "other-key.txt"
    key.write_text(ok("--db", other, "key", "show").stdout, encoding="utf-8")
    result = run("verify-bundle", copy, "--public-key", key)
    assert result.exit_code == 5
    assert result.stderr.startswith("error: checkpoint.txt: ")
    shutil.copy(key, copy / "verifier-key.txt")  # a swapped bundled key fails the same way
    assert run("verify-bundle", copy).exit_code == 5


def test_a_missing_file_is_named(demo: Demo, copy: Path) -> None:
    (copy / "proofs.json").unlink()
    _refused(copy, demo.key, "bundle: proofs.json is missing", code=2)


def test_an_incident_bundle_covers_the_rollback_and_the_review(demo: Demo, tmp_path: Path) -> None:
    out = tmp_path / "inc"
    result = ok("--db", demo.db, "bundle", "--incident", "INC-2291", "--out", out)
    assert result.stdout.startswith("bundle of incident:INC-2291: ")
    types = {json.loads(line)["type"] for line in _lines(out / "events.jsonl")}
    assert {
        "incident.opened",
        "alert.raised",
        "rollback.executed",
        "rollback.verified",
        "review.recorded",
        "approval.granted",
    } <= types
    assert not (out / "provenance.json").exists()
    assert ok("verify-bundle", out, "--public-key", demo.key).stdout.startswith("ok: ")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--model", "ghost"], 4, "model:ghost: no events about it; nothing to export"),
        (
            ["--model", "a", "--incident", "b"],
            2,
            "give exactly one of --model NAME or --incident ID",
        ),
        ([], 2, "give exactly one of --model NAME or --incident ID"),
        (
            ["--model", "fraud-detector@1.4.0"],
            2,
            "'model:fraud-detector@1.4.0': give an unversioned model:NAME or incident:ID",
        ),
    ],
)
def test_bad_bundle_requests_get_one_line(
    demo: Demo, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    result = run("--db", demo.db, "bundle", *args, "--out", tmp_path / "b")
    assert (result.exit_code, result.stderr) == (code, f"error: {message}\n")


def test_a_bundle_never_writes_into_a_used_directory(demo: Demo, made: Path) -> None:
    result = run("--db", demo.db, "bundle", "--model", "fraud-detector", "--out", made)
    assert result.exit_code == 2
    assert result.stderr == f"error: --out: {made} exists and is not an empty directory\n"


def test_a_bundle_with_no_events_is_refused_not_passed(demo: Demo, copy: Path) -> None:
    (copy / "events.jsonl").write_bytes(b"")
    document = json.loads((copy / "proofs.json").read_text(encoding="utf-8"))
    document["proofs"] = []
    (copy / "proofs.json").write_text(json.dumps(document), encoding="utf-8")
    _refused(copy, demo.key, "events.jsonl: no events; an empty bundle proves nothing")


def test_an_evidence_file_that_is_a_symlink_is_not_followed(
    demo: Demo, copy: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("not for the verifier's eyes\n", encoding="utf-8")
    (copy / "verifier-key.txt").unlink()
    (copy / "verifier-key.txt").symlink_to(outside)
    result = run("verify-bundle", copy)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {copy}: verifier-key.txt is a symlink; a bundle holds its files itself\n"
    )
    assert "not for the verifier" not in result.output


def _rezip(source: Path, target: Path, extra: dict[str, bytes]) -> Path:
    """``source``'s members, then ``extra`` (which may repeat a name) appended."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            new.writestr(info, old.read(info))
        for name, content in extra.items():
            with pytest.warns(UserWarning, match="Duplicate name"):
                new.writestr(name, content)
    return target


def test_a_zip_holding_an_evidence_file_twice_is_refused(
    demo: Demo, made: Path, tmp_path: Path
) -> None:
    # unzip would take the second copy, a naive reader the first: the evidence is ambiguous.
    twice = _rezip(
        made.with_name("fraud-bundle.zip"),
        tmp_path / "twice.zip",
        {"fraud-bundle/events.jsonl": b""},
    )
    _refused(twice, demo.key, f"{twice}: events.jsonl appears more than once in the zip", code=2)


@pytest.mark.parametrize(
    ("patch", "why"),
    [
        ({6: 0x01}, "is encrypted"),  # general purpose flag bit 0 (local and central header)
        ({8: 99}, "compression method is not supported"),
    ],
)
def test_an_unreadable_zip_member_gets_one_line(
    demo: Demo, made: Path, tmp_path: Path, patch: dict[int, int], why: str
) -> None:
    data = bytearray(made.with_name("fraud-bundle.zip").read_bytes())
    central = data.index(b"PK\x01\x02")  # the first member is VERIFY.txt; patch the second
    local = data.index(b"PK\x03\x04", 1)
    second_central = data.index(b"PK\x01\x02", central + 1)
    for offset, value in patch.items():
        data[local + offset] |= value
        data[second_central + offset + 2] |= value  # central headers have 2 more bytes first
    broken = tmp_path / "broken.zip"
    broken.write_bytes(bytes(data))
    with zipfile.ZipFile(broken) as archive:
        name = archive.infolist()[1].filename.partition("/")[2]
    result = run("verify-bundle", broken, "--public-key", demo.key)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {broken}: cannot read {name} from the zip (")
    assert why in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_key_file_that_cannot_be_read_is_one_line_not_a_traceback(
    made: Path, tmp_path: Path
) -> None:
    import socket

    key = tmp_path / "key.sock"  # exists, is not a directory, cannot be opened for reading
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(key))
        result = run("verify-bundle", made, "--public-key", key)
    assert result.exit_code == 2, result.stdout
    assert result.stderr.startswith(f"error: --public-key {key}: cannot read it (")
    assert result.stderr.count("\n") == 1
