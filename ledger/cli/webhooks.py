"""Webhook subscribers: add, list (never the secret), remove.

They are stored in the ledger's ``meta`` table (see ``ledger.webhooks``); a
running server's delivery worker picks changes up within one poll interval.
"""

from __future__ import annotations

import click

from ledger.cli._common import Context, errors, pass_ctx
from ledger.webhooks import (
    add_subscriber,
    check_subscriber,
    get_cursor,
    load_subscribers,
    remove_subscriber,
)

__all__ = ["COMMANDS"]


@click.group()
def webhook() -> None:
    """Webhook subscribers: signed POSTs of matching events, at least once, in seq order."""


@webhook.command("add")
@click.option("--name", required=True, help="Unique subscriber name.")
@click.option("--url", required=True, help="The http(s) URL events are POSTed to.")
@click.option(
    "--types", required=True, help="Comma-separated event types, exact or prefix ('rollout.*')."
)
@click.option("--secret", required=True, help="The HMAC-SHA256 signing secret.")
@pass_ctx
def webhook_add(ctx: Context, name: str, url: str, types: str, secret: str) -> None:
    """Add a subscriber; it receives every matching event from the first one on."""
    with errors():
        sub = check_subscriber(name, url, types.split(","), secret)
    store = ctx.open()
    try:
        with errors():
            add_subscriber(store, sub)
    finally:
        store.close()
    click.echo(f"webhook {name!r} added ({', '.join(sub.types)} -> {url})")


@webhook.command("list")
@pass_ctx
def webhook_list(ctx: Context) -> None:
    """List subscribers: name, cursor (last delivered seq), types, URL."""
    store = ctx.open()
    try:
        with errors():
            rows = [("NAME", "CURSOR", "TYPES", "URL")]
            rows += [
                (s.name, str(get_cursor(store, s.name)), ",".join(s.types), s.url)
                for s in load_subscribers(store)
            ]
    finally:
        store.close()
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[3]]))


@webhook.command("remove")
@click.argument("name")
@pass_ctx
def webhook_remove(ctx: Context, name: str) -> None:
    """Remove subscriber NAME (its cursor is kept: re-adding it resumes there)."""
    store = ctx.open()
    try:
        with errors():
            remove_subscriber(store, name)
    finally:
        store.close()
    click.echo(f"removed {name}")


COMMANDS = [webhook]
