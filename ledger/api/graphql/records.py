"""The entries of registry documents as GraphQL types: tests, approvals, decisions, stages …

Each entry of a version or deployment document names the event that wrote it
(``seq``, ``hash``, ``time`` = its ``recorded_at``), so every one implements
``Recorded``: a reviewer can fetch that event or prove it with
``inclusionProof(seq)``. Documents are read defensively: a missing or
mistyped value becomes null, never an error.
"""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict, cast

import strawberry
from strawberry.scalars import JSON

__all__ = [
    "Approval",
    "Decision",
    "Denial",
    "Entry",
    "EvidenceRef",
    "Recorded",
    "Stage",
    "TestResult",
    "VersionRollback",
    "as_bool",
    "as_float",
    "as_int",
    "as_json",
    "as_str",
    "dicts",
    "recorded",
    "strings",
]

Entry = Mapping[str, object]


def as_str(entry: Entry, key: str) -> str | None:
    value = entry.get(key)
    return value if isinstance(value, str) else None


def as_int(entry: Entry, key: str) -> int | None:
    value = entry.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_float(entry: Entry, key: str) -> float | None:
    value = entry.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def as_bool(entry: Entry, key: str) -> bool | None:
    value = entry.get(key)
    return value if isinstance(value, bool) else None


def dicts(value: object) -> list[Entry]:
    """The dict items of a list value ([] for anything else)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def strings(value: object) -> list[str]:
    """The string items of a list value ([] for anything else)."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def as_json(entry: Entry, key: str, default: object = None) -> JSON:
    """A document value passed through as JSON (``default`` when missing or null)."""
    value = entry.get(key)
    return cast(JSON, default if value is None else value)


class RecordedFields(TypedDict):
    seq: int
    hash: str
    time: str


def recorded(entry: Entry) -> RecordedFields:
    """The ``seq``, ``hash`` and ``time`` of an entry (0 and "" when missing)."""
    return {
        "seq": as_int(entry, "seq") or 0,
        "hash": as_str(entry, "hash") or "",
        "time": as_str(entry, "time") or "",
    }


@strawberry.interface(description="Written by one event: its seq, hash and `recorded_at`.")
class Recorded:
    seq: int
    hash: str
    time: str


@strawberry.type(description="An event relied on as evidence, by seq and/or hash.")
class EvidenceRef:
    seq: int | None
    hash: str | None
    note: str | None

    @classmethod
    def all_of(cls, value: object) -> list[EvidenceRef]:
        return [
            cls(seq=as_int(e, "seq"), hash=as_str(e, "hash"), note=as_str(e, "note"))
            for e in dicts(value)
        ]


@strawberry.type(description="The latest result of one test suite (kind, suite, environment).")
class TestResult(Recorded):
    __test__ = False  # not a pytest class

    suite: str | None
    kind: str | None
    passed: bool | None
    metrics: JSON | None
    environment: str | None
    evaluated_on: str | None
    run: str | None

    @classmethod
    def of(cls, e: Entry) -> TestResult:
        return cls(
            **recorded(e),
            suite=as_str(e, "suite"),
            kind=as_str(e, "kind"),
            passed=as_bool(e, "passed"),
            metrics=as_json(e, "metrics"),
            environment=as_str(e, "environment"),
            evaluated_on=as_str(e, "evaluated_on"),
            run=as_str(e, "run"),
        )


@strawberry.type(description="An approval (`approval.granted`), revoked or not.")
class Approval(Recorded):
    actor: str | None = strawberry.field(description="Who approved (the token name).")
    role: str | None = strawberry.field(description="The capacity they approved in.")
    environment: str | None
    expires_at: str | None
    evidence: list[EvidenceRef]
    revoked: bool
    revoked_seq: int | None
    revoked_by: str | None

    @classmethod
    def of(cls, e: Entry) -> Approval:
        return cls(
            **recorded(e),
            actor=as_str(e, "actor"),
            role=as_str(e, "role"),
            environment=as_str(e, "environment"),
            expires_at=as_str(e, "expires_at"),
            evidence=EvidenceRef.all_of(e.get("evidence")),
            revoked=bool(as_bool(e, "revoked")),
            revoked_seq=as_int(e, "revoked_seq"),
            revoked_by=as_str(e, "revoked_by"),
        )


@strawberry.type(description="A deployment decision (`deployment.decided`).")
class Decision(Recorded):
    actor: str | None
    environment: str | None
    decision: str | None
    target_exposure: float | None
    strategy: str | None
    evidence: list[EvidenceRef]

    @classmethod
    def of(cls, e: Entry) -> Decision:
        return cls(
            **recorded(e),
            actor=as_str(e, "actor"),
            environment=as_str(e, "environment"),
            decision=as_str(e, "decision"),
            target_exposure=as_float(e, "target_exposure"),
            strategy=as_str(e, "strategy"),
            evidence=EvidenceRef.all_of(e.get("evidence")),
        )


@strawberry.type(description="A rollout stage of this version (`rollout.stage.changed`).")
class Stage(Recorded):
    environment: str | None
    strategy: str | None
    exposure: float | None
    expires_at: str | None

    @classmethod
    def of(cls, e: Entry) -> Stage:
        return cls(
            **recorded(e),
            environment=as_str(e, "environment"),
            strategy=as_str(e, "strategy"),
            exposure=as_float(e, "exposure"),
            expires_at=as_str(e, "expires_at"),
        )


@strawberry.type(description="A rollback this version took part in, as `from` or `to`.")
class VersionRollback(Recorded):
    environment: str | None
    role: str | None = strawberry.field(description="`from` or `to`.")
    from_version: str | None
    to_version: str | None

    @classmethod
    def of(cls, e: Entry) -> VersionRollback:
        return cls(
            **recorded(e),
            environment=as_str(e, "environment"),
            role=as_str(e, "role"),
            from_version=as_str(e, "from_version"),
            to_version=as_str(e, "to_version"),
        )


@strawberry.type(description="An attempt the rollout policy refused (`policy.denied`).")
class Denial(Recorded):
    draft_type: str | None
    actor: str | None
    unmet: list[str]
    environment: str | None
    policy: str | None
    policy_version: int | None

    @classmethod
    def of(cls, e: Entry) -> Denial:
        return cls(
            **recorded(e),
            draft_type=as_str(e, "draft_type"),
            actor=as_str(e, "actor"),
            unmet=strings(e.get("unmet")),
            environment=as_str(e, "environment"),
            policy=as_str(e, "policy"),
            policy_version=as_int(e, "policy_version"),
        )
