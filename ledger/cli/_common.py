"""What every command shares: the context, the one error table, progress bars."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import click

from ledger.errors import (
    BadRequest,
    ChainBroken,
    CheckpointInvalid,
    Conflict,
    Forbidden,
    InvalidEvent,
    LedgerError,
    NotFound,
    PolicyDenied,
    ProofInvalid,
    StoreError,
)
from ledger.keys import default_key_dir, load_signer
from ledger.schema_files import load_catalogue
from ledger.service import Ledger
from ledger.store import EventStore, open_store

__all__ = ["EXIT_CODES", "Context", "errors", "fail", "local_actor", "pass_ctx", "progress"]

EXIT_CODES: dict[type[LedgerError], int] = {
    BadRequest: 2,
    InvalidEvent: 2,
    Conflict: 3,
    PolicyDenied: 3,
    Forbidden: 3,
    NotFound: 4,
    ChainBroken: 5,
    ProofInvalid: 5,
    CheckpointInvalid: 5,
    StoreError: 6,
}


def fail(error: LedgerError) -> NoReturn:
    """Print the one-line message and exit with the error family's code."""
    code = next((c for cls, c in EXIT_CODES.items() if isinstance(error, cls)), 1)
    click.echo(f"error: {error.message}", err=True)
    raise SystemExit(code)


@contextmanager
def errors() -> Iterator[None]:
    """Turn any LedgerError raised inside into ``fail``."""
    try:
        yield
    except LedgerError as error:
        fail(error)


def local_actor() -> str:
    """Whoever runs the CLI on the database file acts as themselves, locally."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"local:{user}"


class Context:
    """The database and key directory chosen by the global options."""

    def __init__(self, db: str, key_dir: str | None) -> None:
        self.db = db
        self.key_dir = Path(key_dir) if key_dir else default_key_dir(db)

    def open(self, *, must_exist: bool = True) -> EventStore:
        is_file = not self.db.startswith(("postgresql://", "postgres://", "sqlite://"))
        if must_exist and is_file and not Path(self.db).exists():
            fail(NotFound(f"no ledger at {self.db}; run `rollout-ledger init` first"))
        with errors():
            store = open_store(self.db)
        # Closed when the command ends, whichever way it ends (including fail()):
        # a store left to the garbage collector closes at a random later moment
        # (the projection cache freezes cycles for minutes), and SQLite's last
        # connection to close deletes -wal/-shm then, under whoever copies the
        # directory. Closing twice is harmless; commands may close it first.
        click_ctx = click.get_current_context(silent=True)
        if click_ctx is not None:
            click_ctx.call_on_close(store.close)
        return store

    def ledger(self, *, signing: bool = False) -> Ledger:
        store = self.open()
        with errors():
            signer = load_signer(self.key_dir, required=signing)
        return Ledger(
            store, signer=signer, origin=store.get_meta("origin"), catalogue=load_catalogue()
        )


pass_ctx = click.make_pass_decorator(Context)


def progress(total: int | None, label: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A rich progress bar on a terminal; silence otherwise."""
    if not sys.stderr.isatty():
        return (lambda _n: None), (lambda: None)
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = bar.add_task(label, total=total)
    bar.start()
    return (lambda n: bar.update(task, completed=n)), bar.stop
