"""The server commands: ``serve`` (uvicorn) and ``schema`` (print the GraphQL SDL)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ledger.cli._common import Context, fail, pass_ctx
from ledger.errors import NotFound

__all__ = ["COMMANDS", "SCHEMA_FILE"]

SCHEMA_FILE = Path("schema") / "schema.graphql"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8000, show_default=True, type=int, help="TCP port.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes; they share one chain through the store's write lock.",
)
@click.option(
    "--anonymous-reads",
    is_flag=True,
    envvar="LEDGER_ANONYMOUS_READS",
    help="Let requests without a token read (appends always need one).",
)
@click.option(
    "--checkpoint-interval",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0),
    envvar="LEDGER_CHECKPOINT_INTERVAL",
    help="Seconds between published signed checkpoints while the ledger grows (0: off).",
)
@click.option("--log-level", default="info", show_default=True, help="uvicorn log level.")
@pass_ctx
def serve(
    ctx: Context,
    host: str,
    port: int,
    workers: int,
    anonymous_reads: bool,
    checkpoint_interval: float,
    log_level: str,
) -> None:
    """Serve the HTTP API, GraphQL and subscriptions (uvicorn)."""
    import uvicorn

    is_file = not ctx.db.startswith(("postgresql://", "postgres://", "sqlite://"))
    if is_file and not Path(ctx.db).exists():
        fail(NotFound(f"no ledger at {ctx.db}; run `rollout-ledger init` first"))
    # Every worker process builds its own app from the environment
    # (ledger.api.app:app_from_env), so the options travel as variables.
    os.environ["LEDGER_DB"] = str(Path(ctx.db).resolve()) if is_file else ctx.db
    os.environ["LEDGER_KEY_DIR"] = str(ctx.key_dir.resolve())
    os.environ["LEDGER_ANONYMOUS_READS"] = "true" if anonymous_reads else "false"
    os.environ["LEDGER_CHECKPOINT_INTERVAL"] = str(checkpoint_interval)
    uvicorn.run(
        "ledger.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        # uvicorn formats every request's access-log line (client address,
        # quoted path) whenever its logger has handlers, even at a level that
        # drops it: ~3 % of the event loop's time on single-event appends.
        access_log=log_level.lower() in {"trace", "debug", "info"},
        lifespan="on",
    )


@click.command("schema")
@click.option("--out", default="-", help="Write the SDL here instead of stdout.")
def schema(out: str) -> None:
    """Print the GraphQL schema (SDL) that the server serves."""
    from ledger.api.graphql import build_schema

    sdl = build_schema().as_str() + "\n"
    if out == "-":
        click.echo(sdl, nl=False)
    else:
        Path(out).write_text(sdl, encoding="utf-8")


COMMANDS = [serve, schema]
