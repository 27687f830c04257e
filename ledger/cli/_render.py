"""Rendering for the reviewer commands: rich tables on a terminal, stable text elsewhere.

Output that is piped, captured by tests or pasted into docs must not depend
on the terminal: off a terminal, rich renders at a fixed width without colour,
and trailing padding is stripped, so the same ledger always prints the same
lines.
"""

from __future__ import annotations

import io
import shutil
import sys
from collections.abc import Callable

import click
import orjson
from rich.console import Console

__all__ = ["FIXED_WIDTH", "echo_json", "echo_rendered", "short_hash"]

FIXED_WIDTH = 200
"""Columns rich renders to when stdout is not a terminal."""

SHORT_HASH = 12


def short_hash(value: str, full: bool) -> str:
    """The first 12 hex digits (enough to find the event), or all 64 with ``--full-hash``."""
    return value if full else value[:SHORT_HASH]


def echo_rendered(render: Callable[[Console], None], min_width: int = 0) -> None:
    """Run ``render`` on a console sized for stdout (at least ``min_width``); print the result."""
    tty = sys.stdout.isatty()
    width = max(shutil.get_terminal_size().columns if tty else FIXED_WIDTH, min_width)
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=tty,
        color_system="auto" if tty else None,
        highlight=False,
        emoji=False,
    )
    render(console)
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    click.echo("\n".join(lines))


def echo_json(value: object) -> None:
    """Print ``value`` as indented JSON (for scripts: ``| jq``)."""
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())
