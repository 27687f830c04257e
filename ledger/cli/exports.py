"""Export commands: lineage-export, prov, bundle and verify-bundle.

``verify-bundle`` takes no ledger context, like ``verify-export``: an auditor
runs it anywhere, with only the bundle and, ideally, a key they trust.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

import click

from ledger.asof import Point, parse_point
from ledger.cli._bundle_files import read_bundle, write_bundle_dir, write_bundle_zip
from ledger.cli._common import Context, errors, fail, pass_ctx
from ledger.errors import BadRequest
from ledger.exporting import EXPORT_FORMATS, build_bundle, export_lineage, model_prov
from ledger.exports.bundle import bundle_verifier, verify_bundle
from ledger.note import Verifier, parse_verifier_key
from ledger.projections.lineage import Direction

__all__ = ["COMMANDS"]

_AS_OF_HELP = "Answer as the ledger stood then: seq:N or an RFC 3339 time."


def _point(as_of: str | None) -> Point | None:
    if as_of is None:
        return None
    with errors():
        return parse_point(as_of, "--as-of")


def _write(out: str, text: str) -> None:
    if out == "-":
        sys.stdout.write(text)
        return
    try:
        Path(out).write_text(text, encoding="utf-8", newline="\n")
    except OSError as exc:
        fail(BadRequest(f"--out: cannot write {out}: {exc.strerror}"))


@click.command("lineage-export")
@click.argument("ref")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    required=True,
    help="graphml, dot, mermaid (the graph) or prov-json (a model's provenance).",
)
@click.option("--upstream", "direction", flag_value="upstream", help="Only what REF depends on.")
@click.option(
    "--downstream", "direction", flag_value="downstream", help="Only what depends on REF."
)
@click.option("--both", "direction", flag_value="both", default=True, help="Both (the default).")
@click.option("--depth", type=int, default=3, show_default=True, help="Hops to walk (1..10).")
@click.option("--as-of", default=None, help=_AS_OF_HELP)
@click.option("--out", default="-", help="Output file ('-' for stdout).")
@pass_ctx
def lineage_export(
    ctx: Context, ref: str, fmt: str, direction: str, depth: int, as_of: str | None, out: str
) -> None:
    """Write the lineage around REF as GraphML, DOT, Mermaid or PROV-JSON."""
    point = _point(as_of)
    ledger = ctx.ledger()
    with errors():
        text = export_lineage(ledger, ref, fmt, cast(Direction, direction), depth, point)
    _write(out, text)


@click.command("prov")
@click.argument("model")
@click.option("--as-of", default=None, help=_AS_OF_HELP)
@click.option("--out", default="-", help="Output file ('-' for stdout).")
@pass_ctx
def prov(ctx: Context, model: str, as_of: str | None, out: str) -> None:
    """Write MODEL's provenance as W3C PROV-JSON (entities, activities, agents)."""
    point = _point(as_of)
    ledger = ctx.ledger()
    with errors():
        text = model_prov(ledger, model.removeprefix("model:"), point)
    _write(out, text)


@click.command("bundle")
@click.option("--model", default=None, help="Bundle a model: its versions, data, deployments.")
@click.option("--incident", default=None, help="Bundle an incident and what it is linked to.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory to create (must be new or empty).",
)
@click.option("--zip", "as_zip", is_flag=True, help="Also write OUT.zip.")
@pass_ctx
def bundle(ctx: Context, model: str | None, incident: str | None, out: Path, as_zip: bool) -> None:
    """Write an audit bundle that verifies offline with verify-bundle."""
    if (model is None) == (incident is None):
        fail(BadRequest("give exactly one of --model NAME or --incident ID"))
    ref = f"model:{model}" if model is not None else f"incident:{incident}"
    ledger = ctx.ledger(signing=True)
    zip_path = out.with_name(out.name + ".zip")
    with errors():
        built = build_bundle(ledger, ref, out.name)
        write_bundle_dir(out, built.files)
        if as_zip:
            write_bundle_zip(zip_path, out.name, built.files)
    click.echo(
        f"bundle of {built.scope.ref}: {built.events} events proven against checkpoint "
        f"size {built.checkpoint.size} in {out}" + (f" and {zip_path}" if as_zip else "")
    )


def _pinned(key_file: Path | None) -> Verifier | None:
    if key_file is None:
        return None
    try:
        text = key_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(BadRequest(f"--public-key {key_file}: not UTF-8 text"))
    except OSError as exc:
        fail(BadRequest(f"--public-key {key_file}: cannot read it ({exc.strerror or exc})"))
    with errors():
        return parse_verifier_key(text)


@click.command("verify-bundle")
@click.argument("path", metavar="DIR_OR_ZIP", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--public-key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="File holding the verifier key you trust (default: the bundle's own key).",
)
def verify_bundle_command(path: Path, key_file: Path | None) -> None:
    """Check an audit bundle offline: signature, event hashes, inclusion proofs."""
    pinned = _pinned(key_file)
    with errors():
        files = read_bundle(path)
        report = verify_bundle(files, pinned or bundle_verifier(files))
    checkpoint = report.checkpoint
    click.echo(
        f"ok: {len(report.seqs)} events of {path} are in checkpoint {checkpoint.origin} "
        f"size {checkpoint.size} root {checkpoint.root_hash.hex()}"
    )
    if pinned is None:
        click.echo(
            "warning: checked with the bundle's own verifier-key.txt, which proves only that "
            "the bundle is self-consistent; pass --public-key with a key you trust",
            err=True,
        )


COMMANDS = [lineage_export, prov, bundle, verify_bundle_command]
