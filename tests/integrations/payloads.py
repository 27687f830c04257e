"""Foreign payloads as their producers send them, shaped after each project's documentation.

OpenLineage events follow the spec's examples (spec/OpenLineage.md, the facet
docs and spec/tests/*/1.json); Flagger and MLflow payloads follow the shapes
their webhook code sends (Flagger's CanaryWebhookPayload, MLflow's webhook
envelope ``{entity, action, timestamp, data}``).
"""

from __future__ import annotations

import copy
from typing import Any

RUN_ID = "0176a8c2-fe01-7439-87e6-56a1a1b4029f"
SCHEMA_RUN = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
SCHEMA_DATASET = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent"
SCHEMA_JOB = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent"
PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.24.2/client/python"

# The spec's minimal RunEvent (spec/OpenLineage.md), with its 1-0-5 schema URL.
SPEC_START: dict[str, Any] = {
    "eventType": "START",
    "eventTime": "2020-12-28T19:52:00.001+10:00",
    "run": {"runId": RUN_ID},
    "job": {"namespace": "my-scheduler-namespace", "name": "myjob.mytask"},
    "inputs": [{"namespace": "my-datasource-namespace", "name": "instance.schema.table"}],
    "outputs": [{"namespace": "my-datasource-namespace", "name": "instance.schema.output_table"}],
    "producer": "https://github.com/OpenLineage/OpenLineage/blob/v1-0-0/client",
    "schemaURL": "https://openlineage.io/spec/1-0-5/OpenLineage.json#/definitions/RunEvent",
}

# An Airflow-style COMPLETE: schema and version facets, a custom facet nobody knows.
AIRFLOW_COMPLETE: dict[str, Any] = {
    "eventType": "COMPLETE",
    "eventTime": "2026-11-20T09:14:03.123456Z",
    "run": {
        "runId": "3b452093-782c-4ef2-9c0c-aafe2aa6f34d",
        "facets": {
            "nominalTime": {
                "_producer": PRODUCER,
                "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/NominalTimeRunFacet.json",
                "nominalStartTime": "2026-11-20T09:00:00Z",
            },
            "acme_costCenter": {"_producer": "https://acme.example/ol", "team": "fraud-ml"},
        },
    },
    "job": {"namespace": "airflow", "name": "fraud_features.build"},
    "inputs": [
        {
            "namespace": "s3://lake",
            "name": "transactions",
            "facets": {
                "schema": {
                    "_producer": PRODUCER,
                    "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
                    "fields": [{"name": "amount", "type": "double"}],
                },
                "version": {
                    "_producer": PRODUCER,
                    "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json",
                    "datasetVersion": "2026-11-01",
                },
            },
        }
    ],
    "outputs": [
        {
            "namespace": "s3://lake",
            "name": "fraud_features",
            "outputFacets": {
                "outputStatistics": {"_producer": PRODUCER, "rowCount": 48213377, "size": 9125421}
            },
        }
    ],
    "producer": "https://github.com/apache/airflow/tree/providers-openlineage/2.1.0",
    "schemaURL": SCHEMA_RUN,
}

# Column lineage exactly as spec/tests/ColumnLineageDatasetFacet/1.json has it, on a Spark output.
SPARK_COLUMNS: dict[str, Any] = {
    "eventType": "COMPLETE",
    "eventTime": "2026-11-20T10:00:00Z",
    "run": {"runId": "a8f7cf7a-8a3e-4e8a-9d1c-1f2e3d4c5b6a"},
    "job": {"namespace": "spark", "name": "customer_discounts"},
    "inputs": [
        {"namespace": "SnowflakeOpenLineage", "name": "CUSTOMERS"},
        {"namespace": "SnowflakeOpenLineage", "name": "DISCOUNTS"},
    ],
    "outputs": [
        {
            "namespace": "SnowflakeOpenLineage",
            "name": "CUSTOMER_DISCOUNTS",
            "facets": {
                "columnLineage": {
                    "_producer": PRODUCER,
                    "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json",
                    "fields": {
                        "NAME": {
                            "inputFields": [
                                {
                                    "namespace": "SnowflakeOpenLineage",
                                    "name": "CUSTOMERS",
                                    "field": "NAME",
                                    "transformations": [{"type": "DIRECT", "masking": False}],
                                },
                                {
                                    "namespace": "SnowflakeOpenLineage",
                                    "name": "CUSTOMERS",
                                    "field": "ID",
                                    "transformations": [
                                        {
                                            "type": "INDIRECT",
                                            "subtype": "FILTER",
                                            "description": (
                                                "ON (DISCOUNTS.CUSTOMERS_ID=CUSTOMERS.ID)"
                                            ),
                                        }
                                    ],
                                },
                            ],
                            "transformationDescription": "SELECT NAME",
                            "transformationType": "IDENTITY",
                        }
                    },
                    "dataset": [
                        {
                            "namespace": "SnowflakeOpenLineage",
                            "name": "DISCOUNTS",
                            "field": "CUSTOMERS_ID",
                            "transformations": [{"type": "INDIRECT", "subtype": "JOIN"}],
                        }
                    ],
                }
            },
        }
    ],
    "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.24.2/integration/spark",
    "schemaURL": SCHEMA_RUN,
}

# A Great Expectations validation: assertions and metrics as input facets.
GE_VALIDATION: dict[str, Any] = {
    "eventType": "COMPLETE",
    "eventTime": "2026-11-20T11:00:05Z",
    "run": {"runId": "a1b2c3d4-e5f6-7890-abcd-ef1234567890"},
    "job": {"namespace": "great_expectations://default", "name": "daily_validation.users_suite"},
    "inputs": [
        {
            "namespace": "postgres_prod",
            "name": "public.users",
            "inputFacets": {
                "dataQualityMetrics": {
                    "_producer": "https://greatexpectations.io",
                    "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/DataQualityMetricsInputDatasetFacet.json",
                    "rowCount": 1234567,
                    "columnMetrics": {"user_id": {"nullCount": 0, "distinctCount": 1234567}},
                },
                "dataQualityAssertions": {
                    "_producer": "https://greatexpectations.io",
                    "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/DataQualityAssertionsDatasetFacet.json",
                    "assertions": [
                        {
                            "assertion": "expect_column_values_to_not_be_null",
                            "success": True,
                            "column": "user_id",
                        },
                        {
                            "assertion": "expect_column_values_to_be_unique",
                            "success": False,
                            "column": "email",
                        },
                    ],
                },
            },
        }
    ],
    "outputs": [],
    "producer": "https://github.com/correlator-io/correlator-ge/0.0.1",
    "schemaURL": SCHEMA_RUN,
}

# dbt test results as a TestRunFacet on the run.
DBT_TESTS: dict[str, Any] = {
    "eventType": "COMPLETE",
    "eventTime": "2026-11-20T12:00:00Z",
    "run": {
        "runId": "6f9a0c4e-2b7d-4e1a-9c3b-8d5e6f7a8b9c",
        "facets": {
            "test": {
                "_producer": "https://github.com/OpenLineage/OpenLineage/tree/1.40.0/integration/dbt",
                "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/TestRunFacet.json",
                "tests": [
                    {"name": "assert_no_orphans", "status": "pass", "severity": "error"},
                    {
                        "name": "orders_row_count",
                        "status": "fail",
                        "severity": "warn",
                        "type": "row_count",
                        "expected": "1000",
                        "actual": "999",
                    },
                    {"name": "freshness", "status": "skip"},
                ],
            }
        },
    },
    "job": {"namespace": "dbt", "name": "jaffle_shop.test"},
    "inputs": [{"namespace": "postgres://db:5432", "name": "shop.public.orders"}],
    "outputs": [],
    "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.40.0/integration/dbt",
    "schemaURL": SCHEMA_RUN,
}

DATASET_EVENT: dict[str, Any] = {
    "eventTime": "2026-11-20T13:00:00Z",
    "dataset": {
        "namespace": "s3://lake",
        "name": "transactions",
        "facets": {"documentation": {"_producer": PRODUCER, "description": "Card transactions"}},
    },
    "producer": PRODUCER,
    "schemaURL": SCHEMA_DATASET,
}

JOB_EVENT: dict[str, Any] = {
    "eventTime": "2026-11-20T13:05:00Z",
    "job": {"namespace": "airflow", "name": "fraud_features.build"},
    "inputs": [{"namespace": "s3://lake", "name": "transactions"}],
    "outputs": [{"namespace": "s3://lake", "name": "fraud_features"}],
    "producer": PRODUCER,
    "schemaURL": SCHEMA_JOB,
}


def run_event(event_type: str, event_time: str, **changes: Any) -> dict[str, Any]:
    """The spec's START event with another type and time (and any top-level changes)."""
    event = copy.deepcopy(SPEC_START)
    event.update(eventType=event_type, eventTime=event_time, **changes)
    return event


# ---- Flagger -------------------------------------------------------------------------------


def flagger_event(message: str, *, weight: int = 0, phase: str = "Progressing") -> dict[str, Any]:
    """The body of Flagger's event webhook (CallEventWebhook), with ledger metadata."""
    return {
        "name": "fraud-detector",
        "namespace": "prod",
        "phase": phase,
        "checksum": "85d557f47b",
        "buildId": "",
        "type": "event",
        "failedChecks": 0,
        "canaryWeight": weight,
        "iterations": 0,
        "remainingTime": 0,
        "metadata": {
            "eventMessage": message,
            "eventType": "Normal",
            "timestamp": "1795163643123",
            "phase": phase,
            "canaryWeight": str(weight),
            "deployment": "fraud-detector/prod",
            "version": "1.4.0",
        },
    }


def flagger_gate(kind: str, *, weight: int = 0, **metadata: str) -> dict[str, Any]:
    """The body of a confirm-* webhook (CallWebhook)."""
    return {
        "name": "fraud-detector",
        "namespace": "prod",
        "phase": "WaitingPromotion" if kind == "confirm-promotion" else "Progressing",
        "checksum": "85d557f47b",
        "type": kind,
        "canaryWeight": weight,
        "metadata": {
            "timestamp": "1795163643123",
            "canaryWeight": str(weight),
            "deployment": "fraud-detector/prod",
            "version": "1.4.0",
            **metadata,
        },
    }


# ---- MLflow --------------------------------------------------------------------------------

MLFLOW_TIME = "2026-11-20T09:14:03.123456+00:00"

MLFLOW_TAGS = {
    "ledger.artifact_digest": "3f" * 32,
    "mlflow.source.git.commit": "4f1c2e9",
    "mlflow.source.git.repoURL": "https://git.example.com/fraud-models",
    "mlflow.user": "alice",
}


def mlflow_envelope(
    entity: str, action: str, data: dict[str, Any], at: str = MLFLOW_TIME
) -> dict[str, Any]:
    """The JSON MLflow's webhook delivery POSTs (mlflow/webhooks/delivery.py)."""
    return {"entity": entity, "action": action, "timestamp": at, "data": data}


def mlflow_version_created(**tags: str) -> dict[str, Any]:
    return mlflow_envelope(
        "model_version",
        "created",
        {
            "name": "fraud-detector",
            "version": "7",
            "source": "models:/m-0a1b2c3d4e5f",
            "run_id": "8c1b0e4f2a9d",
            "tags": {**MLFLOW_TAGS, **tags},
            "description": "Retrained on November data",
        },
    )


# ---- Argo Rollouts ---------------------------------------------------------------------------

ARGO_STEPS: list[dict[str, Any]] = [
    {"setWeight": 10},
    {"pause": {"duration": "10m"}},
    {"setWeight": 50},
    {"analysis": {"templates": [{"templateName": "success-rate"}]}},
    {"pause": {}},
]


def argo_notification(event: str, step: int = 0, **fields: Any) -> dict[str, Any]:
    """The body the documented notification template renders for ``event``."""
    return {
        "event": event,
        "rollout": "fraud-detector",
        "namespace": "prod",
        "deployment": "fraud-detector/prod",
        "version": "1.4.0",
        "revision": "3",
        "step": str(step),
        "steps": ARGO_STEPS,
        "phase": "Progressing",
        "message": "",
        **fields,
    }
