"""The ``rollout-ledger`` command line: each command is one service call.

Errors are translated once, in ``_fail``: a one-line message on stderr naming
the problem and a non-zero exit code per error family.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, NoReturn

import click

from ledger.canonical import parse_json
from ledger.chain import export_line
from ledger.errors import (
    BadRequest,
    ChainBroken,
    Conflict,
    InvalidEvent,
    LedgerError,
    NotFound,
    PolicyDenied,
    StoreError,
)
from ledger.events import EventDraft, draft_from_json
from ledger.service import Ledger
from ledger.store import EventStore, open_store

__all__ = ["cli", "main"]

EXIT_CODES: dict[type[LedgerError], int] = {
    BadRequest: 2,
    InvalidEvent: 2,
    Conflict: 3,
    PolicyDenied: 3,
    NotFound: 4,
    ChainBroken: 5,
    StoreError: 6,
}


def _fail(error: LedgerError) -> NoReturn:
    code = next((c for cls, c in EXIT_CODES.items() if isinstance(error, cls)), 1)
    click.echo(f"error: {error.message}", err=True)
    raise SystemExit(code)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except LedgerError as error:
        _fail(error)


def _local_actor() -> str:
    """Whoever runs the CLI on the database file acts as themselves, locally."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return f"local:{user}"


class _Context:
    def __init__(self, db: str) -> None:
        self.db = db

    def open(self, *, must_exist: bool = True) -> EventStore:
        is_file = not self.db.startswith(("postgresql://", "postgres://", "sqlite://"))
        if must_exist and is_file and not Path(self.db).exists():
            _fail(NotFound(f"no ledger at {self.db}; run `rollout-ledger init` first"))
        with _errors():
            return open_store(self.db)

    def ledger(self) -> Ledger:
        return Ledger(self.open())


pass_ctx = click.make_pass_decorator(_Context)


@click.group()
@click.option(
    "--db",
    envvar="LEDGER_DB",
    default="ledger.db",
    show_default=True,
    help="SQLite path or postgresql:// URL (env LEDGER_DB).",
)
@click.version_option(package_name="rollout-ledger")
@click.pass_context
def cli(ctx: click.Context, db: str) -> None:
    """Rollout Ledger: the tamper-evident record of how ML models reach production."""
    ctx.obj = _Context(db)


@cli.command()
@pass_ctx
def init(ctx: _Context) -> None:
    """Create the database (idempotent)."""
    store = ctx.open(must_exist=False)
    head = store.head()
    store.close()
    click.echo(f"ledger ready at {ctx.db} ({head.seq} events)")


def _progress(total: int | None, label: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A rich progress bar on a terminal; silence otherwise."""
    if not sys.stderr.isatty():
        return (lambda _n: None), (lambda: None)
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = bar.add_task(label, total=total)
    bar.start()
    return (lambda n: bar.update(task, completed=n)), bar.stop


def _read_batch(source: IO[bytes], name: str) -> list[EventDraft]:
    drafts: list[EventDraft] = []
    for number, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            obj = parse_json(line)
        except ValueError as exc:
            _fail(BadRequest(f"{name}:{number}: not valid JSON ({exc})"))
        try:
            drafts.append(draft_from_json(obj))
        except LedgerError as exc:
            _fail(type(exc)(f"{name}:{number}: {exc.message}", field=exc.field))
    if not drafts:
        _fail(BadRequest(f"{name}: holds no events"))
    return drafts


@cli.command()
@click.option("--type", "type_", help="Event type, e.g. model.version.registered.")
@click.option("--subject", help="Entity reference, e.g. model:fraud-detector@1.4.0.")
@click.option("--data", help="The payload as a JSON object.")
@click.option("--id", "id_", help="Client-chosen UUID (makes retries idempotent).")
@click.option("--occurred-at", help="RFC 3339 time it happened (default: now).")
@click.option("--file", "file_", type=click.File("rb"), help="JSONL batch ('-' for stdin).")
@pass_ctx
def append(
    ctx: _Context,
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
            _fail(BadRequest("give either --file or --type/--subject/--data, not both"))
        drafts = _read_batch(file_, "<stdin>" if file_.name == "<stdin>" else file_.name)
    else:
        missing = [
            n for n, v in (("--type", type_), ("--subject", subject), ("--data", data)) if not v
        ]
        if missing:
            _fail(BadRequest(f"{', '.join(missing)} required (or --file)"))
        assert type_ is not None
        assert subject is not None
        assert data is not None
        try:
            payload = parse_json(data)
        except ValueError as exc:
            _fail(BadRequest(f"--data: not valid JSON ({exc})", field="data"))
        with _errors():
            drafts = [EventDraft.create(type_, subject, payload, id=id_, occurred_at=occurred_at)]
    ledger = ctx.ledger()
    with _errors():
        acks = ledger.append(drafts, _local_actor())
    out = sys.stdout
    for ack in acks:
        out.write(f"{ack.seq}\t{ack.hash}{'' if ack.created else chr(9) + 'existing'}\n")


@cli.command()
@pass_ctx
def verify(ctx: _Context) -> None:
    """Re-hash the chain and the Merkle tree; exit 0 only when intact."""
    ledger = ctx.ledger()
    total = ledger.head().seq
    update, stop = _progress(total, "verifying")
    with _errors():
        try:
            report = ledger.verify(progress=update)
        finally:
            stop()
    if not report.ok:
        _fail(
            ChainBroken(
                f"seq {report.first_bad_seq}: {report.kind}: {report.reason}",
                seq=report.first_bad_seq or 0,
                kind=report.kind or "",
            )
        )
    click.echo(f"ok: {report.checked} events, head {report.head_hash}")


@cli.command()
@click.option("--out", "out", default="-", help="Output JSONL file ('-' for stdout).")
@pass_ctx
def export(ctx: _Context, out: str) -> None:
    """Write every event, in order, in the stored canonical form (JSON Lines)."""
    ledger = ctx.ledger()
    total = ledger.head().seq
    update, stop = _progress(total, "exporting")
    target = sys.stdout.buffer if out == "-" else open(out, "wb")  # noqa: SIM115
    try:
        with _errors():
            for count, event in enumerate(ledger.events(), start=1):
                target.write(export_line(event) + b"\n")
                if count % 10_000 == 0:
                    update(count)
    finally:
        stop()
        if target is not sys.stdout.buffer:
            target.close()


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="rollout-ledger")
