"""The evaluator: one model's events in, per control a status, its evidence and its gaps out.

Pure: the caller gathers the events (the model, its versions, deployments
and the datasets they were trained on), says whether the chain verified and
what the latest signed checkpoint covers, and names the evaluation time. No
clock is read, so a report "as of" a moment is reproducible.

A status only ever improves as evidence is added (a passing test, an
approval, an alert, a trained_on edge to a registered dataset): every check
counts what is covered, never what is merely present.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger.compliance.controls import CONTROLS, RETENTION_DAYS, Control, Status
from ledger.compliance.facts import Facts, Release, read_facts
from ledger.compliance.report import ComplianceReport, Credential, Evidence, Finding, Integrity
from ledger.errors import InvalidEvent
from ledger.events import Event, normalize_time

__all__ = [
    "APPROVER_ROLE",
    "LOCAL_ACTOR_PREFIX",
    "MONITORING_KINDS",
    "VALIDATION_KINDS",
    "evaluate",
]

APPROVER_ROLE = "approver"
"""The token role whose approvals count as a named authority's (SR 11-7 change control)."""

LOCAL_ACTOR_PREFIX = "local:"
"""Actors of the CLI on the database file: no token, so no role was ever checked."""

VALIDATION_KINDS = frozenset({"evaluation", "fairness"})
"""Test kinds that validate a version (SR 11-7 "evaluation of conceptual soundness")."""

MONITORING_KINDS = frozenset({"shadow", "canary_analysis"})
"""Test kinds run on live traffic in an environment: monitoring evidence."""


def evaluate(
    model: str,
    events: Iterable[Event],
    integrity: Integrity,
    at: str,
    credentials: Mapping[str, Credential] | None = None,
) -> ComplianceReport:
    """Evaluate every control of :data:`CONTROLS` for ``model`` at ledger time ``at``.

    ``events`` are those about the model, its versions and deployments, and
    the registrations of the datasets its versions were trained on, up to the
    moment evaluated; order does not matter. ``credentials`` is the token
    registry by name (the ``actor`` of an event is its token's name): an
    approval counts for change control only when its actor's token has the
    ``approver`` role and was live when the approval was recorded. An actor
    the registry does not hold (tokens of another instance, or None given) is
    taken on the catalogue's word, which admits approvals only from approver
    or admin tokens; a ``local:`` actor (the CLI on the database file, no token)
    never counts.
    """
    facts = read_facts(model, events)
    context = _Context(integrity, at, credentials)
    if integrity.ok:
        findings = tuple(_CHECKS[c.id](c, facts, context) for c in CONTROLS)
    else:  # every control rests on the events, and none of them can be trusted now
        findings = tuple(_chain_gap(c, integrity) for c in CONTROLS)
    return ComplianceReport(
        model, at, facts.registration is not None, bool(facts.retirements), integrity, findings
    )


@dataclass(frozen=True, slots=True)
class _Context:
    integrity: Integrity
    at: str
    credentials: Mapping[str, Credential] | None


Check = Callable[[Control, Facts, _Context], Finding]


def _grade(covered: int, total: int) -> Status:
    if covered == total:
        return Status.MET
    return Status.GAP if covered == 0 else Status.PARTIAL


def _unique(evidence: Iterable[Evidence]) -> tuple[Evidence, ...]:
    seen: dict[int, Evidence] = {}
    for item in evidence:
        seen.setdefault(item.seq, item)
    return tuple(sorted(seen.values(), key=lambda e: e.seq))


def _chain_gap(control: Control, integrity: Integrity) -> Finding:
    return Finding(
        control,
        Status.GAP,
        (),
        f"the hash chain does not verify ({integrity.reason}); no event can be relied on",
        (f"chain broken: {integrity.reason}",),
    )


def _own_events(facts: Facts) -> list[Event]:
    """The events about the model itself, its versions and deployments (not datasets)."""
    name = facts.model
    prefixes = (f"model:{name}@", f"deployment:{name}/")
    return [
        e for e in facts.events if e.subject == f"model:{name}" or e.subject.startswith(prefixes)
    ]


def _logging(control: Control, facts: Facts, context: _Context) -> Finding:
    if not context.integrity.ok:
        return _chain_gap(control, context.integrity)
    if facts.registration is None:
        return Finding(
            control,
            Status.GAP,
            (),
            "no model.registered: the log does not cover the model from its registration",
            ("model.registered missing",),
        )
    evidence = [Evidence.of(facts.registration, "model registered")]
    evidence += [Evidence.of(e, f"{ref} registered") for ref, e in facts.versions.items()]
    unregistered = [ref for ref in facts.mentioned if ref not in facts.versions]
    gaps = tuple(
        f"{ref} appears from seq {facts.mentioned[ref].seq} but was never registered"
        for ref in unregistered
    )
    own = _own_events(facts)
    explanation = (
        f"{len(own)} events from registration (seq {facts.registration.seq}) to seq "
        f"{own[-1].seq}; chain verified over {context.integrity.checked} events"
    )
    status = Status.PARTIAL if gaps else Status.MET
    return Finding(control, status, _unique(evidence), explanation, gaps)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _retention(control: Control, facts: Facts, context: _Context) -> Finding:
    if not context.integrity.ok:
        return _chain_gap(control, context.integrity)
    own = _own_events(facts)
    if facts.registration is None or not own:
        return Finding(
            control,
            Status.GAP,
            (),
            "no model.registered: the ledger cannot show it holds the logs from the start",
            ("model.registered missing",),
        )
    earliest = min(own, key=lambda e: e.recorded_at)
    days = (_time(context.at) - _time(earliest.recorded_at)).days
    evidence = (Evidence.of(earliest, "earliest event held"),)
    held = (
        f"held since {earliest.recorded_at[:10]} (seq {earliest.seq}), {days} days; the ledger "
        "has no retention setting and never deletes (append-only, chain verified)"
    )
    if days >= RETENTION_DAYS:
        return Finding(control, Status.MET, evidence, held)
    due = (_time(earliest.recorded_at) + timedelta(days=RETENTION_DAYS)).date().isoformat()
    return Finding(
        control,
        Status.PARTIAL,
        evidence,
        f"{held}; six months of retention can only be shown from {due}",
        (f"only {days} of {RETENTION_DAYS} days held so far",),
    )


def _inventory(control: Control, facts: Facts, context: _Context) -> Finding:
    reg = facts.registration
    if reg is None:
        return Finding(
            control, Status.GAP, (), "not in the inventory: no model.registered", ("unregistered",)
        )
    data = facts.payload(reg)
    missing = tuple(f"{key} missing" for key in ("owner", "risk_tier") if not data.get(key))
    evidence = [Evidence.of(reg, "registered")]
    evidence += [Evidence.of(e, "retirement recorded") for e in facts.retirements]
    state = "retired, kept in the inventory" if facts.retirements else "active"
    explanation = (
        f"owner {data.get('owner')}, {data.get('risk_tier')} risk, {len(facts.versions)} "
        f"registered versions; {state}"
    )
    return Finding(
        control, Status.PARTIAL if missing else Status.MET, _unique(evidence), explanation, missing
    )


def _per_item(
    control: Control,
    items: Sequence[tuple[str, list[Evidence]]],
    none_yet: str,
    what: str,
) -> Finding:
    """Grade items each covered (non-empty evidence) or not; ``what`` names the cover."""
    gaps = tuple(label for label, found in items if not found)
    covered = len(items) - len(gaps)
    evidence = _unique(e for _, found in items for e in found)
    if not items:
        return Finding(control, Status.MET, (), none_yet)
    explanation = f"{covered} of {len(items)} {what}"
    return Finding(control, _grade(covered, len(items)), evidence, explanation, gaps)


def _release_label(release: Release) -> str:
    how = f"promoted at seq {release.seq}" if release.decision else f"live at seq {release.seq}"
    return f"{release.version} in {release.environment} ({how})"


def _validation(control: Control, facts: Facts, context: _Context) -> Finding:
    items: list[tuple[str, list[Evidence]]] = []
    for release in facts.releases:
        latest: dict[tuple[object, object], Event] = {}
        for test in facts.tests:
            data = facts.payload(test)
            kind = data.get("kind")
            if (
                test.subject == release.version
                and test.seq < release.seq
                and kind in VALIDATION_KINDS
            ):
                latest[(data.get("kind"), data.get("suite"))] = test
        passing = all(facts.payload(t).get("passed") is True for t in latest.values())
        found = (
            [Evidence.of(t, "passed before release") for t in latest.values()] if passing else []
        )
        items.append((f"{_release_label(release)}: no passing evaluation before it", found))
    return _per_item(
        control, items, "no release to a production environment yet", "releases validated first"
    )


def _monitoring(control: Control, facts: Facts, context: _Context) -> Finding:
    items: list[tuple[str, list[Evidence]]] = []
    for (version, env), first in facts.served.items():
        deployment = f"deployment:{facts.model}/{env}"
        found = []
        for event in facts.monitoring:
            data = facts.payload(event)
            named = data.get("version")
            # An alert naming no version watches whatever served then: it covers
            # this version only from the moment the version served.
            if event.subject == deployment and (
                named == version or (named is None and event.seq >= first.seq)
            ):
                found.append(Evidence.of(event, "monitor on the deployment"))
        for test in facts.tests:
            data = facts.payload(test)
            kind = data.get("kind")
            if (
                test.subject == version
                and data.get("environment") == env
                and kind in MONITORING_KINDS
            ):
                found.append(Evidence.of(test, f"{kind} on live traffic"))
        items.append((f"{version} served {env} from seq {first.seq} unmonitored", found))
    return _per_item(
        control, items, "no version has served production traffic yet", "served versions monitored"
    )


def _time_or_none(text: object) -> str | None:
    try:
        return normalize_time(text, field="expires_at")
    except InvalidEvent:
        return None


def _not_counted(
    facts: Facts, approval: Event, decision: Event, credentials: Mapping[str, Credential] | None
) -> str | None:
    """Why ``approval`` does not authorise ``decision`` (None: it does)."""
    revoked = facts.revocations.get(approval.seq)
    if revoked is not None and revoked.seq < decision.seq:
        return f"revoked at seq {revoked.seq}"
    expires = facts.payload(approval).get("expires_at")
    if expires is not None:
        until = _time_or_none(expires)
        if until is None or until <= decision.recorded_at:
            return f"expired at {expires}"
    actor = approval.actor
    if actor.startswith(LOCAL_ACTOR_PREFIX):
        return f"by {actor}, a local caller with no token, so no approver role"
    credential = credentials.get(actor) if credentials is not None else None
    if credential is None:
        return None  # not in this registry: the catalogue admitted it only from approvers/admins
    if credential.role != APPROVER_ROLE:
        return f"by {actor}, whose token role is {credential.role}, not {APPROVER_ROLE}"
    if not credential.live_at(approval.recorded_at):
        return f"by {actor}, whose token was not live when it was recorded"
    return None


def _approvals_for(
    facts: Facts, release: Release, decision: Event, credentials: Mapping[str, Credential] | None
) -> tuple[list[Event], list[str]]:
    """The approvals that authorise ``decision``, and why the others granted before it do not."""
    counted: list[Event] = []
    ignored: list[str] = []
    for approval in facts.approvals:
        data = facts.payload(approval)
        if (
            approval.subject != release.version
            or data.get("environment") != release.environment
            or approval.seq > decision.seq
        ):
            continue
        why = _not_counted(facts, approval, decision, credentials)
        if why is None:
            counted.append(approval)
        else:
            ignored.append(f"seq {approval.seq} {why}")
    return counted, ignored


def _change_control(control: Control, facts: Facts, context: _Context) -> Finding:
    items: list[tuple[str, list[Evidence]]] = []
    for release in facts.releases:
        label = _release_label(release)
        decision = release.decision
        if decision is None:
            items.append((f"{label}: no deployment.decided", []))
            continue
        approvals, ignored = _approvals_for(facts, release, decision, context.credentials)
        found = [Evidence.of(decision, f"promote decided by {decision.actor}")] if approvals else []
        for approval in approvals:
            role = facts.payload(approval).get("approver_role")
            found.append(Evidence.of(approval, f"approved by {approval.actor} as {role}"))
        why = f" (not counted: {'; '.join(ignored)})" if ignored else ""
        items.append((f"{label}: no approval before the decision{why}", found))
    finding = _per_item(
        control, items, "no release to a production environment yet", "releases approved"
    )
    if not facts.denials:
        return finding
    # Refusals show the control operating: they are evidence, never a gap.
    refused = [Evidence.of(d, "release refused by the rollout policy") for d in facts.denials]
    return Finding(
        control,
        finding.status,
        _unique([*finding.evidence, *refused]),
        f"{finding.explanation}; {len(refused)} attempt(s) refused by the policy",
        finding.gaps,
    )


def _event_logs(control: Control, facts: Facts, context: _Context) -> Finding:
    if not context.integrity.ok:
        return _chain_gap(control, context.integrity)
    own = _own_events(facts)
    if not own:
        return Finding(control, Status.GAP, (), "no event about the model", ("no events",))
    last = own[-1]
    evidence = (Evidence.of(own[0], "first event"), Evidence.of(last, "latest event"))
    logged = f"{len(own)} events hash-chained and verified"
    signed = context.integrity.signed_size
    if signed is not None and signed >= last.seq:
        return Finding(
            control,
            Status.MET,
            evidence,
            f"{logged}; signed checkpoint of size {signed} covers them",
        )
    gap = (
        "no signed checkpoint"
        if signed is None
        else f"events after seq {signed} not yet in a signed checkpoint"
    )
    return Finding(control, Status.PARTIAL, evidence, f"{logged}; {gap}", (gap,))


def _provenance(control: Control, facts: Facts, context: _Context) -> Finding:
    items: list[tuple[str, list[Evidence]]] = []
    for version in dict.fromkeys(v for v, _ in facts.served):
        edges = facts.trained_on.get(version, [])
        found = [Evidence.of(e, f"trained_on {t}") for t, e in edges]
        missing = []
        for target, _ in edges:
            registered = facts.datasets.get(target)
            digest = facts.payload(registered).get("digest") if registered else None
            if registered is not None and digest:
                found.append(Evidence.of(registered, f"{target} digest {digest}"))
            else:
                missing.append(target)
        ok = bool(edges) and not missing
        why = f"trained on unregistered {', '.join(missing)}" if missing else "no trained_on"
        items.append((f"{version}: {why}", found if ok else []))
    return _per_item(
        control, items, "no version has served production traffic yet", "served versions traced"
    )


_CHECKS: dict[str, Check] = {
    "eu-ai-act-art12": _logging,
    "eu-ai-act-art19-26": _retention,
    "sr11-7-inventory": _inventory,
    "sr11-7-validation": _validation,
    "sr11-7-monitoring": _monitoring,
    "sr11-7-change-control": _change_control,
    "iso42001-a6.2.8": _event_logs,
    "iso42001-a7.5": _provenance,
}
