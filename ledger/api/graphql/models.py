"""Models: who owns them, how risky they are, their versions, deployments and history.

``models`` lists the models registered with ``model.registered``, in the order
they were registered; ``model(name)`` also finds a model that only has
versions. Documents are read through the request's DataLoaders, so a page of
50 models with their versions and tests costs three store reads (the page,
the model documents, the version documents) whatever the page size.
"""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from functools import partial

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry import relay
from strawberry.scalars import JSON

from ledger.api.graphql.asof import check_ref
from ledger.api.graphql.context import Info
from ledger.api.graphql.deployments import Deployment
from ledger.api.graphql.events import EventConnection
from ledger.api.graphql.history import SCAN_ROUNDS, find_page, start_of
from ledger.api.graphql.loaders import Doc, deployments_of, load_doc, load_docs, reader
from ledger.api.graphql.permissions import CanRead
from ledger.api.graphql.records import as_bool, as_int, as_json, as_str, dicts
from ledger.api.graphql.versions import ModelVersion, entry_of
from ledger.api.reads import encode_cursor
from ledger.errors import BadRequest
from ledger.events import Event
from ledger.projections.keys import model_key, parse_or_none, version_key

__all__ = ["Model", "ModelConnection", "ModelEdge", "ModelsQuery"]


@strawberry.type(description="A model: its registration, versions, deployments and history.")
class Model:
    name: str
    doc: strawberry.Private[Doc]

    @strawberry.field(description="`model:<name>`.")
    def ref(self) -> str:
        return model_key(self.name)

    @strawberry.field
    def owner(self) -> str | None:
        return as_str(self.doc, "owner")

    @strawberry.field(description="low, medium, high or critical: picks the rollout policy.")
    def risk_tier(self) -> str | None:
        return as_str(self.doc, "risk_tier")

    @strawberry.field
    def business_process(self) -> str | None:
        return as_str(self.doc, "business_process")

    @strawberry.field
    def description(self) -> str | None:
        return as_str(self.doc, "description")

    @strawberry.field
    def task(self) -> str | None:
        return as_str(self.doc, "task")

    @strawberry.field
    def contact(self) -> str | None:
        return as_str(self.doc, "contact")

    @strawberry.field(description="Null when only versions of it were recorded.")
    def registered_seq(self) -> int | None:
        return as_int(self.doc, "registered_seq")

    @strawberry.field
    def registered_at(self) -> str | None:
        return as_str(self.doc, "registered_at")

    @strawberry.field
    def retired(self) -> bool:
        return bool(as_bool(self.doc, "retired"))

    @strawberry.field(description="The `model.retired` details, when retired.")
    def retirement(self) -> JSON | None:
        return as_json(self.doc, "retirement")

    @strawberry.field(description="`retraining.triggered` signals, in order.")
    def retraining(self) -> JSON:
        return as_json(self.doc, "retraining", [])

    def _versions(self) -> list[ModelVersion]:
        return [
            ModelVersion.of(version_key(self.name, str(e["version"])), e)
            for e in dicts(self.doc.get("versions"))
            if isinstance(e.get("version"), str)
        ]

    @strawberry.field(description="Its versions in order of first appearance, each with status.")
    def versions(self) -> list[ModelVersion]:
        return self._versions()

    @strawberry.field(description="One version by its version string, or null.")
    def version(self, version: str) -> ModelVersion | None:
        entry = entry_of(self.doc, version)
        return None if entry is None else ModelVersion.of(version_key(self.name, version), entry)

    @strawberry.field(description="Its deployments (one per environment it was staged in).")
    async def deployments(self, info: Info) -> list[Deployment]:
        return [Deployment.of(ref, doc) for ref, doc in await deployments_of(info, self.name)]

    @strawberry.field(
        description="The events that shaped it, in order: those whose subject is the model or "
        "one of its versions."
    )
    async def history(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> EventConnection:
        subjects = [model_key(self.name), *(v.ref for v in self._versions())]
        return await find_page(info, first, after, subjects=subjects)


@strawberry.type(description="A model and the cursor just after it.")
class ModelEdge:
    cursor: str
    node: Model


@strawberry.type(description="A page of models in registration order (Relay cursor connection).")
class ModelConnection:
    edges: list[ModelEdge]
    page_info: relay.PageInfo

    @strawberry.field(description="The models of `edges`, without cursors.")
    def nodes(self) -> list[Model]:
        return [edge.node for edge in self.edges]


def _name_of(name: str) -> str:
    if name.startswith("model:"):
        ref = check_ref(name, "name")
        if ref.version is not None:
            raise BadRequest(f"name: {name!r} names a version; use modelVersion", field="name")
        return ref.name
    return name


async def _registrations(
    info: Info, start: int, first: int
) -> tuple[list[tuple[Event, Doc]], bool, int]:
    """Up to ``first`` models first registered after seq ``start``; more?; last seq looked at."""
    store = reader(info)
    found: list[tuple[Event, Doc]] = []
    last = start
    for _ in range(SCAN_ROUNDS):
        events = await run_in_threadpool(
            partial(store.find_events, types=["model.registered"], after_seq=last, limit=first + 1)
        )
        docs = await load_docs(info, [model_key(_ref_name(e.subject)) for e in events])
        for event, doc in zip(events, docs, strict=True):
            # A repeated model.registered is an update, not another model.
            if doc is not None and as_int(doc, "registered_seq") == event.seq:
                if len(found) == first:
                    return found, True, found[-1][0].seq
                found.append((event, doc))
            last = event.seq
        if len(events) <= first:
            return found, False, last
    return found, True, last


def _ref_name(subject: str) -> str:
    ref = parse_or_none(subject)
    return ref.name if ref is not None else subject


@strawberry.type
class ModelsQuery:
    @strawberry.field(
        description="A model by name (or `model:<name>`), or null.", permission_classes=[CanRead]
    )
    async def model(self, info: Info, name: str) -> Model | None:
        name = _name_of(name)
        doc = await load_doc(info, model_key(name))
        return None if doc is None else Model(name=name, doc=doc)

    @strawberry.field(
        description="Registered models, in registration order.", permission_classes=[CanRead]
    )
    async def models(
        self, info: Info, first: int = 20, after: str | None = None
    ) -> ModelConnection:
        start = start_of(first, after)
        found, has_next, last = await _registrations(info, start, first)
        edges = [
            ModelEdge(cursor=encode_cursor(e.seq), node=Model(name=_ref_name(e.subject), doc=d))
            for e, d in found
        ]
        page_info = relay.PageInfo(
            has_next_page=has_next,
            has_previous_page=start > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=encode_cursor(last) if last > start else None,
        )
        return ModelConnection(edges=edges, page_info=page_info)

    @strawberry.field(
        description="A version by reference (`model:<name>@<version>`), or null.",
        permission_classes=[CanRead],
    )
    async def model_version(self, info: Info, ref: str) -> ModelVersion | None:
        parsed = check_ref(ref, "ref")
        if parsed.kind != "model" or parsed.version is None:
            raise BadRequest(f"ref: {ref!r} is not model:<name>@<version>", field="ref")
        doc, model_doc = await load_docs(info, [ref, model_key(parsed.name)])
        entry = entry_of(model_doc, parsed.version)
        if doc is None and entry is None:
            return None
        return ModelVersion.of(ref, entry)
