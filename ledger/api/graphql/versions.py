"""Model versions: tests, approvals, decisions, stages, rollbacks, denials, status, lineage.

Fields read the version's document (and, for status, its model's document)
through the request's DataLoader, so the versions of many models asked for in
one query are read together, in one ``get_docs``.
"""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from ledger.api.graphql.asof import AsOf, point_of
from ledger.api.graphql.context import Info
from ledger.api.graphql.events import EventConnection
from ledger.api.graphql.history import find_page
from ledger.api.graphql.lineage import Direction, Lineage, lineage_of
from ledger.api.graphql.loaders import Doc, Interval, intervals, load_doc
from ledger.api.graphql.records import (
    Approval,
    Decision,
    Denial,
    Entry,
    Stage,
    TestResult,
    VersionRollback,
    as_float,
    as_int,
    as_str,
    dicts,
    strings,
)
from ledger.projections.keys import model_key, tests_key, version_parts

if TYPE_CHECKING:
    from ledger.api.graphql.models import Model

__all__ = ["ModelVersion", "VersionStatus", "entry_of"]

_MODELS = "ledger.api.graphql.models"


def entry_of(model_doc: Doc | None, version: str) -> Entry | None:
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


@strawberry.type(
    description="A version's status in one environment from `seq`/`time` on; `endSeq`/`endTime` "
    "close it (null while it holds)."
)
class VersionStatus:
    model: str
    version: str
    environment: str
    status: str = strawberry.field(
        description="candidate, shadow, canary, production, rolled_back, replaced, aborted or "
        "retired."
    )
    exposure: float = strawberry.field(description="Percent of live traffic.")
    strategy: str | None
    seq: int = strawberry.field(description="The event that set it.")
    time: str
    end_seq: int | None
    end_time: str | None

    @strawberry.field(description="`model:<model>@<version>`.")
    def ref(self) -> str:
        return f"model:{self.model}@{self.version}"

    @classmethod
    def of(cls, interval: Interval) -> VersionStatus:
        """From a status interval (``status_intervals``)."""
        i = interval
        return cls(
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

    @classmethod
    def current(cls, model: str, version: str, environment: str, e: Entry) -> VersionStatus:
        """From a model document's ``versions[].status[environment]`` (open, so no end)."""
        return cls(
            model=model,
            version=version,
            environment=environment,
            status=as_str(e, "status") or "",
            exposure=as_float(e, "exposure") or 0.0,
            strategy=as_str(e, "strategy"),
            seq=as_int(e, "seq") or 0,
            time=as_str(e, "time") or "",
            end_seq=None,
            end_time=None,
        )


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
            self.entry = entry_of(await load_doc(info, model_key(self.model_name)), self.version)
        return self.entry

    @strawberry.field(description="The model this is a version of.")
    async def model(self, info: Info) -> Annotated[Model, strawberry.lazy(_MODELS)] | None:
        from ledger.api.graphql.models import Model

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
        # Kept as rows apart from the version document, read as one (keys.TESTS_PREFIX).
        results = await load_doc(info, tests_key(self.ref)) or {}
        return [TestResult.of(e) for e in dicts(results.get("tests"))]

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

    async def _statuses(self, info: Info, as_of: AsOf | None) -> list[VersionStatus]:
        point = point_of(as_of)
        if point is None:
            return _statuses(self.model_name, self.version, await self._entry(info))
        found = await intervals(info, point, model=self.model_name)
        return [VersionStatus.of(i) for i in found if i.version == self.version]

    @strawberry.field(description="Its status in each environment, now or as of a moment.")
    async def statuses(self, info: Info, as_of: AsOf | None = None) -> list[VersionStatus]:
        return await self._statuses(info, as_of)

    @strawberry.field(description="Its status in `environment` (null: never there), now or then.")
    async def status(
        self, info: Info, environment: str, as_of: AsOf | None = None
    ) -> VersionStatus | None:
        found = await self._statuses(info, as_of)
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
