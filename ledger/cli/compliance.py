"""``rollout-ledger compliance``: which regulatory controls a model's record evidences.

One call of :func:`ledger.service_compliance.compliance_reports` (GraphQL
``compliance`` makes the same call): one verification of the whole chain,
then a report per model, printed as a table of statuses and evidence seqs
followed by the findings and gaps in words (``--json`` for scripts).
``--fail-on-gap`` turns any control with status gap into exit code 3.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ledger.asof import parse_point
from ledger.cli._common import Context, errors, pass_ctx
from ledger.cli._render import echo_json, echo_rendered
from ledger.compliance import ComplianceReport, Status
from ledger.errors import BadRequest
from ledger.service_compliance import compliance_reports
from ledger.service_review import model_name

__all__ = ["GAP_EXIT", "compliance_cmd"]


def _compliance_table(report: ComplianceReport) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("status", no_wrap=True)
    table.add_column("control", no_wrap=True)
    table.add_column("framework", no_wrap=True)
    table.add_column("clause", no_wrap=True)
    table.add_column("evidence (seq)", no_wrap=True, overflow="ellipsis", ratio=1)
    for f in report.findings:
        seqs = ", ".join(str(e.seq) for e in f.evidence) or "-"
        cells = (f.status.value, f.control.id, f.control.framework, f.control.clause, seqs)
        table.add_row(*(Text(c) for c in cells))
    return table


def _print_report(console: Console, report: ComplianceReport) -> None:
    state = "retired" if report.retired else "active"
    console.print(f"{report.model} ({state}) at {report.at[:19]}Z", markup=False)
    console.print(_compliance_table(report))
    for f in report.findings:
        console.print(f"{f.control.id}: {f.explanation}", markup=False, soft_wrap=True)
        for gap in f.gaps:
            console.print(f"  gap: {gap}", markup=False, soft_wrap=True)


GAP_EXIT = 3
"""Exit code of ``compliance --fail-on-gap`` when any control is a gap (a CI gate)."""


@click.command("compliance")
@click.argument("model", required=False)
@click.option("--all", "every", is_flag=True, help="Every model in the registry.")
@click.option("--as-of", default=None, help="A moment: seq:N or an RFC 3339 time.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--fail-on-gap",
    is_flag=True,
    help=f"Exit {GAP_EXIT} when any control is a gap (after printing the report), for CI gates.",
)
@pass_ctx
def compliance_cmd(
    ctx: Context,
    model: str | None,
    every: bool,
    as_of: str | None,
    as_json: bool,
    fail_on_gap: bool,
) -> None:
    """Which regulatory controls MODEL's record holds evidence for, and the gaps.

    EU AI Act Art. 12 and 19/26, SR 11-7 inventory, validation, monitoring and
    change control, ISO/IEC 42001 A.6.2.8 and A.7.5: per control met, partial
    or gap, with the seqs of the events relied on. Verifies the chain first.
    """
    with errors():
        if every and model is not None:
            raise BadRequest("--all: give a MODEL or --all, not both", field="--all")
        if not every and model is None:
            raise BadRequest("MODEL: give a MODEL, or --all for every model", field="MODEL")
        point = parse_point(as_of, "--as-of") if as_of is not None else None
        names = None if every else [model_name(model or "")]
    ledger = ctx.ledger()
    try:
        with errors():
            reports = compliance_reports(ledger, names, now=datetime.now(UTC), as_of=point)
    finally:
        ledger.store.close()
    if as_json:
        echo_json([r.to_json() for r in reports] if every else reports[0].to_json())
    else:
        for index, report in enumerate(reports):
            if index:
                click.echo()
            echo_rendered(partial(_print_report, report=report))
    gaps = [
        f"{r.model} {f.control.id}" for r in reports for f in r.findings if f.status is Status.GAP
    ]
    if fail_on_gap and gaps:
        listed = ", ".join(gaps)
        click.echo(f"error: --fail-on-gap: {len(gaps)} controls are gaps: {listed}", err=True)
        raise SystemExit(GAP_EXIT)
