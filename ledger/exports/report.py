"""The human-readable report of an audit bundle, in Markdown and HTML.

Rendered from the same values the bundle's evidence files hold; the report
itself proves nothing (it is not signed), it tells the reader what is inside
and how to check it. Pure: the creation time arrives as an argument.
"""

from __future__ import annotations

import html
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.events import Event
from ledger.exports.lineage_formats import to_mermaid
from ledger.projections.base import Edge
from ledger.projections.summary import summarize

__all__ = [
    "ReportInput",
    "report_html",
    "report_markdown",
    "verify_command",
    "verify_instructions",
]


@dataclass(frozen=True, slots=True)
class ReportInput:
    """What the report shows.

    Attributes:
        scope: ``model:NAME`` or ``incident:ID``.
        events: the bundled events, in seq order.
        origin, tree_size, root_hex: the signed checkpoint the proofs are against.
        key: the verifier key string the bundle carries.
        nodes, edges: the lineage around the scope, as of the checkpoint.
        bundle: the bundle's name as its reader will type it (directory or zip).
        created_at: when the checkpoint was signed (RFC 3339 UTC).
        files: the bundle's optional files (``lineage.mmd``, ``provenance.json``).
    """

    scope: str
    events: Sequence[Event]
    origin: str
    tree_size: int
    root_hex: str
    key: str
    nodes: Sequence[str]
    edges: Sequence[Edge]
    bundle: str
    created_at: str
    files: Sequence[str] = ()


_OPTIONAL = {
    "lineage.mmd": "the lineage below, as Mermaid",
    "provenance.json": "the model's W3C PROV-JSON provenance, built from these events",
}


def verify_command(bundle: str) -> str:
    """The command that verifies ``bundle`` against a key the reader trusts.

    The name is shell-quoted when it needs to be, so the line can be pasted
    as it stands whatever the directory is called.
    """
    return f"rollout-ledger verify-bundle {shlex.quote(bundle)} --public-key trusted-key.txt"


# What lets text become markup in CommonMark/GFM inline content: code spans,
# emphasis, links and images, raw HTML and autolinks, entities, strikethrough,
# and table cell breaks. Each is backslash-escaped (CommonMark 2.4), so event
# data a pipeline wrote reads as the text it is, never as a link or HTML.
_MD_SPECIAL = re.compile(r"[\\`*_\[\]<>&|~]")
_MD_SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _md_text(text: str) -> str:
    """``text`` as inline Markdown that renders as exactly that text, on one line."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(), _MD_SPACE.sub(" ", text))


def _md_code(text: str) -> str:
    """``text`` as one code span: a fence longer than any run of backticks inside."""
    text = _MD_SPACE.sub(" ", text)
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _trust_note(key: str) -> list[str]:
    return [
        f"The bundle carries the ledger's verifier key (`verifier-key.txt`): {_md_code(key)}.",
        "Checked against that key, the bundle proves only that it is self-consistent:",
        "whoever made the bundle could have made the key too. Obtain the key from the",
        "ledger's operator through another channel and pin it with `--public-key`.",
    ]


def report_markdown(r: ReportInput) -> str:
    """The report as Markdown (GitHub flavour; the lineage as a Mermaid block)."""
    lines = [
        f"# Audit bundle: {_md_text(r.scope)}",
        "",
        f"Checkpoint signed {_md_text(r.created_at)} by ledger {_md_code(r.origin)}. "
        f"It holds {len(r.events)} events "
        f"about {_md_code(r.scope)} and the entities linked to it, each with an inclusion proof "
        f"against one signed checkpoint (tree size {r.tree_size}, root `{r.root_hex}`).",
        "",
        "## What is inside",
        "",
        "| file | what |",
        "| --- | --- |",
        "| `events.jsonl` | the events, one canonical JSON line each, as the ledger stores them |",
        "| `proofs.json` | an RFC 9162 inclusion proof per event, at the checkpoint's tree size |",
        "| `checkpoint.txt` | the signed checkpoint (C2SP signed note, Ed25519) |",
        "| `verifier-key.txt` | the ledger's verifier key |",
        "| `report.md`, `report.html` | this report (not evidence: nothing here is signed) |",
        *(f"| `{name}` | {_OPTIONAL.get(name, '')} |" for name in r.files),
        "| `VERIFY.txt` | the command that verifies the bundle |",
        "",
        "## How to verify",
        "",
        "Offline, with no database and no network:",
        "",
        "```sh",
        verify_command(r.bundle),
        "```",
        "",
        "It checks the checkpoint's signature, that every event's hash matches its",
        "content, and that every inclusion proof leads from the event to the signed root.",
        "It proves each event is in the signed ledger; it does not prove that no other",
        "event exists (for that, verify a whole export with `rollout-ledger verify-export`).",
        "",
        *_trust_note(r.key),
        "",
        "## Timeline",
        "",
        "| seq | recorded at | type | subject | actor | hash | summary |",
        "| ---: | --- | --- | --- | --- | --- | --- |",
    ]
    for e in r.events:
        cells = [
            str(e.seq),
            _md_text(e.recorded_at),
            _md_text(e.type),
            _md_text(e.subject),
            _md_text(e.actor),
            f"`{e.hash[:12]}…`",
            _md_text(summarize(e.type, e.data)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Lineage", "", "```mermaid", to_mermaid(r.nodes, r.edges).rstrip(), "```", ""]
    return "\n".join(lines)


def report_html(r: ReportInput) -> str:
    """The report as one self-contained HTML page (no scripts, no external files)."""
    esc = html.escape
    rows = "\n".join(
        "<tr>"
        + "".join(
            f"<td>{esc(cell)}</td>"
            for cell in (
                str(e.seq),
                e.recorded_at,
                e.type,
                e.subject,
                e.actor,
                e.hash,
                summarize(e.type, e.data),
            )
        )
        + "</tr>"
        for e in r.events
    )
    edges = "\n".join(
        f"<tr><td>{esc(e.source)}</td><td>{esc(e.relation)}</td><td>{esc(e.target)}</td>"
        f"<td>{e.seq}</td></tr>"
        for e in r.edges
    )
    trust = esc(" ".join(_trust_note(r.key)).replace("`", ""))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Audit bundle: {esc(r.scope)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 0.2rem 0.4rem; vertical-align: top; }}
code, pre, td:nth-child(6) {{ font-family: ui-monospace, monospace; }}
</style>
</head>
<body>
<h1>Audit bundle: {esc(r.scope)}</h1>
<p>Checkpoint signed {esc(r.created_at)} by ledger <code>{esc(r.origin)}</code>. It holds
{len(r.events)} events, each with an inclusion proof against one signed checkpoint
(tree size {r.tree_size}, root <code>{esc(r.root_hex)}</code>).</p>
<h2>How to verify</h2>
<pre>{esc(verify_command(r.bundle))}</pre>
<p>It checks the checkpoint's signature, every event's hash and every inclusion proof,
offline. It proves each event is in the signed ledger, not that no other event exists.</p>
<p>{trust}</p>
<h2>Timeline</h2>
<table>
<tr><th>seq</th><th>recorded at</th><th>type</th><th>subject</th><th>actor</th><th>hash</th>
<th>summary</th></tr>
{rows}
</table>
<h2>Lineage</h2>
<table>
<tr><th>source</th><th>relation</th><th>target</th><th>seq</th></tr>
{edges}
</table>
</body>
</html>
"""


def verify_instructions(bundle: str, key: str) -> str:
    """``VERIFY.txt``: the exact command, and which key to give it."""
    return f"""Verify this bundle offline (no database, no network needed):

    {verify_command(bundle)}

(run it beside the bundle; it works the same on the bundle's zip.)
trusted-key.txt must hold the ledger's verifier key as you obtained it from
the ledger's operator yourself, not from this bundle. This bundle was made
with the key

    {key}

Without --public-key, verify-bundle uses the bundle's own verifier-key.txt;
that proves only that the bundle is self-consistent, since whoever made the
bundle could have made that key too.

Exit status 0 means: the checkpoint is signed by the key, every event's hash
matches its content, and every event is included in the signed tree.
"""
