"""Commands for incident reviewers: timeline, lineage, status (and compliance, for auditors).

Each is one read of :mod:`ledger.service_review` or
:mod:`ledger.service_compliance`, the same functions GraphQL ``timeline``,
``lineage``, ``statuses`` and ``compliance`` answer from, printed as a table
(``--json`` for scripts). Every event shown carries its seq and hash, so a
line of the output can be proven with ``proof inclusion --seq``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import cast

import click
from rich.console import JustifyMethod
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from ledger.asof import Point, parse_point, parse_time
from ledger.cli._common import Context, errors, pass_ctx
from ledger.cli._render import echo_json, echo_rendered, short_hash
from ledger.cli.compliance import compliance_cmd
from ledger.errors import BadRequest
from ledger.events import Event
from ledger.projections.base import Edge
from ledger.projections.edges import target_is_upstream
from ledger.projections.lineage import Direction
from ledger.projections.summary import summarize
from ledger.service_review import (
    ProjectionReader,
    StatusRow,
    lineage,
    model_doc,
    model_name,
    statuses,
    timeline,
)

__all__ = ["COMMANDS"]

_AS_OF_HELP = "A moment: seq:N or an RFC 3339 time (recorded at or before)."


@contextmanager
def _reader(ctx: Context) -> Iterator[ProjectionReader]:
    store = ctx.open()
    try:
        with errors():
            yield cast(ProjectionReader, store)
    finally:
        store.close()


def _point(as_of: str | None) -> Point | None:
    return parse_point(as_of, "--as-of") if as_of is not None else None


def _moment(point: Point | None) -> str:
    if point is None:
        return "now"
    return f"seq {point.seq}" if point.seq is not None else str(point.time)


# ---- timeline ------------------------------------------------------------------------


def _event_json(event: Event) -> dict[str, object]:
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "actor": event.actor,
        "type": event.type,
        "subject": event.subject,
        "summary": summarize(event.type, event.data),
        "hash": event.hash,
        "data": event.data,
    }


_TIMELINE = ("seq", "time", "actor", "type", "subject", "summary", "hash")
_SUMMARY_MIN = 12
_GAP = 2  # spaces between columns


def _timeline_rows(events: list[Event], full_hash: bool) -> list[tuple[str, ...]]:
    return [
        (
            str(e.seq),
            e.occurred_at[:19] + "Z",
            e.actor,
            e.type,
            e.subject,
            summarize(e.type, e.data),
            short_hash(e.hash, full_hash),
        )
        for e in events
    ]


def _widths(rows: list[tuple[str, ...]]) -> list[int]:
    return [max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(_TIMELINE)]


def _fixed_width(rows: list[tuple[str, ...]]) -> int:
    """The width every column but the summary needs, plus a minimal summary and the gaps."""
    widths = _widths(rows)
    fixed = sum(w for name, w in zip(_TIMELINE, widths, strict=True) if name != "summary")
    return fixed + _SUMMARY_MIN + _GAP * (len(_TIMELINE) - 1)


def _timeline_table(rows: list[tuple[str, ...]], width: int) -> Table:
    # The summary is the one column that gives way (with an ellipsis): a cut
    # seq, subject or hash is useless.
    room = width - _fixed_width(rows) + _SUMMARY_MIN
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name, widest in zip(_TIMELINE, _widths(rows), strict=True):
        if name == "summary":
            table.add_column(name, no_wrap=True, overflow="ellipsis", max_width=room)
            continue
        justify: JustifyMethod = "right" if name == "seq" else "left"
        table.add_column(name, no_wrap=True, min_width=widest, justify=justify)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # Text: payload brackets are not markup
    return table


@click.command("timeline")
@click.option("--subject", "subjects", multiple=True, required=True, help="Entity (repeatable).")
@click.option(
    "--from", "start", default=None, help="Occurred at or after (RFC 3339 with Z or an offset)."
)
@click.option("--to", "end", default=None, help="Occurred before (RFC 3339 with Z or an offset).")
@click.option(
    "--types",
    multiple=True,
    help="Event types, comma-separated or repeated; `alert.*` for a prefix.",
)
@click.option("--related", is_flag=True, help="Widen to the entities linked through lineage.")
@click.option("--as-of", default=None, help=_AS_OF_HELP)
@click.option(
    "--limit", type=click.IntRange(1), default=10_000, show_default=True, help="Most events."
)
@click.option("--full-hash", is_flag=True, help="Print whole hashes, not their first 12 digits.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (every field, full hashes).")
@pass_ctx
def timeline_cmd(
    ctx: Context,
    subjects: tuple[str, ...],
    start: str | None,
    end: str | None,
    types: tuple[str, ...],
    related: bool,
    as_of: str | None,
    limit: int,
    full_hash: bool,
    as_json: bool,
) -> None:
    """The events about SUBJECTs in a window, in seq order: what happened, who, what proves it."""
    with _reader(ctx) as store:
        since = parse_time(start, "--from") if start is not None else None
        until = parse_time(end, "--to") if end is not None else None
        if since is not None and until is not None and since >= until:
            raise BadRequest(f"--to: {end} is not after --from {start}", field="--to")
        found = timeline(
            store,
            subjects,
            start=since,
            end=until,
            types=[t for group in types for t in group.split(",") if t] or None,
            related=related,
            as_of=_point(as_of),
            limit=limit,
        )
    if as_json:
        echo_json(
            {
                "subjects": found.subjects,
                "truncated": found.truncated,
                "events": [_event_json(e) for e in found.events],
            }
        )
        return
    rows = _timeline_rows(found.events, full_hash)
    # Too narrow a terminal overflows rather than cutting the identifying columns.
    echo_rendered(
        lambda console: console.print(_timeline_table(rows, console.width)),
        min_width=_fixed_width(rows),
    )
    more = " (truncated: raise --limit)" if found.truncated else ""
    click.echo(f"{len(found.events)} events about {len(found.subjects)} subjects{more}")


# ---- lineage -------------------------------------------------------------------------


def _ends(edge: Edge) -> tuple[str, str]:
    """(upstream, downstream) ends of ``edge``."""
    if target_is_upstream(edge.relation):
        return edge.target, edge.source
    return edge.source, edge.target


def _grow(tree: Tree, node: str, edges: list[Edge], upstream: bool, seen: set[str]) -> None:
    for edge in edges:
        up, down = _ends(edge)
        if (down if upstream else up) != node:
            continue
        other = up if upstream else down
        label = f"{escape(other)}  [dim]{escape(edge.relation)}, seq {edge.seq}[/dim]"
        if other in seen:
            tree.add(label + "  [dim](above)[/dim]")
            continue
        seen.add(other)
        _grow(tree.add(label), other, edges, upstream, seen)


def _lineage_tree(ref: str, direction: Direction, edges: list[Edge]) -> Tree:
    root = Tree(escape(ref))
    for upstream, title in ((True, "upstream (depends on)"), (False, "downstream (used by)")):
        if direction == ("downstream" if upstream else "upstream"):
            continue
        branch = root.add(title) if direction == "both" else root
        _grow(branch, ref, edges, upstream, {ref})
        if not branch.children:
            branch.add("[dim](nothing)[/dim]")
    return root


@click.command("lineage")
@click.argument("ref")
@click.option("--upstream", "direction", flag_value="upstream", help="Only what REF depends on.")
@click.option("--downstream", "direction", flag_value="downstream", help="Only what uses REF.")
@click.option("--depth", type=int, default=3, show_default=True, help="Hops, 1 to 10.")
@click.option("--as-of", default=None, help=_AS_OF_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print nodes and edges as JSON.")
@pass_ctx
def lineage_cmd(
    ctx: Context, ref: str, direction: str | None, depth: int, as_of: str | None, as_json: bool
) -> None:
    """What REF (kind:name[@version]) depends on and what depends on it, as a tree."""
    walk = cast(Direction, direction or "both")
    with _reader(ctx) as store:
        nodes, edges = lineage(store, ref, walk, depth, _point(as_of))
    if as_json:
        echo_json(
            {
                "ref": ref,
                "direction": walk,
                "depth": depth,
                "nodes": nodes,
                "edges": [
                    {"source": e.source, "target": e.target, "relation": e.relation, "seq": e.seq}
                    for e in edges
                ],
            }
        )
        return
    echo_rendered(lambda console: console.print(_lineage_tree(ref, walk, edges)))


# ---- status --------------------------------------------------------------------------


def _status_table(rows: list[StatusRow]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("environment", "version", "status", "exposure", "strategy", "since", "seq"):
        table.add_column(
            name, no_wrap=True, justify="right" if name in ("exposure", "seq") else "left"
        )
    for r in rows:
        cells = (r.environment, r.version, r.status, f"{r.exposure:g}%", r.strategy or "")
        table.add_row(*(Text(c) for c in (*cells, r.time[:19] + "Z", str(r.seq))))
    return table


@click.command("status")
@click.argument("model")
@click.option("--as-of", default=None, help=_AS_OF_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@pass_ctx
def status_cmd(ctx: Context, model: str, as_of: str | None, as_json: bool) -> None:
    """What runs where: each version of MODEL per environment, its status and exposure."""
    with _reader(ctx) as store:
        point = _point(as_of)
        name = model_name(model)
        doc = model_doc(store, name)
        rows = statuses(store, name, point)
    if as_json:
        echo_json([asdict(r) for r in rows])
        return
    click.echo(
        f"{name} ({doc.get('risk_tier')} risk, owner {doc.get('owner')}) as of {_moment(point)}"
    )
    if not rows:
        click.echo("no version had a status then")
        return
    echo_rendered(lambda console: console.print(_status_table(rows)))


# compliance lives in its own module; it is registered with the other reviewer commands.
COMMANDS = [timeline_cmd, lineage_cmd, status_cmd, compliance_cmd]
