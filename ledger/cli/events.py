"""Commands over the chain of events: init, append, verify, export."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import click

from ledger.canonical import parse_json
from ledger.chain import export_line
from ledger.cli._common import Context, errors, fail, local_actor, pass_ctx, progress
from ledger.errors import BadRequest, ChainBroken, InvalidEvent, LedgerError
from ledger.events import EventDraft, draft_from_json
from ledger.keys import create_signer

__all__ = ["COMMANDS"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,127}")


@click.command()
@click.option("--name", default=None, help="Ledger name (default: the database file's stem).")
@click.option(
    "--origin",
    default=None,
    help="Checkpoint origin line and key name (default: rollout-ledger.local/<name>).",
)
@pass_ctx
def init(ctx: Context, name: str | None, origin: str | None) -> None:
    """Create the database and the signing key (idempotent)."""
    if name is None:
        name = "ledger" if "://" in ctx.db else Path(ctx.db).stem or "ledger"
    if not _NAME.fullmatch(name):
        fail(BadRequest(f"--name: {name!r} must be letters, digits, '.', '_', '/' or '-'"))
    store = ctx.open(must_exist=False)
    with errors():
        known = store.get_meta("origin")
        origin = origin or known or f"rollout-ledger.local/{name}"
        if known and known != origin:
            fail(BadRequest(f"--origin: this ledger's origin is already {known!r}"))
        signer = create_signer(ctx.key_dir, origin)
        if signer.key_name != origin:
            fail(BadRequest(f"--origin: the key in {ctx.key_dir} is for {signer.key_name!r}"))
        store.set_meta("origin", origin)
        store.set_meta("verifier_key", signer.verifier_key())
        head = store.head()
    store.close()
    click.echo(f"ledger {origin} ready at {ctx.db} ({head.seq} events)")
    click.echo(f"signing key in {ctx.key_dir}; verifier key {signer.verifier_key()}")


_WHERE = re.compile(r"(?:events\[(\d+)\]|event)(?:: |\.)")


def _relabel(error: LedgerError, labels: Sequence[str]) -> LedgerError:
    """Name a batch member by its file and line rather than its index in the batch."""
    match = _WHERE.match(error.message)
    if match is None:
        return error
    index = int(match.group(1) or 0)
    if index >= len(labels):
        return error
    error.message = f"{labels[index]}: {error.message[match.end() :]}"
    return error


def _read_batch(source: IO[bytes], name: str) -> tuple[list[EventDraft], list[str]]:
    drafts: list[EventDraft] = []
    labels: list[str] = []
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            obj = parse_json(line)
        except (ValueError, UnicodeDecodeError) as exc:
            fail(BadRequest(f"{name}:{number}: not valid JSON ({exc})"))
        try:
            drafts.append(draft_from_json(obj))
        except LedgerError as exc:
            fail(type(exc)(f"{name}:{number}: {exc.message}", field=exc.field))
        labels.append(f"{name}:{number}")
    if not drafts:
        fail(BadRequest(f"{name}: holds no events"))
    return drafts, labels


@click.command()
@click.option("--type", "type_", help="Event type, e.g. model.version.registered.")
@click.option("--subject", help="Entity reference, e.g. model:fraud-detector@1.4.0.")
@click.option("--data", help="The payload as a JSON object.")
@click.option("--id", "id_", help="Client-chosen UUID (makes retries idempotent).")
@click.option("--occurred-at", help="RFC 3339 time it happened (default: now).")
@click.option("--file", "file_", type=click.File("rb"), help="JSONL batch ('-' for stdin).")
@pass_ctx
def append(
    ctx: Context,
    type_: str | None,
    subject: str | None,
    data: str | None,
    id_: str | None,
    occurred_at: str | None,
    file_: IO[bytes] | None,
) -> None:
    """Append one event, or a JSONL batch all or nothing; print seq and hash of each."""
    if file_ is not None:
        if type_ or subject or data:
            fail(BadRequest("give either --file or --type/--subject/--data, not both"))
        drafts, labels = _read_batch(file_, getattr(file_, "name", "<stdin>"))
    else:
        given = (("--type", type_), ("--subject", subject), ("--data", data))
        missing = [flag for flag, value in given if not value]
        if missing or type_ is None or subject is None or data is None:
            fail(BadRequest(f"{', '.join(missing)} required (or --file)"))
        try:
            payload = parse_json(data)
        except ValueError as exc:
            fail(InvalidEvent(f"--data: not valid JSON ({exc})", field="data"))
        with errors():
            drafts = [EventDraft.create(type_, subject, payload, id=id_, occurred_at=occurred_at)]
        labels = []
    ledger = ctx.ledger()
    try:
        # A file is one all-or-nothing transaction of any size (MAX_BATCH is a
        # limit on network requests, not on what the database can commit).
        acks = ledger.append(drafts, local_actor(), max_batch=None)
    except LedgerError as error:
        fail(_relabel(error, labels))
    lines = [f"{a.seq}\t{a.hash}" + ("" if a.created else "\texisting") for a in acks]
    sys.stdout.write("\n".join(lines) + "\n")


@click.command()
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes to spread a large ledger over.",
)
@pass_ctx
def verify(ctx: Context, workers: int) -> None:
    """Re-hash the chain and the Merkle tree; exit 0 only when intact."""
    ledger = ctx.ledger()
    update, stop = progress(ledger.head().seq, "verifying")
    with errors():
        try:
            report = ledger.verify(progress=update, workers=workers)
        finally:
            stop()
    if not report.ok:
        fail(
            ChainBroken(
                f"seq {report.first_bad_seq}: {report.kind}: {report.reason}",
                seq=report.first_bad_seq or 0,
                kind=report.kind or "",
            )
        )
    click.echo(f"ok: {report.checked} events verified, head {report.head_hash}")


@click.command()
@click.option("--out", default="-", help="Output JSONL file ('-' for stdout).")
@pass_ctx
def export(ctx: Context, out: str) -> None:
    """Write every event, in order, in the stored canonical form (JSON Lines)."""
    ledger = ctx.ledger()
    update, stop = progress(ledger.head().seq, "exporting")
    target = sys.stdout.buffer if out == "-" else open(out, "wb")  # noqa: SIM115
    try:
        with errors():
            for count, event in enumerate(ledger.events(), start=1):
                target.write(export_line(event) + b"\n")
                if count % 10_000 == 0:
                    update(count)
    finally:
        stop()
        if target is not sys.stdout.buffer:
            target.close()


COMMANDS = [init, append, verify, export]
