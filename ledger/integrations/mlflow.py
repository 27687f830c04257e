"""MLflow model registry webhooks -> ledger drafts, and their HMAC check (pure, no I/O).

MLflow (OSS, 3.x) POSTs ``{"entity", "action", "timestamp", "data"}`` with
``X-MLflow-Delivery-Id``, ``X-MLflow-Timestamp`` (Unix seconds) and, when the
webhook has a secret, ``X-MLflow-Signature: v1,<base64 HMAC-SHA256>`` over
``<delivery id>.<timestamp>.<body>``. Every verified delivery is recorded
verbatim as ``mlflow.webhook.received``; on top of that:

- ``model_version.created`` -> ``model.version.registered`` when the version's
  tags carry what the ledger requires (:data:`TAGS`); otherwise the raw record
  lists what was missing in ``not_registered``;
- ``registered_model.created`` -> ``model.registered`` likewise;
- ``model_version_alias.created|deleted`` -> ``model.alias.changed``, so
  :func:`aliases_at` answers "what was the production alias at T";
- ``model_version_tag.set|deleted`` -> ``model.tag.changed``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping

from ledger.errors import Unauthorized
from ledger.events import EventDraft
from ledger.integrations._common import (
    Translation,
    as_object,
    ref_part,
    safe_ref,
    stable_id,
    text,
    to_time,
)

__all__ = ["TAGS", "aliases_at", "model_ref", "sign", "translate", "verify"]

TAGS = {
    "artifact_digest": ("ledger.artifact_digest", "artifact_digest"),
    "code_ref": ("ledger.code_ref",),
    "author": ("ledger.author", "mlflow.user"),
    "training_run": ("ledger.training_run",),
    "owner": ("ledger.owner", "owner"),
    "risk_tier": ("ledger.risk_tier", "risk_tier"),
    "business_process": ("ledger.business_process",),
}
"""Tags (first found wins) that supply what ``model.version.registered`` and
``model.registered`` require beyond MLflow's own fields."""

_HEX = re.compile(r"(?:sha256:)?([0-9a-f]{64})")
_TIERS = ("low", "medium", "high", "critical")


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The ``X-MLflow-Signature`` value MLflow sends for ``body``."""
    content = f"{delivery_id}.{timestamp}.".encode() + body
    mac = hmac.new(secret.encode(), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, now: float, tolerance: float = 300
) -> str:
    """Check a delivery's signature and freshness; return its delivery id.

    Raises:
        Unauthorized: a header is missing, the timestamp is more than
            ``tolerance`` seconds from ``now``, or no signature matches.
    """
    delivery = headers.get("x-mlflow-delivery-id", "")
    stamp = headers.get("x-mlflow-timestamp", "")
    given = headers.get("x-mlflow-signature", "")
    if not delivery or not stamp.isdigit() or not given:
        raise Unauthorized(
            "X-MLflow-Signature: a signed delivery needs X-MLflow-Delivery-Id, "
            "X-MLflow-Timestamp and X-MLflow-Signature (set a secret on the webhook)",
            field="X-MLflow-Signature",
        )
    if abs(now - int(stamp)) > tolerance:
        raise Unauthorized(
            f"X-MLflow-Timestamp: {stamp} is more than {tolerance:g} s from the server's clock",
            field="X-MLflow-Timestamp",
        )
    expected = sign(secret, delivery, stamp, body)
    if not any(hmac.compare_digest(expected, s) for s in given.split()):
        raise Unauthorized("X-MLflow-Signature: does not match", field="X-MLflow-Signature")
    return delivery


def _tag(tags: Mapping[str, object], name: str) -> str | None:
    for key in TAGS[name]:
        value = tags.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def model_ref(name: str, version: str | None = None) -> str:
    """``model:<name>[@<version>]`` for an MLflow registered model name."""
    suffix = f"@{ref_part(version)}" if version else ""
    return safe_ref(f"model:{ref_part(name)}", suffix)


def _version_registered(data: Mapping[str, object], missing: list[str]) -> dict[str, object]:
    tags = data.get("tags") if isinstance(data.get("tags"), dict) else {}
    assert isinstance(tags, dict)
    out: dict[str, object] = {}
    found = _HEX.fullmatch(_tag(tags, "artifact_digest") or "")
    if found:
        out["artifact_digest"] = f"sha256:{found.group(1)}"
    run_id = data.get("run_id")
    run = f"run:mlflow/{run_id}" if isinstance(run_id, str) and run_id else None
    commit, repo = tags.get("mlflow.source.git.commit"), tags.get("mlflow.source.git.repoURL")
    git = f"git+{repo}@{commit}" if isinstance(commit, str) and isinstance(repo, str) else None
    for key, value in (
        ("training_run", run or _tag(tags, "training_run")),
        ("code_ref", _tag(tags, "code_ref") or git),
        ("author", _tag(tags, "author")),
    ):
        if value:
            out[key] = value[:200] if key != "code_ref" else value[:512]
    source = data.get("source")
    if isinstance(source, str) and ":" in source and " " not in source and len(source) <= 2048:
        out["artifact_uri"] = source
    for key in ("artifact_digest", "training_run", "code_ref", "author"):
        if key not in out:
            missing.append(f"{key}: set one of the tags {', '.join(TAGS[key])}")
    return out


def _model_registered(data: Mapping[str, object], missing: list[str]) -> dict[str, object]:
    tags = data.get("tags") if isinstance(data.get("tags"), dict) else {}
    assert isinstance(tags, dict)
    out: dict[str, object] = {}
    for key in ("owner", "risk_tier", "business_process"):
        value = _tag(tags, key)
        if value and (key != "risk_tier" or value in _TIERS):
            out[key] = value[:200]
        else:
            missing.append(f"{key}: set one of the tags {', '.join(TAGS[key])}")
    description = data.get("description")
    if isinstance(description, str) and description.strip():
        out["description"] = description[:4000]
    else:
        missing.append("description: give the registered model a description")
    return out


def translate(envelope: object, delivery_id: str) -> Translation:
    """The drafts one verified MLflow delivery becomes (see the module docstring).

    Raises:
        BadRequest: not an MLflow webhook envelope.
        InvalidEvent: a bad timestamp or a name that cannot be a reference.
    """
    body = as_object(envelope, "body")
    entity, action = text(body.get("entity"), "entity"), text(body.get("action"), "action")
    when = to_time(body.get("timestamp"), "timestamp")
    data = as_object(body.get("data"), "data")
    name = text(data.get("name"), "data.name")
    version = data.get("version") if isinstance(data.get("version"), str | int) else None
    version = None if version is None else str(version)
    event = f"{entity}.{action}"
    kind = "prompt" if entity.startswith("prompt") else "model"
    subject = model_ref(name, version).replace("model:", f"{kind}:", 1)
    raw: dict[str, object] = {"event": event, "delivery_id": delivery_id[:200], "payload": body}
    derived: list[tuple[str, str, dict[str, object]]] = []
    missing: list[str] = []
    if event == "model_version.created" and version is not None:
        registered = _version_registered(data, missing)
        if not missing:
            derived.append(("model.version.registered", subject, registered))
    elif event == "registered_model.created":
        registered = _model_registered(data, missing)
        if not missing:
            derived.append(("model.registered", model_ref(name), registered))
    elif entity == "model_version_alias" and action in ("created", "deleted"):
        alias = text(data.get("alias"), "data.alias")[:256]
        change: dict[str, object] = {"alias": alias, "action": "set", "registry": "mlflow"}
        if action == "deleted":
            change["action"] = "deleted"
        elif version is not None:
            change["version"] = model_ref(name, version)
        derived.append(("model.alias.changed", model_ref(name), change))
        subject = model_ref(name)
    elif entity == "model_version_tag" and action in ("set", "deleted") and version is not None:
        tag: dict[str, object] = {"key": text(data.get("key"), "data.key")[:256]}
        tag.update(action=action, registry="mlflow")
        if action == "set" and isinstance(data.get("value"), str):
            tag["value"] = str(data["value"])[:8000]
        derived.append(("model.tag.changed", subject, tag))
    if missing:
        raw["not_registered"] = missing
    drafts = [
        EventDraft.create(
            "mlflow.webhook.received",
            subject,
            raw,
            id=stable_id("mlflow", delivery_id),
            occurred_at=when,
        )
    ]
    for type_, ref, payload in derived:
        drafts.append(
            EventDraft.create(
                type_, ref, payload, id=stable_id("mlflow", delivery_id, type_), occurred_at=when
            )
        )
    notes = [f"{event} not registered in the ledger: " + "; ".join(missing)] if missing else []
    return Translation(drafts, notes)


def aliases_at(changes: Iterable[tuple[str, Mapping[str, object]]], at: str) -> dict[str, str]:
    """Each alias and the version it pointed at, at time ``at``.

    Args:
        changes: ``(occurred_at, data)`` of ``model.alias.changed`` events, in seq order.
        at: a time in the ledger's UTC form; later changes are ignored.
    """
    current: dict[str, str] = {}
    for when, data in sorted(changes, key=lambda c: c[0]):
        alias, version = data.get("alias"), data.get("version")
        if when > at or not isinstance(alias, str):
            continue
        if data.get("action") == "set" and isinstance(version, str):
            current[alias] = version
        else:
            current.pop(alias, None)
    return current
