"""What a model's events say, read once: registration, versions, releases, what served where.

A *release* is a version entering a production environment: a
``deployment.decided`` promote, or, when no promote preceded it, the first
stage that gave the version live traffic there (a release nobody decided,
such as a deployment backfilled into the ledger). The controls that judge
releases (validation, change control) and served versions (monitoring,
provenance) read these facts, never the raw log again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ledger.events import Event

__all__ = ["Facts", "Release", "is_production", "read_facts"]


def is_production(environment: str) -> bool:
    """Whether ``environment`` carries production traffic: ``prod``, ``prod-eu``, ``eu-prod``.

    Staging and test environments are left out: the frameworks ask about
    systems in use, and their rollouts need no approval.
    """
    parts = environment.split("-")
    return "prod" in parts or "production" in parts


@dataclass(frozen=True, slots=True)
class Release:
    """A version entering a production environment; ``decision`` None when nobody decided it."""

    version: str
    environment: str
    seq: int
    decision: Event | None
    traffic: Event | None


@dataclass(slots=True)
class Facts:
    """The model's record, sorted out by what the controls ask."""

    model: str
    events: list[Event]
    registration: Event | None = None
    retirements: list[Event] = field(default_factory=list)  # model.retired: the model is out
    withdrawals: list[Event] = field(default_factory=list)  # retire decisions: one version, one env
    versions: dict[str, Event] = field(default_factory=dict)  # ref -> its registration
    mentioned: dict[str, Event] = field(default_factory=dict)  # ref -> first event naming it
    releases: list[Release] = field(default_factory=list)
    served: dict[tuple[str, str], Event] = field(default_factory=dict)  # first live traffic
    tests: list[Event] = field(default_factory=list)
    approvals: list[Event] = field(default_factory=list)
    revocations: dict[int, Event] = field(default_factory=dict)  # approval seq -> revoked by
    monitoring: list[Event] = field(default_factory=list)  # alerts and stages with criteria
    denials: list[Event] = field(default_factory=list)
    trained_on: dict[str, list[tuple[str, Event]]] = field(default_factory=dict)
    datasets: dict[str, Event] = field(default_factory=dict)  # dataset@version -> registration
    payloads: dict[int, Mapping[str, object]] = field(default_factory=dict)

    def payload(self, event: Event) -> Mapping[str, object]:
        """``event.data`` as a mapping, parsed once (``Event.data`` re-parses the body)."""
        found = self.payloads.get(event.seq)
        if found is None:
            data = event.data
            found = self.payloads[event.seq] = data if isinstance(data, dict) else {}
        return found


def _text(data: Mapping[str, object], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _deployment_env(model: str, subject: str) -> str | None:
    prefix = f"deployment:{model}/"
    return subject[len(prefix) :] if subject.startswith(prefix) else None


def _version_of(model: str, subject: str) -> str | None:
    return subject if subject.startswith(f"model:{model}@") else None


def read_facts(model: str, events: Iterable[Event]) -> Facts:
    """Sort ``events`` (about the model, its versions, deployments and datasets) into facts."""
    ordered = sorted(events, key=lambda e: e.seq)
    facts = Facts(model, ordered)
    decided: set[tuple[str, str]] = set()
    for event in ordered:
        version = _version_of(model, event.subject)
        env = _deployment_env(model, event.subject)
        if version is not None:
            facts.mentioned.setdefault(version, event)
        _read_one(facts, event, version, env, decided)
    return facts


def _read_one(
    facts: Facts, event: Event, version: str | None, env: str | None, decided: set[tuple[str, str]]
) -> None:
    kind = event.type
    if kind == "model.registered" and event.subject == f"model:{facts.model}":
        facts.registration = facts.registration or event
    elif kind == "model.retired" and event.subject == f"model:{facts.model}":
        facts.retirements.append(event)
    elif kind == "dataset.version.registered":
        facts.datasets.setdefault(event.subject, event)
    elif version is not None:
        _read_version_event(facts, event, version, decided)
    elif env is not None:
        _read_deployment_event(facts, event, env, decided)


def _read_version_event(
    facts: Facts, event: Event, version: str, decided: set[tuple[str, str]]
) -> None:
    kind = event.type
    data = facts.payload(event)
    if kind == "model.version.registered":
        facts.versions.setdefault(version, event)
        trained_on = data.get("trained_on")
        for target in trained_on if isinstance(trained_on, list) else []:
            if isinstance(target, str):
                facts.trained_on.setdefault(version, []).append((target, event))
    elif kind == "lineage.edge.recorded" and data.get("relation") == "trained_on":
        target = _text(data, "target")
        if target is not None:
            facts.trained_on.setdefault(version, []).append((target, event))
    elif kind == "test.result.recorded":
        facts.tests.append(event)
    elif kind == "approval.granted":
        facts.approvals.append(event)
    elif kind == "approval.revoked":
        approval_seq = data.get("approval_seq")
        if isinstance(approval_seq, int):
            facts.revocations.setdefault(approval_seq, event)
    elif kind == "policy.denied":
        facts.denials.append(event)
    elif kind == "deployment.decided":
        env = _text(data, "environment") or ""
        decision = _text(data, "decision")
        if decision == "retire":
            # Retires one version in one environment; the model lives on
            # (only model.retired takes the model out of service).
            facts.withdrawals.append(event)
        elif decision == "promote" and is_production(env):
            facts.releases.append(Release(version, env, event.seq, event, None))
            decided.add((version, env))


def _read_deployment_event(
    facts: Facts, event: Event, env: str, decided: set[tuple[str, str]]
) -> None:
    if event.type == "alert.raised":
        facts.monitoring.append(event)
        return
    if event.type != "rollout.stage.changed":
        return
    data = facts.payload(event)
    version = _text(data, "version")
    if version is None or _version_of(facts.model, version) is None:
        return
    facts.mentioned.setdefault(version, event)
    if data.get("exit_criteria"):
        facts.monitoring.append(event)
    exposure = data.get("exposure_percent")
    live = isinstance(exposure, int | float) and exposure > 0
    if not live or not is_production(env) or (version, env) in facts.served:
        return
    facts.served[(version, env)] = event
    if (version, env) not in decided:
        facts.releases.append(Release(version, env, event.seq, None, event))
