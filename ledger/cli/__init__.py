"""The ``rollout-ledger`` command line: each command is one service call.

Errors are translated once (``_common.fail``): a one-line message on stderr
naming the problem and a non-zero exit code per error family.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from ledger.cli import (
    demo,
    events,
    exports,
    migrate,
    offline,
    review,
    serve,
    tokens,
    tree,
    webhooks,
)
from ledger.cli._common import Context

__all__ = ["cli", "main"]


@click.group()
@click.option(
    "--db",
    envvar="LEDGER_DB",
    default="ledger.db",
    show_default=True,
    help="SQLite path or postgresql:// URL (env LEDGER_DB).",
)
@click.option(
    "--key-dir",
    envvar="LEDGER_KEY_DIR",
    default=None,
    help="Signing key directory (env LEDGER_KEY_DIR; default beside the SQLite file).",
)
@click.version_option(package_name="rollout-ledger")
@click.pass_context
def cli(ctx: click.Context, db: str, key_dir: str | None) -> None:
    """Rollout Ledger: the tamper-evident record of how ML models reach production."""
    ctx.obj = Context(db, key_dir)


for module in (events, tree, offline, tokens, serve, demo, migrate, webhooks, exports, review):
    for command in module.COMMANDS:
        cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="rollout-ledger")
