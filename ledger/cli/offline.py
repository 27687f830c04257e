"""Offline commands: verify-export and verify-receipt need files and a key, no database.

Neither command takes the ledger context, so neither can open a store: an
auditor runs them anywhere, with only what the ledger's operator handed over.
"""

from __future__ import annotations

from pathlib import Path

import click

from ledger.cli._common import errors, fail
from ledger.errors import BadRequest, ChainBroken
from ledger.note import Verifier, parse_verifier_key
from ledger.offline import verify_export as check_export
from ledger.receipt import verify_receipt as check_receipt

__all__ = ["COMMANDS"]

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(BadRequest(f"{what} {path}: not UTF-8 text"))


def _verifier(path: Path) -> Verifier:
    text = _read_text(path, "--public-key")
    with errors():
        verifier = parse_verifier_key(text)
    return verifier


@click.command("verify-export")
@click.argument("export_file", metavar="F.jsonl", type=_FILE)
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=_FILE,
    required=True,
    help="File holding the signed checkpoint note.",
)
@click.option(
    "--public-key",
    "key_file",
    type=_FILE,
    required=True,
    help="File holding the verifier key string (`rollout-ledger key show`).",
)
@click.option("--origin", default=None, help="The origin the checkpoint must name.")
def verify_export(
    export_file: Path, checkpoint_file: Path, key_file: Path, origin: str | None
) -> None:
    """Prove offline that an export is whole, unaltered and matches a signed checkpoint."""
    verifier = _verifier(key_file)
    note = _read_text(checkpoint_file, "--checkpoint")
    with errors(), export_file.open("rb") as lines:
        report = check_export(lines, note, verifier, origin=origin)
    if not report.ok:
        where = f"seq {report.first_bad_seq}: " if report.first_bad_seq is not None else ""
        fail(
            ChainBroken(
                f"{export_file}: {where}{report.kind}: {report.reason}",
                seq=report.first_bad_seq or 0,
                kind=report.kind or "",
            )
        )
    click.echo(
        f"ok: {report.checked - report.uncovered} events match checkpoint {report.origin} "
        f"size {report.tree_size} root {report.root_hash.hex()}"
    )
    if report.uncovered:
        first, last = report.tree_size + 1, report.checked
        span = f"seq {first} is" if first == last else f"seq {first}..{last} are"
        click.echo(f"warning: {span} chained but not covered by this checkpoint", err=True)


@click.command("verify-receipt")
@click.argument("receipt_file", metavar="RECEIPT", type=_FILE)
@click.option(
    "--public-key",
    "key_file",
    type=_FILE,
    required=True,
    help="File holding the verifier key string (`rollout-ledger key show`).",
)
@click.option("--origin", default=None, help="The origin the checkpoint must name.")
def verify_receipt(receipt_file: Path, key_file: Path, origin: str | None) -> None:
    """Check a receipt offline; print what it proves, then the event's JSON line."""
    verifier = _verifier(key_file)
    with errors():
        receipt = check_receipt(receipt_file.read_bytes(), verifier, origin=origin)
    checkpoint = receipt.checkpoint
    click.echo(
        f"ok: event seq {receipt.seq} ({receipt.event.type} {receipt.event.subject}) is in "
        f"checkpoint {checkpoint.origin} size {checkpoint.size} root {checkpoint.root_hash.hex()}"
    )
    click.echo(receipt.line.decode("utf-8"))


COMMANDS = [verify_export, verify_receipt]
