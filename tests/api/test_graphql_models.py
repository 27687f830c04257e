"""GraphQL over the registry, against the demo story: models, versions, deployments, as-of.

Also holds the demo fixture the other ``test_graphql_*`` modules reuse
(:func:`load_demo`, :func:`demo_api`): ``rollout-ledger init`` and ``demo``
into a temporary database, one token per role, and the ASGI app over it.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ledger.api import Settings, create_app
from ledger.auth import ROLES, hash_token, new_token
from ledger.cli import cli
from ledger.events import EventDraft
from ledger.keys import default_key_dir, load_signer
from ledger.schema_files import load_catalogue
from ledger.service import Ledger
from ledger.store import EventStore, open_store
from ledger.store.protocol import TokenRecord
from tests.api.conftest import TestClient, error_codes

__all__ = ["DemoApi", "copy_demo", "demo_api", "load_demo"]


def load_demo(directory: Path) -> Path:
    """``rollout-ledger init`` and ``demo`` into ``directory/ledger.db``; returns the path."""
    db = directory / "ledger.db"
    runner = CliRunner()
    for command in (["init"], ["demo"]):
        result = runner.invoke(cli, ["--db", str(db), *command])
        assert result.exit_code == 0, result.output
    return db


def copy_demo(db: Path, directory: Path) -> Path:
    """A private copy of a loaded demo (database and key), for tests that append."""
    target = directory / "ledger.db"
    shutil.copy(db, target)
    shutil.copytree(default_key_dir(str(db)), default_key_dir(str(target)))
    return target


@dataclass
class DemoApi:
    """The app over a demo ledger, with one token per role (``names``: the token names)."""

    client: TestClient
    store: EventStore
    tokens: dict[str, str]
    names: dict[str, str]

    def post(self, query: str, role: str | None = "auditor", /, **variables: object) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        response = self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert isinstance(body, dict)
        return body

    def data(self, query: str, role: str | None = "auditor", /, **variables: object) -> Any:
        """The ``data`` of a query that must succeed."""
        body = self.post(query, role, **variables)
        assert not body.get("errors"), body["errors"]
        data = body["data"]
        assert isinstance(data, dict)
        return data

    def codes(self, query: str, role: str | None = "auditor", /, **variables: object) -> list[str]:
        """The error codes of a query that must fail."""
        codes = error_codes(self.post(query, role, **variables))
        assert codes
        return codes


@contextmanager
def demo_api(db: Path, settings: Settings | None = None) -> Iterator[DemoApi]:
    """The app over the demo ledger at ``db``, as ``serve`` builds it."""
    store = open_store(str(db))
    tokens: dict[str, str] = {}
    names: dict[str, str] = {}
    try:
        for role in ROLES:
            name = names[role] = f"{role}-{uuid.uuid4().hex[:8]}"
            tokens[role] = new_token()
            store.add_token(
                TokenRecord(name, role, hash_token(tokens[role]), "2026-11-01T00:00:00Z")
            )
        catalogue = load_catalogue()
        signer = load_signer(default_key_dir(str(db)), required=False)
        ledger = Ledger(store, signer=signer, origin=store.get_meta("origin"), catalogue=catalogue)
        app = create_app(ledger, settings or Settings(), catalogue=catalogue)
        with TestClient(app) as client:
            yield DemoApi(client, store, tokens, names)
    finally:
        store.close()


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return load_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def api(demo_db: Path) -> Iterator[DemoApi]:
    with demo_api(demo_db) as made:
        yield made


def _seq_of(api: DemoApi, event_type: str, subject: str, nth: int = 0) -> tuple[int, str]:
    """(seq, recorded_at) of the nth event of a type and subject in the demo."""
    data = api.data(
        "query($t: [String!], $s: [String!]) { events(first: 100, types: $t, subjects: $s) "
        "{ nodes { seq recordedAt } } }",
        t=[event_type],
        s=[subject],
    )
    node = data["events"]["nodes"][nth]
    return node["seq"], node["recordedAt"]


MODEL = """
query($name: String!) {
  model(name: $name) {
    name ref owner riskTier businessProcess retired registeredSeq
    versions {
      ref version author registeredAt
      status(environment: "prod") { status exposure strategy }
      statuses { environment status exposure }
    }
    deployments { ref version stableVersion exposure }
  }
}
"""


def test_model_answers_owner_risk_and_versions_with_their_prod_status(api: DemoApi) -> None:
    model = api.data(MODEL, name="fraud-detector")["model"]
    assert model["name"] == "fraud-detector"
    assert model["ref"] == "model:fraud-detector"
    assert model["riskTier"] == "high"
    assert model["owner"]
    assert model["businessProcess"]
    assert model["retired"] is False
    by_version = {v["version"]: v for v in model["versions"]}
    assert list(by_version) == ["1.3.2", "1.4.0"]
    assert by_version["1.4.0"]["status"] == {
        "status": "production",
        "exposure": 100.0,
        "strategy": "full",
    }
    assert by_version["1.3.2"]["status"]["status"] == "replaced"
    assert {s["environment"] for s in by_version["1.4.0"]["statuses"]} == {"staging", "prod"}
    assert by_version["1.4.0"]["registeredAt"].endswith("Z")
    prod = {d["ref"]: d for d in model["deployments"]}["deployment:fraud-detector/prod"]
    assert prod["version"] == "1.4.0"
    assert prod["exposure"] == 100.0


def test_model_accepts_a_reference_and_is_null_when_unknown(api: DemoApi) -> None:
    assert api.data(MODEL, name="model:credit-limits")["model"]["riskTier"] == "critical"
    assert api.data(MODEL, name="no-such-model")["model"] is None
    assert api.codes(MODEL, name="model:credit-limits@3.2.0") == ["bad_request"]


MODELS = """
query($first: Int!, $after: String) {
  models(first: $first, after: $after) {
    edges { cursor node { name riskTier } }
    nodes { name }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""


def test_models_pages_in_registration_order_without_duplicates(api: DemoApi) -> None:
    names: list[str] = []
    after = None
    pages = 0
    while True:
        page = api.data(MODELS, first=2, after=after)["models"]
        names += [n["name"] for n in page["nodes"]]
        pages += 1
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert names == ["fraud-detector", "product-recommender", "credit-limits"]
    assert pages == 2
    everything = api.data(MODELS, first=100)["models"]
    assert [e["node"]["riskTier"] for e in everything["edges"]] == ["high", "low", "critical"]


HISTORY = """
query($name: String!, $first: Int!, $after: String) {
  model(name: $name) {
    history(first: $first, after: $after) {
      nodes { seq type subject hash }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


def test_model_history_is_every_event_about_the_model_or_its_versions_in_order(
    api: DemoApi,
) -> None:
    seen: list[Any] = []
    after = None
    while True:
        history = api.data(HISTORY, name="product-recommender", first=7, after=after)
        page = history["model"]["history"]
        seen += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    seqs = [n["seq"] for n in seen]
    assert seqs == sorted(set(seqs))
    assert all(
        n["subject"] == "model:product-recommender"
        or str(n["subject"]).startswith("model:product-recommender@")
        for n in seen
    )
    types = [n["type"] for n in seen]
    assert types[:2] == ["model.registered", "model.version.registered"]
    assert {"approval.granted", "approval.revoked", "retraining.triggered"} <= set(types)
    expected = api.data(
        '{ events(first: 100, subjects: ["model:product-recommender"]) { nodes { seq } } }'
    )
    assert seqs == [n["seq"] for n in expected["events"]["nodes"]]


VERSION = """
query($ref: String!) {
  modelVersion(ref: $ref) {
    ref modelName version author registeredBy artifactDigest trainingRun trainedOn
    model { name riskTier }
    tests { seq hash kind suite passed environment evaluatedOn }
    approvals { seq actor role environment revoked revokedSeq revokedBy evidence { seq hash } }
    decisions { seq actor decision environment targetExposure strategy }
    stages { seq environment strategy exposure }
    rollbacks { seq environment role fromVersion toVersion }
    denials { seq draftType actor environment policy unmet }
  }
}
"""


def test_credit_limits_promotion_denied_for_missing_fairness_evidence(api: DemoApi) -> None:
    version = api.data(VERSION, ref="model:credit-limits@3.2.0")["modelVersion"]
    assert version["model"] == {"name": "credit-limits", "riskTier": "critical"}
    (denial,) = version["denials"]
    denied_seq, _ = _seq_of(api, "policy.denied", "model:credit-limits@3.2.0")
    assert denial["seq"] == denied_seq
    assert denial["draftType"] == "deployment.decided"
    assert denial["environment"] == "prod"
    assert any("fairness" in reason for reason in denial["unmet"])
    # The fairness test and the third approval came later, then the promotion.
    fairness = [t for t in version["tests"] if t["kind"] == "fairness"]
    assert fairness
    assert fairness[0]["seq"] > denied_seq
    assert fairness[0]["passed"]
    assert {a["role"] for a in version["approvals"]} == {"ml_lead", "compliance", "model_risk"}
    (decision,) = version["decisions"]
    assert decision["decision"] == "promote"
    assert decision["seq"] > denied_seq
    assert [s["strategy"] for s in version["stages"] if s["environment"] == "prod"] == [
        "shadow",
        "canary",
    ]


def test_a_version_shows_its_revoked_approval_and_its_rollback(api: DemoApi) -> None:
    version = api.data(VERSION, ref="model:product-recommender@2.4.0")["modelVersion"]
    (approval,) = version["approvals"]
    revoked_seq, _ = _seq_of(api, "approval.revoked", "model:product-recommender@2.4.0")
    assert approval["revoked"] is True
    assert approval["revokedSeq"] == revoked_seq
    assert approval["evidence"]
    assert all(e["hash"] for e in approval["evidence"])
    (rollback,) = version["rollbacks"]
    assert rollback == {
        "seq": _seq_of(api, "rollback.executed", "deployment:product-recommender/prod")[0],
        "environment": "prod",
        "role": "from",
        "fromVersion": "model:product-recommender@2.4.0",
        "toVersion": "model:product-recommender@2.3.0",
    }
    assert version["trainedOn"] == ["dataset:recs-training-pairs@2026-11-18"]
    assert len(version["tests"]) == 4


def test_model_version_is_null_when_unknown_and_refuses_a_non_version(api: DemoApi) -> None:
    assert api.data(VERSION, ref="model:fraud-detector@9.9.9")["modelVersion"] is None
    assert api.codes(VERSION, ref="model:fraud-detector") == ["bad_request"]
    assert api.codes(VERSION, ref="not a ref") == ["bad_request"]


DEPLOYMENT = """
query($ref: String!) {
  deployment(ref: $ref) {
    ref modelName environment version stableVersion exposure strategy rollbackRequired
    openAlerts { alertId metric }
    rollbacks { seq fromVersion toVersion trigger incident verified verificationSeq }
    currentVersion { ref author }
    serving { version status exposure }
  }
}
"""


def test_deployment_shows_the_rollback_and_what_serves_now(api: DemoApi) -> None:
    deployment = api.data(DEPLOYMENT, ref="deployment:product-recommender/prod")["deployment"]
    assert deployment["modelName"] == "product-recommender"
    assert deployment["environment"] == "prod"
    assert deployment["version"] == "2.3.0"
    assert deployment["rollbackRequired"] is False
    assert deployment["openAlerts"] == []
    (rollback,) = deployment["rollbacks"]
    assert rollback["fromVersion"] == "model:product-recommender@2.4.0"
    assert rollback["toVersion"] == "model:product-recommender@2.3.0"
    assert rollback["incident"] == "incident:INC-2291"
    assert rollback["verified"] is True
    assert rollback["verificationSeq"] > rollback["seq"]
    assert deployment["currentVersion"]["ref"] == "model:product-recommender@2.3.0"
    assert deployment["serving"] == [{"version": "2.3.0", "status": "production", "exposure": 100}]
    credit = api.data(DEPLOYMENT, ref="deployment:credit-limits/prod")["deployment"]
    assert [(s["version"], s["exposure"]) for s in credit["serving"]] == [
        ("3.1.0", 95.0),
        ("3.2.0", 5.0),
    ]
    assert api.data(DEPLOYMENT, ref="deployment:nothing/prod")["deployment"] is None
    assert api.codes(DEPLOYMENT, ref="model:fraud-detector") == ["bad_request"]


def test_deployments_lists_and_filters(api: DemoApi) -> None:
    query = (
        "query($m: String, $e: String, $first: Int!, $after: String) "
        "{ deployments(model: $m, environment: $e, first: $first, after: $after) { ref } }"
    )
    every = [d["ref"] for d in api.data(query, first=100)["deployments"]]
    assert len(every) == 6
    assert every == sorted(every)
    prod = [d["ref"] for d in api.data(query, e="prod", first=100)["deployments"]]
    assert prod == [r for r in every if r.endswith("/prod")]
    fraud = [d["ref"] for d in api.data(query, m="fraud-detector", first=100)["deployments"]]
    assert fraud == ["deployment:fraud-detector/prod", "deployment:fraud-detector/staging"]
    first = [d["ref"] for d in api.data(query, first=4)["deployments"]]
    rest = [d["ref"] for d in api.data(query, first=4, after=first[-1])["deployments"]]
    assert first + rest == every


SERVING = """
query($env: String!, $asOf: AsOf!, $model: String) {
  servingAt(environment: $env, asOf: $asOf, model: $model) {
    model version ref status exposure seq endSeq
  }
}
"""


def test_serving_at_a_time_before_the_rollout_returns_the_old_version(api: DemoApi) -> None:
    canary_seq, canary_time = _seq_of(api, "deployment.decided", "model:fraud-detector@1.4.0")
    before = api.data(SERVING, env="prod", asOf={"time": canary_time}, model="fraud-detector")
    assert [(s["version"], s["status"], s["exposure"]) for s in before["servingAt"]] == [
        ("1.3.2", "production", 100.0)
    ]
    now = api.data(SERVING, env="prod", asOf={"seq": 10**6}, model="fraud-detector")
    assert [(s["ref"], s["status"]) for s in now["servingAt"]] == [
        ("model:fraud-detector@1.4.0", "production")
    ]
    everything = api.data(SERVING, env="prod", asOf={"seq": canary_seq})["servingAt"]
    assert {s["model"] for s in everything} == {
        "fraud-detector",
        "product-recommender",
        "credit-limits",
    }
    assert all(s["endSeq"] is None or s["endSeq"] > canary_seq for s in everything)


def test_as_of_on_version_status_and_on_deployment_serving(api: DemoApi) -> None:
    _, incident_time = _seq_of(api, "incident.opened", "incident:INC-2291")
    query = """
    query($t: DateTime!) {
      modelVersion(ref: "model:product-recommender@2.4.0") {
        then: status(environment: "prod", asOf: {time: $t}) { status exposure }
        now: status(environment: "prod") { status exposure }
        statuses(asOf: {time: $t}) { environment status }
      }
      deployment(ref: "deployment:product-recommender/prod") {
        serving(asOf: {time: $t}) { version exposure }
      }
    }
    """
    data = api.data(query, t=incident_time)
    version = data["modelVersion"]
    assert version["then"] == {"status": "canary", "exposure": 10.0}
    assert version["now"] == {"status": "rolled_back", "exposure": 0.0}
    assert {"environment": "prod", "status": "canary"} in version["statuses"]
    serving = data["deployment"]["serving"]
    assert serving == [
        {"version": "2.3.0", "exposure": 90.0},
        {"version": "2.4.0", "exposure": 10.0},
    ]


@pytest.mark.parametrize(
    "as_of",
    [{"time": "2026-11-20T00:00:00Z", "seq": 5}, {}],
)
def test_as_of_needs_exactly_one_of_time_or_seq(api: DemoApi, as_of: dict[str, object]) -> None:
    assert api.codes(SERVING, env="prod", asOf=as_of) == ["bad_request"]


def test_as_of_refuses_a_time_without_offset_and_a_negative_seq(api: DemoApi) -> None:
    body = api.post(SERVING, env="prod", asOf={"time": "2026-11-20T00:00:00"})
    assert error_codes(body) == ["bad_request"]
    assert body["errors"][0]["extensions"]["field"] == "asOf.time"
    body = api.post(SERVING, env="prod", asOf={"seq": -1})
    assert body["errors"][0]["extensions"]["field"] == "asOf.seq"


@pytest.mark.parametrize("first", [0, 101, 10_000])
def test_page_sizes_are_bounded_and_the_error_names_the_field(api: DemoApi, first: int) -> None:
    for query in (
        MODELS,
        "query($first: Int!) { deployments(first: $first) { ref } }",
        'query($first: Int!) { model(name: "fraud-detector") { history(first: $first) '
        "{ nodes { seq } } } }",
    ):
        body = api.post(query, first=first)
        assert error_codes(body) == ["bad_request"], query
        assert body["errors"][0]["extensions"]["field"] == "first"


def test_registry_reads_need_a_token_and_any_role_may_read(api: DemoApi) -> None:
    assert api.codes(MODELS, None, first=5) == ["unauthorized"]
    for role in ("auditor", "pipeline", "approver", "operator", "admin"):
        assert api.data(MODELS, role, first=5)["models"]["nodes"]


READS = (
    "read",
    "get",
    "get_by_id",
    "head",
    "get_docs",
    "docs_with_prefix",
    "status_intervals",
    "edges",
    "edges_of",
    "find_events",
    "projection_position",
)
"""Store read methods; token lookups (``token_by_hash``) are the auth layer's, not counted."""


def _registry(directory: Path, models: int) -> Path:
    """A ledger of ``models`` models, each with 2 versions of 2 test results each."""
    db = directory / "ledger.db"
    store = open_store(str(db))
    try:
        ledger = Ledger(store, catalogue=load_catalogue())
        drafts = []
        for m in range(models):
            ref = f"model:model-{m:03d}"
            about = {
                "owner": "team",
                "risk_tier": "low",
                "business_process": "p",
                "description": "d",
            }
            drafts.append(EventDraft.create("model.registered", ref, about))
            for v in range(2):
                registration = {
                    "artifact_digest": "sha256:" + f"{m:02x}{v:02x}" * 16,
                    "training_run": f"run:ci/{m}-{v}",
                    "code_ref": "git+https://git.example/m@1",
                    "author": "alice",
                }
                version = f"{ref}@1.{v}.0"
                drafts.append(EventDraft.create("model.version.registered", version, registration))
                for kind in ("unit", "evaluation"):
                    test = {"suite": kind, "kind": kind, "passed": True, "metrics": {"x": 1.0}}
                    drafts.append(EventDraft.create("test.result.recorded", version, test))
        ledger.append(drafts, "local:ci")
    finally:
        store.close()
    return db


MODELS_DEEP = """
query($first: Int!) {
  models(first: $first) {
    nodes {
      name riskTier owner
      versions {
        version author registeredAt
        status(environment: "prod") { status }
        tests { kind passed seq }
        approvals { actor }
        model { name }
      }
    }
  }
}
"""


@pytest.mark.parametrize("models", [5, 50])
def test_50_models_with_versions_and_tests_cost_a_bounded_number_of_store_reads(
    tmp_path: Path, models: int
) -> None:
    with demo_api(_registry(tmp_path, models)) as api:
        calls: dict[str, int] = {}

        def counting(name: str, method: Any) -> Any:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                calls[name] = calls.get(name, 0) + 1
                return method(*args, **kwargs)

            return wrapper

        for name in READS:
            setattr(api.store, name, counting(name, getattr(api.store, name)))
        data = api.data(MODELS_DEEP, first=models)
        nodes = data["models"]["nodes"]
        assert len(nodes) == models
        assert all(len(n["versions"]) == 2 for n in nodes)
        assert all(len(v["tests"]) == 2 for n in nodes for v in n["versions"])
        assert nodes[-1]["versions"][1]["model"] == {"name": f"model-{models - 1:03d}"}
        # One read for the page, one for the model documents, one for the version documents.
        assert calls == {"find_events": 1, "get_docs": 2}, calls
