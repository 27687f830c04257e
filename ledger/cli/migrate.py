"""``rollout-ledger migrate-store``: copy a ledger between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import click

from ledger.cli._common import errors, fail, progress
from ledger.errors import BadRequest, NotFound
from ledger.migration import DEFAULT_BATCH
from ledger.migration import migrate_store as copy_ledger
from ledger.store import EventStore, open_store

__all__ = ["COMMANDS", "migrate_store"]

_PG = ("postgresql://", "postgres://")


def _is_file(location: str) -> bool:
    return not location.startswith((*_PG, "sqlite://"))


def _shown(location: str) -> str:
    """The location for messages: a PostgreSQL URL without its password or options."""
    if not location.startswith(_PG):
        return location
    parts = urlsplit(location)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"


def _events(count: int) -> str:
    return f"{count} event" if count == 1 else f"{count} events"


def _same(source: str, destination: str) -> bool:
    if _is_file(source) and _is_file(destination):
        return Path(source).resolve() == Path(destination).resolve()
    return source == destination


def _open(location: str, *, role: str, must_exist: bool) -> EventStore:
    if _is_file(location):
        path = Path(location)
        if must_exist and not path.exists():
            fail(NotFound(f"--from: no ledger at {location}"))
        if not path.parent.exists():
            fail(NotFound(f"--{role}: directory {path.parent} does not exist"))
    with errors():
        return open_store(location)


@contextmanager
def _bar(label: str) -> Iterator[Callable[[int], None]]:
    """A progress callback whose bar appears at the first call (so bars never overlap)."""
    state: dict[str, Callable[..., None]] = {}

    def update(done: int) -> None:
        if not state:
            state["update"], state["stop"] = progress(None, label)
        state["update"](done)

    try:
        yield update
    finally:
        if state:
            state["stop"]()


@click.command("migrate-store")
@click.option(
    "--from", "source", required=True, help="The ledger to copy: SQLite path or postgresql:// URL."
)
@click.option(
    "--to",
    "destination",
    required=True,
    help="Where to copy it: an empty database, or one an interrupted run left (resumed).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100_000),
    default=DEFAULT_BATCH,
    show_default=True,
    help="Events per destination transaction.",
)
def migrate_store(source: str, destination: str, batch_size: int) -> None:
    """Copy a ledger verbatim between stores (SQLite <-> PostgreSQL), verifying every hash.

    Events keep their seq, bytes and hashes; the Merkle tree is recomputed in
    the destination and its root checked against the source's latest signed
    checkpoint; checkpoints, the origin, the verifier key and API tokens are
    copied; projections are rebuilt. Rerun after an interruption to resume. A
    destination holding anything but a prefix of the source is refused. The
    signing key is not in the database: keep using the source's key directory
    (--key-dir) with the destination.
    """
    if _same(source, destination):
        fail(BadRequest("--to: the destination is the source"))
    with ExitStack() as stack:
        src = _open(source, role="from", must_exist=True)
        stack.callback(src.close)
        dst = _open(destination, role="to", must_exist=False)
        stack.callback(dst.close)
        with errors():
            total = src.head().seq
        update, stop = progress(total, "copying events")
        stack.callback(stop)
        project = stack.enter_context(_bar("rebuilding projections"))
        try:
            with errors():
                report = copy_ledger(
                    src, dst, batch_size=batch_size, progress=update, project_progress=project
                )
        except KeyboardInterrupt:
            # The batch being written finished or rolled back: the destination holds a prefix.
            click.echo("error: interrupted; run the same command again to resume", err=True)
            raise SystemExit(130) from None
    where = f"{_shown(source)} -> {_shown(destination)}"
    if report.copied:
        first = report.resumed_from + 1
        resumed = f", resumed after seq {report.resumed_from}" if report.resumed_from else ""
        click.echo(
            f"migrated {where}: copied {_events(report.copied)} (seq {first}..{report.source_head}"
            f"{resumed}) in {report.seconds:.2f} s, {report.events_per_second:,.0f} events/s"
        )
    else:
        click.echo(f"migrated {where}: all {report.source_head} events were already there")
    if report.checkpoint is not None:
        click.echo(
            f"checkpoint of size {report.checkpoint.size} verified: the destination's root "
            f"there is its signed root {report.checkpoint.root_hash.hex()}"
        )
    else:
        click.echo("the source has no signed checkpoint: root not checked against a signature")
    projections = (
        f"projections rebuilt from {_events(report.projected)}"
        if report.projected
        else "projections already current"
    )
    click.echo(
        f"root at {report.source_head}: {report.root.hex()}; copied {report.checkpoints_copied} "
        f"checkpoint(s) and {report.tokens_copied} token(s); {projections}"
    )


COMMANDS = [migrate_store]
