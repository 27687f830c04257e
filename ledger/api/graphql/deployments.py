"""Deployments: what runs where now, and what served an environment at any past moment.

A deployment is a model in one environment (``deployment:<model>/<env>``).
Its document holds the rollout state now; the status intervals answer "which
versions served env E at time T" (``servingAt``, ``serving(asOf)``) without
replaying the log.
"""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry.scalars import JSON

from ledger.api.graphql.asof import AsOf, check_ref, point_of
from ledger.api.graphql.context import Info
from ledger.api.graphql.events import check_first
from ledger.api.graphql.loaders import (
    Doc,
    Interval,
    deployment_docs_now,
    intervals,
    load_doc,
    load_docs,
    reader,
)
from ledger.api.graphql.permissions import CanRead
from ledger.api.graphql.records import (
    Entry,
    Recorded,
    as_bool,
    as_float,
    as_int,
    as_json,
    as_str,
    dicts,
    recorded,
)
from ledger.api.graphql.versions import ModelVersion, VersionStatus
from ledger.errors import BadRequest
from ledger.events import format_time
from ledger.projections.base import SERVING_STATUSES
from ledger.projections.keys import deployment_parts, model_key, version_key

__all__ = [
    "Alert",
    "Deployment",
    "DeploymentRollback",
    "DeploymentsQuery",
    "deployments_by_ref",
    "serving_now",
]


@strawberry.type(description="An open alert on a deployment (`alert.raised`, not yet resolved).")
class Alert(Recorded):
    alert_id: str
    metric: str | None
    severity: str | None
    observed: float | None
    threshold: float | None
    comparator: str | None
    version: str | None

    @classmethod
    def of(cls, alert_id: str, e: Entry) -> Alert:
        return cls(
            **recorded(e),
            alert_id=alert_id,
            metric=as_str(e, "metric"),
            severity=as_str(e, "severity"),
            observed=as_float(e, "observed"),
            threshold=as_float(e, "threshold"),
            comparator=as_str(e, "comparator"),
            version=as_str(e, "version"),
        )


@strawberry.type(description="A rollback of a deployment (`rollback.executed`) and its check.")
class DeploymentRollback(Recorded):
    actor: str | None
    from_version: str | None
    to_version: str | None
    reason: str | None
    trigger: str | None
    alert_id: str | None
    incident: str | None
    verified: bool
    verification_seq: int | None

    @classmethod
    def of(cls, e: Entry) -> DeploymentRollback:
        return cls(
            **recorded(e),
            actor=as_str(e, "actor"),
            from_version=as_str(e, "from_version"),
            to_version=as_str(e, "to_version"),
            reason=as_str(e, "reason"),
            trigger=as_str(e, "trigger"),
            alert_id=as_str(e, "alert_id"),
            incident=as_str(e, "incident"),
            verified=bool(as_bool(e, "verified")),
            verification_seq=as_int(e, "verification_seq"),
        )


def serving_now(model: str, environment: str, model_doc: Doc | None) -> list[VersionStatus]:
    """Versions of ``model`` serving live traffic in ``environment`` now, most exposed first."""
    out = []
    for entry in dicts((model_doc or {}).get("versions")):
        version = as_str(entry, "version")
        state = entry.get("status")
        status = state.get(environment) if isinstance(state, dict) else None
        serving = isinstance(status, dict) and status.get("status") in SERVING_STATUSES
        if version is not None and serving:
            assert isinstance(status, dict)
            out.append(VersionStatus.current(model, version, environment, status))
    return sorted(out, key=lambda s: -s.exposure)


@strawberry.type(description="A model in one environment and its rollout state now.")
class Deployment:
    ref: str = strawberry.field(description="`deployment:<model>/<environment>`.")
    model_name: str
    environment: str
    doc: strawberry.Private[Doc]

    @classmethod
    def of(cls, ref: str, doc: Doc | None) -> Deployment:
        model, environment = deployment_parts(ref)
        return cls(ref=ref, model_name=model, environment=environment, doc=doc or {})

    @strawberry.field(description="False when nothing was ever staged or rolled back here.")
    def known(self) -> bool:
        return bool(self.doc)

    @strawberry.field(description="Version of the latest stage (or rollback target), e.g. 1.4.0.")
    def version(self) -> str | None:
        return as_str(self.doc, "version")

    @strawberry.field(description="The version serving the traffic the latest stage leaves.")
    def stable_version(self) -> str | None:
        return as_str(self.doc, "stable_version")

    @strawberry.field(description="The version of the latest stage, as a registry object.")
    def current_version(self) -> ModelVersion | None:
        version = as_str(self.doc, "version")
        if version is None:
            return None
        return ModelVersion.of(version_key(self.model_name, version))

    @strawberry.field(description="Percent of live traffic the latest stage's version gets.")
    def exposure(self) -> float | None:
        return as_float(self.doc, "exposure")

    @strawberry.field
    def strategy(self) -> str | None:
        return as_str(self.doc, "strategy")

    @strawberry.field
    def cohort(self) -> str | None:
        return as_str(self.doc, "cohort")

    @strawberry.field
    def flag_key(self) -> str | None:
        return as_str(self.doc, "flag_key")

    @strawberry.field
    def exit_criteria(self) -> JSON:
        return as_json(self.doc, "exit_criteria", [])

    @strawberry.field
    def stage_seq(self) -> int | None:
        return as_int(self.doc, "stage_seq")

    @strawberry.field
    def stage_entered_at(self) -> str | None:
        return as_str(self.doc, "stage_entered_at")

    @strawberry.field(description="When the stage lapses (its own, or the policy's stage TTL).")
    def expires_at(self) -> str | None:
        return as_str(self.doc, "expires_at")

    @strawberry.field(description="The stage is past `expiresAt`.")
    def expired(self) -> bool:
        expires = as_str(self.doc, "expires_at")
        return expires is not None and expires <= format_time(datetime.now(UTC))

    @strawberry.field(description="An alert crossed a rollback threshold of the policy.")
    def rollback_required(self) -> bool:
        return bool(as_bool(self.doc, "rollback_required"))

    @strawberry.field(description="The alert that made a rollback required.")
    def rollback_cause(self) -> JSON | None:
        return as_json(self.doc, "rollback_cause")

    @strawberry.field
    def open_alerts(self) -> list[Alert]:
        alerts = self.doc.get("open_alerts")
        if not isinstance(alerts, dict):
            return []
        found = [Alert.of(str(k), v) for k, v in alerts.items() if isinstance(v, dict)]
        return sorted(found, key=lambda a: a.seq)

    @strawberry.field
    def rollbacks(self) -> list[DeploymentRollback]:
        return [DeploymentRollback.of(e) for e in dicts(self.doc.get("rollbacks"))]

    @strawberry.field(
        description="Versions serving live traffic (canary or production), now or as of a moment."
    )
    async def serving(self, info: Info, as_of: AsOf | None = None) -> list[VersionStatus]:
        point = point_of(as_of)
        if point is None:
            return serving_now(
                self.model_name, self.environment, await load_doc(info, model_key(self.model_name))
            )
        found = await intervals(info, point, model=self.model_name, environment=self.environment)
        return _serving(found)


def _serving(found: list[Interval]) -> list[VersionStatus]:
    serving = [VersionStatus.of(i) for i in found if i.status in SERVING_STATUSES]
    return sorted(serving, key=lambda s: (s.model, -s.exposure, s.version))


@strawberry.type
class DeploymentsQuery:
    @strawberry.field(
        description="A deployment by reference, or null.", permission_classes=[CanRead]
    )
    async def deployment(self, info: Info, ref: str) -> Deployment | None:
        if check_ref(ref, "ref").kind != "deployment":
            raise BadRequest(f"ref: {ref!r} is not a deployment:<model>/<env>", field="ref")
        doc = await load_doc(info, ref)
        return None if doc is None else Deployment.of(ref, doc)

    @strawberry.field(
        description="Deployments by reference, optionally of one model or environment; "
        "`after` is the last `ref` of the previous page.",
        permission_classes=[CanRead],
    )
    async def deployments(
        self,
        info: Info,
        model: str | None = None,
        environment: str | None = None,
        first: int = 100,
        after: str | None = None,
    ) -> list[Deployment]:
        check_first(first)
        docs = await run_in_threadpool(deployment_docs_now, reader(info), model)
        return [
            Deployment.of(ref, doc)
            for ref, doc in docs
            if (environment is None or doc.get("environment") == environment)
            and (after is None or ref > after)
        ][:first]

    @strawberry.field(
        description="What served live traffic (canary or production) in `environment` at a "
        "moment: e.g. what was in production at 14:02 last Tuesday.",
        permission_classes=[CanRead],
    )
    async def serving_at(
        self, info: Info, environment: str, as_of: AsOf, model: str | None = None
    ) -> list[VersionStatus]:
        point = point_of(as_of)
        assert point is not None
        found = await intervals(
            info, point, model=model, environment=environment, statuses=SERVING_STATUSES
        )
        return _serving(found)


async def deployments_by_ref(info: Info, refs: list[str]) -> list[Deployment]:
    """Deployments for ``refs`` in order (one batched read)."""
    return [Deployment.of(r, d) for r, d in zip(refs, await load_docs(info, refs), strict=True)]
