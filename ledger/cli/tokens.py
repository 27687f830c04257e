"""API tokens: create (shown once), list (never the secret or its hash), revoke."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from ledger.auth import ROLES, check_role, check_token_name, hash_token, new_token
from ledger.cli._common import Context, errors, fail, pass_ctx
from ledger.errors import Conflict, NotFound
from ledger.events import format_time
from ledger.store.protocol import TokenRecord

__all__ = ["COMMANDS"]


def _now() -> str:
    return format_time(datetime.now(UTC))


@click.group()
def token() -> None:
    """API tokens for the HTTP and GraphQL server (stored hashed)."""


@token.command("create")
@click.option("--name", required=True, help="Token name; recorded as the actor of its appends.")
@click.option("--role", required=True, help=f"One of: {', '.join(ROLES)}.")
@pass_ctx
def token_create(ctx: Context, name: str, role: str) -> None:
    """Create a token and print it once; only its SHA-256 is stored."""
    with errors():
        check_token_name(name)
        check_role(role)
    store = ctx.open()
    try:
        with errors():
            if any(t.name == name for t in store.tokens()):
                fail(Conflict(f"name: a token named {name!r} already exists", field="name"))
            secret = new_token()
            store.add_token(TokenRecord(name, role, hash_token(secret), _now()))
    finally:
        store.close()
    click.echo(secret)
    click.echo(f"token {name!r} ({role}) created; it is shown only this once", err=True)


@token.command("list")
@pass_ctx
def token_list(ctx: Context) -> None:
    """List tokens: name, role, created, revoked (never the secret or its hash)."""
    store = ctx.open()
    try:
        with errors():
            records = store.tokens()
    finally:
        store.close()
    rows = [("NAME", "ROLE", "CREATED", "REVOKED")]
    rows += [(t.name, t.role, t.created_at, t.revoked_at or "-") for t in records]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[3]]))


@token.command("revoke")
@click.argument("name")
@pass_ctx
def token_revoke(ctx: Context, name: str) -> None:
    """Revoke token NAME; requests carrying it are refused from now on."""
    store = ctx.open()
    try:
        with errors():
            revoked = store.revoke_token(name, _now())
    finally:
        store.close()
    if not revoked:
        fail(NotFound(f"name: no live token named {name!r}", field="name"))
    click.echo(f"revoked {name}")


COMMANDS = [token]
