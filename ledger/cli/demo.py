"""``rollout-ledger demo``: load the story of ledger.demo through the pipeline append path."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import click

from ledger.canonical import parse_json
from ledger.cli._common import Context, errors, pass_ctx
from ledger.demo import (
    DENIED_KEY,
    FIRST_KEY,
    INCIDENT,
    MODELS,
    Step,
    draft_id,
    resolve,
    start_for,
    story,
)
from ledger.errors import BadRequest, LedgerError, NotFound, PolicyDenied
from ledger.events import Event, format_time
from ledger.keys import load_signer
from ledger.schema_files import load_catalogue
from ledger.service import Ledger, system_clock
from ledger.store.protocol import EventStore

__all__ = ["COMMANDS", "demo"]

_DENIAL_SCAN = 1000
"""Most events looked at when searching for the recorded denial of a rerun."""


class _SimClock:
    """The story's clock: the current step's moment, or the wall clock when unset."""

    def __init__(self) -> None:
        self.now: datetime | None = None

    def __call__(self) -> datetime:
        return self.now if self.now is not None else system_clock()


@dataclass
class _Outcome:
    """What loading the story did."""

    appended: int = 0
    total: int = 0
    known: dict[str, tuple[int, str]] = field(default_factory=dict)
    denial: Event | None = None
    principals: set[str] = field(default_factory=set)


def _find_denial(store: EventStore, after: int, story_ids: set[str]) -> Event | None:
    """The ``policy.denied`` of the story's refused draft, recorded after seq ``after``."""
    wanted = draft_id(DENIED_KEY)
    for index, event in enumerate(store.read(after + 1)):
        if event.type == "policy.denied":
            data = event.data
            if isinstance(data, dict) and data.get("draft_id") == wanted:
                return event
        if event.id in story_ids or index >= _DENIAL_SCAN:
            return None  # the story went on without it
    return None


def _load(ledger: Ledger, clock: _SimClock, steps: Sequence[Step]) -> _Outcome:
    """Append every step as its principal, on the simulated clock; skip what is already in."""
    store = ledger.store
    head = store.head()
    last = store.get(head.seq) if head.seq else None
    last_time = last.recorded_at if last is not None else None
    story_ids = {draft_id(spec.key) for step in steps for spec in step.drafts}
    out = _Outcome(total=sum(len(step.drafts) for step in steps))
    last_seq = 0
    for step in steps:
        out.principals.add(step.principal)
        drafts = resolve(step, out.known)
        if step.expect_denied:
            out.denial = _find_denial(store, last_seq, story_ids)
            if out.denial is not None:
                last_seq = out.denial.seq
                continue
        fresh = any(store.get_by_id(d.id) is None for d in drafts if d.id is not None)
        if fresh and last_time is not None and format_time(step.at) < last_time:
            raise BadRequest(
                f"demo back-dates its story to {format_time(steps[0].at)}, but this ledger's "
                f"last event was recorded at {last_time}; load the demo into a fresh ledger"
            )
        clock.now = step.at
        try:
            acks = ledger.append(drafts, step.principal, role=step.role)
        except PolicyDenied:
            if not step.expect_denied:
                raise
            out.denial = _find_denial(store, last_seq, story_ids)
            if out.denial is None:
                raise NotFound(
                    "the policy refused the demo's promotion but recorded no denial"
                ) from None
            out.appended += 1
            last_seq, last_time = out.denial.seq, out.denial.recorded_at
            continue
        if step.expect_denied:
            raise LedgerError(
                f"demo step {step.name}: the rollout policy accepted a promotion it must refuse"
            )
        for spec, ack in zip(step.drafts, acks, strict=True):
            out.known[spec.key] = (ack.seq, ack.hash)
        out.appended += sum(ack.created for ack in acks)
        last_seq = max(ack.seq for ack in acks)
        if fresh:
            last_time = format_time(step.at)
    clock.now = None
    return out


def _model_lines(store: EventStore) -> list[str]:
    """One line per story model: each version's status and exposure in prod, from the registry."""
    with store.transaction() as tx:
        raw = tx.get_docs([f"model:{name}" for name in MODELS])
    lines = []
    for name in MODELS:
        doc = parse_json(raw[f"model:{name}"]) if f"model:{name}" in raw else None
        if not isinstance(doc, dict):
            continue
        states = []
        for entry in doc.get("versions") or []:
            prod = (entry.get("status") or {}).get("prod")
            if isinstance(prod, dict):
                exposure = prod.get("exposure") or 0
                shown = f" {exposure:g}%" if prod.get("status") in ("canary", "production") else ""
                states.append(f"{entry.get('version')} {prod.get('status')}{shown}")
        lines.append(f"  {name} ({doc.get('risk_tier')} risk): prod " + ", ".join(states))
    return lines


def _seqs(known: dict[str, tuple[int, str]], keys: Iterable[str]) -> list[str]:
    return [f"seq {known[k][0]}" if k in known else "not loaded" for k in keys]


@click.command()
@pass_ctx
def demo(ctx: Context) -> None:
    """Load a realistic multi-model rollout story into an initialised ledger.

    Run `rollout-ledger init` first: demo does not create the ledger or its
    key. About 13 days of history, ending a few minutes before now, are
    appended on a simulated clock through the same checks a pipeline's appends
    get (catalogue, token role of each principal, rollout policy): three models
    of low, high and critical risk, their datasets, lineage, tests, approvals,
    a shadow -> canary 5% -> 25% -> full rollout, a promotion the policy refuses
    for missing fairness evidence (kept as a policy.denied event), an incident,
    its rollback, verification and review, and a retraining.

    The ledger must be empty, or hold only events recorded before the story
    starts. Running demo again appends nothing. Ends with a signed checkpoint
    when the ledger has a signing key.
    """
    store = ctx.open()
    try:
        _run(ctx, store)
    finally:
        store.close()


def _run(ctx: Context, store: EventStore) -> None:
    with errors():
        origin = store.get_meta("origin")
        if origin is None:
            raise NotFound(f"{ctx.db} is not initialised; run `rollout-ledger init` first")
        signer = load_signer(ctx.key_dir, required=False)
        clock = _SimClock()
        ledger = Ledger(
            store, clock=clock, signer=signer, origin=origin, catalogue=load_catalogue()
        )
        first = store.get_by_id(draft_id(FIRST_KEY))
        start = datetime.fromisoformat(first.occurred_at) if first else start_for(system_clock())
        steps = story(start)
        out = _load(ledger, clock, steps)
        lines = _model_lines(store)
    if out.appended:
        click.echo(
            f"demo: appended {out.appended} events as {len(out.principals)} principals, "
            f"{format_time(steps[0].at)[:16]}Z to {format_time(steps[-1].at)[:16]}Z"
        )
    else:
        click.echo(f"demo: already loaded; nothing new appended ({out.total} story events)")
    click.echo("models:")
    click.echo("\n".join(lines))
    denial = out.denial
    if denial is not None:
        data = denial.data
        unmet = data.get("unmet") if isinstance(data, dict) else None
        click.echo(
            f"denied as expected and recorded (policy.denied, seq {denial.seq}): "
            f"promote of {denial.subject} in prod: " + "; ".join(str(u) for u in unmet or [])
        )
    keys = (
        "recs-error-alert",
        "recs-rollback",
        "recs-rollback-verified",
        "recs-review",
        "recs-retrain",
    )
    alert, rollback, verified, review, retrain = _seqs(out.known, keys)
    click.echo(
        f"incident: {INCIDENT}: product-recommender 2.4.0 canary error rate 7.1% crossed the "
        f"5% rollback threshold ({alert}); rolled back to 2.3.0 ({rollback}), verified "
        f"({verified}), reviewed ({review}), retraining triggered ({retrain})"
    )
    if signer is None:
        click.echo(f"no signing key in {ctx.key_dir}: no checkpoint signed")
        return
    with errors():
        note = ledger.checkpoint()
    click.echo("checkpoint:")
    click.echo(note, nl=False)


COMMANDS = [demo]
