"""The model registry: models, their versions and everything that happened to each.

Fields read the registry documents (:mod:`ledger.projections.registry`)
through the request's DataLoaders, so a query over 50 models, their versions
and their tests reads the store a bounded number of times: one read for the
page of models, one for all their documents, one for all version documents.
"""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry import relay
from strawberry.scalars import JSON

from ledger.api.graphql.asof import AsOf, check_ref, point_of
from ledger.api.graphql.context import Info
from ledger.api.graphql.deployments import Deployment, deployments_by_ref
from ledger.api.graphql.events import EventConnection
from ledger.api.graphql.history import find_page, start_of
from ledger.api.graphql.lineage import Direction, Lineage, lineage_of
from ledger.api.graphql.loaders import Doc, deployments_of, intervals, load_doc, load_docs, reader
from ledger.api.graphql.permissions import CanRead
from ledger.api.graphql.records import (
    Approval,
    Decision,
    Denial,
    Entry,
    Stage,
    TestResult,
    VersionRollback,
    VersionStatus,
    as_bool,
    as_int,
    as_str,
    dicts,
    strings,
)
from ledger.api.reads import encode_cursor
from ledger.errors import BadRequest
from ledger.projections.keys import model_key, version_key, version_parts
from ledger.refs import parse_ref

__all__ = ["Model", "ModelConnection", "ModelEdge", "ModelVersion", "ModelsQuery"]


def _entry_of(model_doc: Doc | None, version: str) -> Entry | None:
    for entry in dicts((model_doc or {}).get("versions")):
        if entry.get("version") == version:
            return entry
    return None


def _statuses(model: str, version: str, entry: Entry | None) -> list[VersionStatus]:
    state = (entry or {}).get("status")
    if not isinstance(state, dict):
        return []
    return [
        VersionStatus.current(model, version, str(env), s)
        for env, s in state.items()
        if isinstance(s, dict)
    ]


@strawberry.type(description="One version of a model and everything recorded about it.")
class ModelVersion:
    ref: str = strawberry.field(description="`model:<name>@<version>`.")
    model_name: str
    version: str
    entry: strawberry.Private[Entry | None]

    @classmethod
    def of(cls, ref: str, entry: Entry | None = None) -> ModelVersion:
        parts = version_parts(ref)
        assert parts is not None, ref
        return cls(ref=ref, model_name=parts[0], version=parts[1], entry=entry)

    async def _doc(self, info: Info) -> Doc:
        return await load_doc(info, self.ref) or {}

    async def _entry(self, info: Info) -> Entry | None:
        if self.entry is None:
            self.entry = _entry_of(await load_doc(info, model_key(self.model_name)), self.version)
        return self.entry

    @strawberry.field(description="The model this is a version of.")
    async def model(self, info: Info) -> Model | None:
        doc = await load_doc(info, model_key(self.model_name))
        return None if doc is None else Model(name=self.model_name, doc=doc)

    @strawberry.field(description="False when no `model.version.registered` was recorded.")
    async def registered(self, info: Info) -> bool:
        return as_int(await self._doc(info), "registered_seq") is not None

    @strawberry.field
    async def registered_seq(self, info: Info) -> int | None:
        return as_int(await self._doc(info), "registered_seq")

    @strawberry.field
    async def registered_at(self, info: Info) -> str | None:
        return as_str(await self._doc(info), "registered_at")

    @strawberry.field(description="Who authored it (the policy refuses their approval of it).")
    async def author(self, info: Info) -> str | None:
        return as_str(await self._doc(info), "author")

    @strawberry.field(description="The principal that registered it.")
    async def registered_by(self, info: Info) -> str | None:
        return as_str(await self._doc(info), "registered_by")

    @strawberry.field
    async def artifact_digest(self, info: Info) -> str | None:
        return as_str(await self._doc(info), "artifact_digest")

    @strawberry.field
    async def artifact_uri(self, info: Info) -> str | None:
        return as_str(await self._doc(info), "artifact_uri")

    @strawberry.field
    async def training_run(self, info: Info) -> str | None:
        return as_str(await self._doc(info), "training_run")

    @strawberry.field
    async def code_ref(self, info: Info) -> str | None:
        return as_str(await self._doc(info), "code_ref")

    @strawberry.field
    async def framework(self, info: Info) -> str | None:
        return as_str(await self._doc(info), "framework")

    @strawberry.field(description="Dataset versions it was trained on.")
    async def trained_on(self, info: Info) -> list[str]:
        return strings((await self._doc(info)).get("trained_on"))

    @strawberry.field(description="The latest result per (kind, suite, environment).")
    async def tests(self, info: Info) -> list[TestResult]:
        return [TestResult.of(e) for e in dicts((await self._doc(info)).get("tests"))]

    @strawberry.field(description="Approvals, with `revoked` set on those later revoked.")
    async def approvals(self, info: Info) -> list[Approval]:
        return [Approval.of(e) for e in dicts((await self._doc(info)).get("approvals"))]

    @strawberry.field
    async def decisions(self, info: Info) -> list[Decision]:
        return [Decision.of(e) for e in dicts((await self._doc(info)).get("decisions"))]

    @strawberry.field
    async def stages(self, info: Info) -> list[Stage]:
        return [Stage.of(e) for e in dicts((await self._doc(info)).get("stages"))]

    @strawberry.field
    async def rollbacks(self, info: Info) -> list[VersionRollback]:
        return [VersionRollback.of(e) for e in dicts((await self._doc(info)).get("rollbacks"))]

    @strawberry.field(description="Attempts the rollout policy refused (`policy.denied`).")
    async def denials(self, info: Info) -> list[Denial]:
        return [Denial.of(e) for e in dicts((await self._doc(info)).get("denials"))]

    @strawberry.field(description="Its status in each environment, now or as of a moment.")
    async def statuses(self, info: Info, as_of: AsOf | None = None) -> list[VersionStatus]:
        point = point_of(as_of)
        if point is None:
            return _statuses(self.model_name, self.version, await self._entry(info))
        found = await intervals(info, point, model=self.model_name)
        return [
            VersionStatus(
                model=i.model,
                version=i.version,
                environment=i.environment,
                status=i.status,
                exposure=i.exposure,
                strategy=i.strategy,
                seq=i.seq,
                time=i.time,
                end_seq=i.end_seq,
                end_time=i.end_time,
            )
            for i in found
            if i.version == self.version
        ]

    @strawberry.field(description="Its status in `environment` (null: never there), now or then.")
    async def status(
        self, info: Info, environment: str, as_of: AsOf | None = None
    ) -> VersionStatus | None:
        found = await self.statuses(info, as_of)  # type: ignore[misc]
        return next((s for s in found if s.environment == environment), None)

    @strawberry.field(description="Its lineage: training data, features, runs, deployments.")
    async def lineage(
        self,
        info: Info,
        direction: Direction = Direction.BOTH,
        depth: int = 3,
        as_of: AsOf | None = None,
    ) -> Lineage:
        return await lineage_of(info, self.ref, direction, depth, as_of)

    @strawberry.field(description="The events about this version (its subject), in order.")
    async def history(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> EventConnection:
        return await find_page(info, first, after, subjects=[self.ref])
