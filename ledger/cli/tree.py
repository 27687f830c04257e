"""Commands over the Merkle tree: key, checkpoint, proof, rebuild."""

from __future__ import annotations

import json

import click

from ledger.cli._common import Context, errors, pass_ctx, progress
from ledger.keys import load_signer

__all__ = ["COMMANDS"]


@click.group()
def key() -> None:
    """The signing key."""


@key.command("show")
@pass_ctx
def key_show(ctx: Context) -> None:
    """Print the verifier key string (give it to auditors as --public-key)."""
    with errors():
        signer = load_signer(ctx.key_dir)
    assert signer is not None
    click.echo(signer.verifier_key())


@click.command()
@pass_ctx
def checkpoint(ctx: Context) -> None:
    """Print (and keep) a freshly signed checkpoint of the current tree."""
    ledger = ctx.ledger(signing=True)
    with errors():
        click.echo(ledger.checkpoint(), nl=False)


@click.group()
def proof() -> None:
    """Merkle proofs as JSON (RFC 9162 2.1.3 and 2.1.4)."""


@proof.command("inclusion")
@click.option("--seq", type=int, required=True, help="The event to prove.")
@click.option("--tree-size", type=int, default=None, help="Tree size (default: the head).")
@pass_ctx
def proof_inclusion(ctx: Context, seq: int, tree_size: int | None) -> None:
    """Prove event SEQ is in the tree of TREE-SIZE events."""
    ledger = ctx.ledger()
    with errors():
        click.echo(json.dumps(ledger.inclusion_proof(seq, tree_size).to_json(), indent=2))


@proof.command("consistency")
@click.option("--first", type=int, required=True, help="The older tree size.")
@click.option("--second", type=int, default=None, help="The newer tree size (default: head).")
@pass_ctx
def proof_consistency(ctx: Context, first: int, second: int | None) -> None:
    """Prove the tree of FIRST events is a prefix of the tree of SECOND."""
    ledger = ctx.ledger()
    with errors():
        click.echo(json.dumps(ledger.consistency_proof(first, second).to_json(), indent=2))


@click.command()
@pass_ctx
def rebuild(ctx: Context) -> None:
    """Recompute the derived state (the Merkle tree) from the events."""
    ledger = ctx.ledger()
    update, stop = progress(ledger.head().seq, "rebuilding")
    with errors():
        try:
            root = ledger.rebuild_tree(progress=update)
        finally:
            stop()
    click.echo(f"rebuilt the Merkle tree of {ledger.head().seq} events, root {root.hex()}")


COMMANDS = [key, checkpoint, proof, rebuild]
