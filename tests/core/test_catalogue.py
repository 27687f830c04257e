"""The event catalogue: shipped schemas, validation errors, subject kinds, roles, upcasts."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from ledger.catalogue import ROLES, Catalogue
from ledger.errors import InvalidEvent, SchemaViolation
from ledger.schema_files import load_catalogue, read_schemas, schema_dir

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "schema" / "events"

ISSUE_4_TYPES = {
    "model.registered": ("model", frozenset({"pipeline", "admin"})),
    "model.version.registered": ("model@version", frozenset({"pipeline", "admin"})),
    "dataset.version.registered": ("dataset@version", frozenset({"pipeline", "admin"})),
    "lineage.edge.recorded": ("any", frozenset({"pipeline", "admin"})),
    "test.result.recorded": ("model@version", frozenset({"pipeline", "admin"})),
    "policy.defined": ("policy", frozenset({"admin"})),
    "approval.granted": ("model@version", frozenset({"approver", "admin"})),
    "approval.revoked": ("model@version", frozenset({"approver", "admin"})),
    "deployment.decided": ("model@version", frozenset({"approver", "admin"})),
    "rollout.stage.changed": ("deployment", frozenset({"operator", "admin"})),
    "alert.raised": ("deployment", frozenset({"pipeline", "admin"})),
    "alert.resolved": ("deployment", frozenset({"pipeline", "admin"})),
    "rollback.executed": ("deployment", frozenset({"operator", "admin"})),
    "rollback.verified": ("deployment", frozenset({"operator", "admin"})),
    "incident.opened": ("incident", frozenset({"operator", "admin"})),
    "incident.resolved": ("incident", frozenset({"operator", "admin"})),
    "review.recorded": ("incident", frozenset({"operator", "admin"})),
    "retraining.triggered": ("model", frozenset({"pipeline", "admin"})),
    "model.retired": ("model", frozenset({"approver", "admin"})),
    "policy.denied": ("any", frozenset()),
}

RAW = read_schemas(SCHEMA_DIR)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.from_schemas(RAW)


def example(type_name: str) -> dict[str, object]:
    examples = RAW[type_name]["examples"]
    assert isinstance(examples, list)
    data = copy.deepcopy(examples[0])
    assert isinstance(data, dict)
    return data


def example_subject(type_name: str) -> str:
    meta = RAW[type_name]["x-ledger"]
    assert isinstance(meta, dict)
    subject = meta["example_subject"]
    assert isinstance(subject, str)
    return subject


def test_the_catalogue_holds_every_type_issue_4_names_with_its_subject_and_roles(
    catalogue: Catalogue,
) -> None:
    assert set(ISSUE_4_TYPES) <= set(catalogue.types)
    for name, (kind, roles) in ISSUE_4_TYPES.items():
        assert (catalogue.get(name).subject_kind, catalogue.allowed_roles(name)) == (kind, roles)


@pytest.mark.parametrize("type_name", sorted(RAW))
def test_every_schema_is_a_valid_2020_12_schema_with_ledger_metadata(type_name: str) -> None:
    schema = RAW[type_name]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:rollout-ledger:event:{type_name}"
    assert schema["title"] == type_name
    assert isinstance(schema["description"], str)
    assert "\n" not in schema["description"]
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    meta = schema["x-ledger"]
    assert isinstance(meta, dict)
    assert meta["schema_version"] == 1
    assert isinstance(meta["subject_kind"], str)
    assert set(meta["roles"]) <= ROLES
    assert "auditor" not in meta["roles"]
    assert meta["roles"] == [] or "admin" in meta["roles"]


@pytest.mark.parametrize("type_name", sorted(RAW))
def test_every_schema_example_validates_and_fits_its_example_subject(
    catalogue: Catalogue, type_name: str
) -> None:
    examples = RAW[type_name]["examples"]
    assert isinstance(examples, list)
    assert len(examples) == 1
    catalogue.validate(type_name, example(type_name))
    catalogue.check_subject(type_name, example_subject(type_name))


def test_the_event_type_entry_exposes_the_schema_metadata(catalogue: Catalogue) -> None:
    entry = catalogue.get("deployment.decided")
    assert (entry.name, entry.schema_version, entry.subject_kind, entry.roles) == (
        "deployment.decided",
        1,
        "model@version",
        ("approver", "admin"),
    )
    assert entry.description == RAW["deployment.decided"]["description"]
    assert entry.schema == RAW["deployment.decided"]
    assert entry.schema is not RAW["deployment.decided"]


def _with(type_name: str, path: str, value: object) -> dict[str, object]:
    """The example with ``path`` (dotted; digits index lists) set, or deleted if value is ...."""
    data = example(type_name)
    *parents, last = path.split(".")
    node: object = data
    for part in parents:
        if isinstance(node, list):
            node = node[int(part)]
        else:
            assert isinstance(node, dict)
            node = node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        assert isinstance(node, dict)
        if value is ...:
            del node[last]
        else:
            node[last] = value
    return data


INVALID = [
    # (type, path to change, new value or ... to delete, expected field, expected message)
    (
        "test.result.recorded",
        "metrics.auc",
        "x",
        "data.metrics.auc",
        "data.metrics.auc: 'x' is not of type 'number'",
    ),
    (
        "model.registered",
        "risk_tier",
        "extreme",
        "data.risk_tier",
        "data.risk_tier: 'extreme' is not one of ['low', 'medium', 'high', 'critical']",
    ),
    (
        "model.registered",
        "owner",
        ...,
        "data.owner",
        "data.owner: required field is missing",
    ),
    (
        "model.registered",
        "colour",
        "blue",
        "data.colour",
        "data.colour: unexpected field (not in the schema)",
    ),
    (
        "model.version.registered",
        "artifact_digest",
        "sha256:ABC",
        "data.artifact_digest",
        "data.artifact_digest: 'sha256:ABC' does not match '^sha256:[0-9a-f]{64}$'",
    ),
    (
        "model.version.registered",
        "parameters.layers",
        [1, 2],
        "data.parameters.layers",
        "data.parameters.layers: [1, 2] is not of type 'string', 'number', 'boolean', 'null'",
    ),
    (
        "dataset.version.registered",
        "source",
        "not a uri",
        "data.source",
        "data.source: 'not a uri' is not a 'uri'",
    ),
    (
        "dataset.version.registered",
        "row_count",
        -1,
        "data.row_count",
        "data.row_count: -1 is less than the minimum of 0",
    ),
    (
        "dataset.version.registered",
        "time_range.end",
        "2026-02-30T00:00:00Z",
        "data.time_range.end",
        "data.time_range.end: '2026-02-30T00:00:00Z' is not a 'date-time'",
    ),
    (
        "lineage.edge.recorded",
        "relation",
        "depends_on",
        "data.relation",
        "data.relation: 'depends_on' is not one of ['trained_on', 'evaluated_on', "
        "'derived_from', 'feature_of', 'deployed_as', 'replaces', 'produced_by', "
        "'consumed_by']",
    ),
    (
        "test.result.recorded",
        "kind",
        "smoke",
        "data.kind",
        "data.kind: 'smoke' is not one of ['unit', 'integration', 'end_to_end', 'evaluation', "
        "'fairness', 'latency', 'load', 'shadow', 'canary_analysis']",
    ),
    (
        "test.result.recorded",
        "thresholds.auc",
        {},
        "data.thresholds.auc",
        "data.thresholds.auc: {} should be non-empty",
    ),
    (
        "approval.granted",
        "evidence.0.hash",
        "abc",
        "data.evidence[0].hash",
        "data.evidence[0].hash: 'abc' does not match '^[0-9a-f]{64}$'",
    ),
    (
        "approval.granted",
        "environment",
        "Prod EU",
        "data.environment",
        "data.environment: 'Prod EU' does not match '^[a-z][a-z0-9_-]{0,31}$'",
    ),
    (
        "deployment.decided",
        "target_exposure",
        ...,
        "data.target_exposure",
        "data.target_exposure: required field is missing",
    ),
    (
        "deployment.decided",
        "target_exposure",
        0,
        "data.target_exposure",
        "data.target_exposure: 0 is less than or equal to the minimum of 0",
    ),
    (
        "rollout.stage.changed",
        "exposure_percent",
        101,
        "data.exposure_percent",
        "data.exposure_percent: 101 is greater than the maximum of 100",
    ),
    (
        "rollout.stage.changed",
        "strategy",
        "full",
        "data.exposure_percent",
        "data.exposure_percent: 100 was expected",
    ),
    (
        "rollout.stage.changed",
        "expires_at",
        "tomorrow",
        "data.expires_at",
        "data.expires_at: 'tomorrow' is not a 'date-time'",
    ),
    (
        "policy.defined",
        "environments.prod.rollback_thresholds.0.comparator",
        "above",
        "data.environments.prod.rollback_thresholds[0].comparator",
        "data.environments.prod.rollback_thresholds[0].comparator: 'above' is not one of "
        "['gt', 'gte', 'lt', 'lte']",
    ),
    (
        "policy.defined",
        "environments.prod.required_approvals.count",
        ...,
        "data.environments.prod.required_approvals.count",
        "data.environments.prod.required_approvals.count: required field is missing",
    ),
    (
        "alert.raised",
        "severity",
        "page",
        "data.severity",
        "data.severity: 'page' is not one of ['info', 'warning', 'critical']",
    ),
    (
        "retraining.triggered",
        "metric",
        ...,
        "data.metric",
        "data.metric: required field is missing",
    ),
    (
        "review.recorded",
        "actions.0.due",
        "next week",
        "data.actions[0].due",
        "data.actions[0].due: 'next week' is not a 'date'",
    ),
    (
        "policy.denied",
        "unmet",
        [],
        "data.unmet",
        "data.unmet: [] should be non-empty",
    ),
]


@pytest.mark.parametrize(
    ("type_name", "path", "value", "field", "message"),
    INVALID,
    ids=[f"{row[0]}:{row[1]}" for row in INVALID],
)
def test_an_invalid_payload_is_rejected_naming_the_field_path(
    catalogue: Catalogue, type_name: str, path: str, value: object, field: str, message: str
) -> None:
    with pytest.raises(SchemaViolation) as caught:
        catalogue.validate(type_name, _with(type_name, path, value))
    assert (caught.value.field, caught.value.message, caught.value.code) == (
        field,
        message,
        "schema_violation",
    )


def test_a_payload_that_is_not_an_object_is_rejected_at_data(catalogue: Catalogue) -> None:
    with pytest.raises(SchemaViolation) as caught:
        catalogue.validate("model.retired", ["retired"])
    assert (caught.value.field, caught.value.message) == (
        "data",
        "data: ['retired'] is not of type 'object'",
    )


def test_a_map_key_that_is_not_a_plain_name_is_quoted_in_the_field_path(
    catalogue: Catalogue,
) -> None:
    data = example("model.version.registered")
    data["parameters"] = {"learning rate": [0.1]}
    with pytest.raises(SchemaViolation) as caught:
        catalogue.validate("model.version.registered", data)
    assert caught.value.field == "data.parameters['learning rate']"


def test_a_metric_name_that_breaks_the_naming_rule_is_reported_at_its_map(
    catalogue: Catalogue,
) -> None:
    data = example("test.result.recorded")
    data["metrics"] = {"auc @1%": 0.9}
    with pytest.raises(SchemaViolation) as caught:
        catalogue.validate("test.result.recorded", data)
    assert caught.value.field == "data.metrics"
    assert caught.value.message.startswith("data.metrics: 'auc @1%' does not match")


def test_the_same_bad_payload_always_reports_the_same_error(catalogue: Catalogue) -> None:
    data = example("alert.raised")
    data.update(observed="high", severity="page", colour="blue")
    del data["metric"]
    messages = set()
    for _ in range(5):
        with pytest.raises(SchemaViolation) as caught:
            Catalogue.from_schemas(RAW).validate("alert.raised", data)
        messages.add(caught.value.message)
    assert len(messages) == 1


def test_a_long_offending_value_is_cut_to_keep_the_message_on_one_line(
    catalogue: Catalogue,
) -> None:
    data = example("model.registered")
    data["owner"] = {"notes": "x\n" * 1000}
    with pytest.raises(SchemaViolation) as caught:
        catalogue.validate("model.registered", data)
    assert "\n" not in caught.value.message
    assert len(caught.value.message) <= 300
    assert caught.value.message.startswith("data.owner: {")


UNKNOWN_TYPE_CALLS: dict[str, Callable[[Catalogue], object]] = {
    "get": lambda c: c.get("model.teleported"),
    "allowed_roles": lambda c: c.allowed_roles("model.teleported"),
    "validate": lambda c: c.validate("model.teleported", {}),
    "check_subject": lambda c: c.check_subject("model.teleported", "model:x"),
    "upcast": lambda c: c.upcast("model.teleported", 1, {}),
}


@pytest.mark.parametrize("method", sorted(UNKNOWN_TYPE_CALLS))
def test_an_unknown_type_is_an_invalid_event_on_the_type_field(
    catalogue: Catalogue, method: str
) -> None:
    with pytest.raises(InvalidEvent) as caught:
        UNKNOWN_TYPE_CALLS[method](catalogue)
    assert type(caught.value) is InvalidEvent
    assert (caught.value.field, caught.value.message) == (
        "type",
        "unknown event type 'model.teleported'",
    )


@pytest.mark.parametrize(
    ("type_name", "subject"),
    [
        ("model.registered", "model:fraud-detector"),
        ("model.version.registered", "model:fraud-detector@1.4.0"),
        ("dataset.version.registered", "dataset:transactions@2026-11-01"),
        ("rollout.stage.changed", "deployment:fraud-detector/prod"),
        ("incident.opened", "incident:INC-204"),
        ("policy.defined", "policy:high-risk"),
        ("lineage.edge.recorded", "dataset:s3://lake/transactions"),
        ("lineage.edge.recorded", "feature:merchant_risk_30d@v3"),
        ("policy.denied", "deployment:credit-limit/prod"),
    ],
)
def test_a_subject_of_the_right_kind_is_accepted(
    catalogue: Catalogue, type_name: str, subject: str
) -> None:
    catalogue.check_subject(type_name, subject)


@pytest.mark.parametrize(
    ("type_name", "subject", "message"),
    [
        (
            "model.registered",
            "model:fraud-detector@1.4.0",
            "subject: model.registered is about the model itself, not a version; "
            "use 'model:fraud-detector' instead of 'model:fraud-detector@1.4.0'",
        ),
        (
            "model.version.registered",
            "model:fraud-detector",
            "subject: model.version.registered needs a versioned reference "
            "'model:name@version', got 'model:fraud-detector'",
        ),
        (
            "approval.granted",
            "dataset:transactions@2026-11-01",
            "subject: approval.granted is about a 'model', not a 'dataset' "
            "('dataset:transactions@2026-11-01')",
        ),
        (
            "rollout.stage.changed",
            "model:fraud-detector@1.4.0",
            "subject: rollout.stage.changed is about a 'deployment', not a 'model' "
            "('model:fraud-detector@1.4.0')",
        ),
    ],
)
def test_a_subject_of_the_wrong_kind_or_versionness_is_rejected(
    catalogue: Catalogue, type_name: str, subject: str, message: str
) -> None:
    with pytest.raises(InvalidEvent) as caught:
        catalogue.check_subject(type_name, subject)
    assert (caught.value.field, caught.value.message) == ("subject", message)


@pytest.mark.parametrize("subject", ["fraud-detector", "model:", "Model:x", "model:a b"])
def test_a_malformed_subject_is_rejected_even_where_any_kind_is_allowed(
    catalogue: Catalogue, subject: str
) -> None:
    with pytest.raises(InvalidEvent) as caught:
        catalogue.check_subject("lineage.edge.recorded", subject)
    assert caught.value.field == "subject"


def _versioned_schema(version: int) -> dict[str, Mapping[str, object]]:
    """A tiny two-version type: v1 had ``accuracy`` in percent; v2 has ``metrics.accuracy``."""
    return {
        "demo.measured": {
            "description": "A demo type.",
            "x-ledger": {"schema_version": version, "subject_kind": "model", "roles": ["admin"]},
            "type": "object",
            "additionalProperties": False,
            "required": ["metrics"],
            "properties": {
                "metrics": {"type": "object", "additionalProperties": {"type": "number"}}
            },
        }
    }


def _v1_to_v2(data: dict[str, object]) -> dict[str, object]:
    accuracy = data.pop("accuracy_percent")
    assert isinstance(accuracy, int | float)
    return {**data, "metrics": {"accuracy": accuracy / 100}}


def test_an_older_payload_is_upcast_to_the_current_schema_version() -> None:
    catalogue = Catalogue.from_schemas(_versioned_schema(2))
    catalogue.register_upcast("demo.measured", 1, _v1_to_v2)
    old = {"accuracy_percent": 93}
    new = catalogue.upcast("demo.measured", 1, old)
    assert new == {"metrics": {"accuracy": 0.93}}
    assert old == {"accuracy_percent": 93}  # the stored payload is never changed
    catalogue.validate("demo.measured", new)


def test_a_current_payload_comes_back_unchanged_from_upcast(catalogue: Catalogue) -> None:
    data = example("model.retired")
    assert catalogue.upcast("model.retired", 1, data) == data


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (1, "demo.measured: no upcast from schema_version 1 to 2"),
        (3, "demo.measured: schema_version 3 is not known (current is 2)"),
        (0, "demo.measured: schema_version 0 is not known (current is 2)"),
    ],
)
def test_upcast_refuses_versions_it_cannot_bridge(version: int, message: str) -> None:
    catalogue = Catalogue.from_schemas(_versioned_schema(2))
    with pytest.raises(InvalidEvent) as caught:
        catalogue.upcast("demo.measured", version, {"accuracy_percent": 93})
    assert (caught.value.field, caught.value.message) == ("schema_version", message)


def test_register_upcast_refuses_a_step_at_or_past_the_current_version_or_twice() -> None:
    catalogue = Catalogue.from_schemas(_versioned_schema(2))
    with pytest.raises(ValueError, match="current is 2"):
        catalogue.register_upcast("demo.measured", 2, _v1_to_v2)
    catalogue.register_upcast("demo.measured", 1, _v1_to_v2)
    with pytest.raises(ValueError, match="already registered"):
        catalogue.register_upcast("demo.measured", 1, _v1_to_v2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"x-ledger": None}, "demo.measured: schema has no 'x-ledger' object"),
        (
            {"x-ledger": {"schema_version": 0, "subject_kind": "model", "roles": []}},
            "demo.measured: x-ledger.schema_version must be an integer >= 1",
        ),
        (
            {"x-ledger": {"schema_version": 1, "subject_kind": "Model", "roles": []}},
            "demo.measured: x-ledger.subject_kind must be 'kind', 'kind@version' or 'any'",
        ),
        (
            {"x-ledger": {"schema_version": 1, "subject_kind": "model", "roles": ["root"]}},
            "demo.measured: x-ledger.roles names unknown roles ['root']",
        ),
        ({"description": ""}, "demo.measured: schema has no description"),
        (
            {"$schema": "http://json-schema.org/draft-07/schema#"},
            "demo.measured: $schema must be 'https://json-schema.org/draft/2020-12/schema', "
            "not 'http://json-schema.org/draft-07/schema#'",
        ),
        ({"type": "thing"}, "demo.measured: not a valid JSON Schema: 'thing' is not valid"),
    ],
)
def test_a_broken_schema_fails_when_the_catalogue_is_built(
    change: dict[str, object], message: str
) -> None:
    schema = dict(_versioned_schema(1)["demo.measured"])
    schema.update(change)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        Catalogue.from_schemas({"demo.measured": schema})


def test_load_catalogue_finds_every_shipped_type_from_the_source_tree() -> None:
    assert set(load_catalogue().types) == set(RAW) >= set(ISSUE_4_TYPES)
    assert set(load_catalogue(SCHEMA_DIR).types) == set(RAW)


def test_the_packaged_schema_directory_holds_the_same_files_as_the_repository() -> None:
    found = schema_dir()
    assert {e.name for e in found.iterdir()} == {p.name for p in SCHEMA_DIR.iterdir()}
    for entry in found.iterdir():
        assert json.loads(entry.read_text()) == RAW[entry.name.removesuffix(".json")]


def test_load_catalogue_names_the_directory_when_nothing_is_there(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_catalogue(tmp_path)


def test_a_schema_file_that_is_not_json_is_named_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "model.registered.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"^model\.registered\.json: not valid JSON"):
        load_catalogue(tmp_path)
