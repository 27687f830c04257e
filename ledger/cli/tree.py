"""Commands over the Merkle tree: key, checkpoint, proof, rebuild."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ledger.chain import export_line
from ledger.cli._common import Context, errors, pass_ctx, progress
from ledger.errors import NotFound
from ledger.keys import load_signer
from ledger.receipt import format_receipt

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
@click.option(
    "--receipt",
    "receipt_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Also write a self-contained receipt (c2sp.org/tlog-proof) against a signed checkpoint.",
)
@pass_ctx
def proof_inclusion(
    ctx: Context, seq: int, tree_size: int | None, receipt_file: Path | None
) -> None:
    """Prove event SEQ is in the tree of TREE-SIZE events."""
    ledger = ctx.ledger()
    if receipt_file is None:
        with errors():
            click.echo(json.dumps(ledger.inclusion_proof(seq, tree_size).to_json(), indent=2))
        return
    with errors():
        # A receipt is proven against a signed checkpoint: the latest stored one
        # (or the stored one of --tree-size) when it covers SEQ, else a fresh one.
        if tree_size is None:
            latest = ledger.store.latest_checkpoint()
            chosen = latest if latest is not None and latest.size >= seq else None
        else:
            kept = reversed(ledger.store.checkpoints())
            chosen = next((c for c in kept if c.size == tree_size), None)
        if chosen is None:
            if not 1 <= seq <= ledger.head().seq:  # before signing a useless checkpoint
                raise NotFound(f"seq: {seq} is not in the ledger", field="seq")
            if tree_size is not None and tree_size != ledger.head().seq:
                raise NotFound(
                    f"--tree-size: no signed checkpoint of size {tree_size}; "
                    "omit --tree-size to use the latest",
                    field="tree_size",
                )
            ledger.checkpoint()  # signs and stores the current tree head
            chosen = ledger.store.latest_checkpoint()
            assert chosen is not None
        inclusion = ledger.inclusion_proof(seq, chosen.size)
        event = ledger.store.get(seq)
        if event is None:
            raise NotFound(f"seq: {seq} is not in the ledger", field="seq")
        text = format_receipt(export_line(event), inclusion, chosen.note)
        receipt_file.write_text(text, encoding="utf-8", newline="\n")
    click.echo(json.dumps(inclusion.to_json(), indent=2))
    click.echo(
        f"receipt for seq {seq} written to {receipt_file} (checkpoint size {chosen.size})",
        err=True,
    )


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
    """Recompute the derived state (Merkle tree, projections) from the events."""
    ledger = ctx.ledger()
    update, stop = progress(ledger.head().seq, "rebuilding")
    with errors():
        try:
            root = ledger.rebuild_tree(progress=update)
            projected = ledger.rebuild_projections(progress=update)
        finally:
            stop()
    click.echo(f"rebuilt the Merkle tree of {ledger.head().seq} events, root {root.hex()}")
    click.echo(f"rebuilt the projections from {projected} events")


COMMANDS = [key, checkpoint, proof, rebuild]
