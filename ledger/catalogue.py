"""The event catalogue: event type -> JSON Schema, subject kind, allowed roles, upcasts.

The catalogue is pure: it receives already-parsed schemas (the composition root
loads them from ``schema/events/`` with :mod:`ledger.schema_files`) and never
touches files, the clock or the environment. Each schema is a JSON Schema
(draft 2020-12) for the event's ``data``, plus an ``x-ledger`` object::

    "x-ledger": {"schema_version": 1, "subject_kind": "model@version",
                 "roles": ["approver", "admin"]}

``subject_kind`` is an entity kind (``model``), the same kind with a version
(``model@version``), or ``any``. ``roles`` lists the token roles that may
append the type; an empty list means only the ledger itself writes it
(``policy.denied``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, best_match

from ledger.errors import InvalidEvent, SchemaViolation
from ledger.projections.subjects import ANY_SUBJECT, subject_error

__all__ = [
    "ANY_SUBJECT",
    "ROLES",
    "Catalogue",
    "EventType",
    "Upcast",
]

ROLES = frozenset({"pipeline", "approver", "operator", "auditor", "admin"})
"""Every token role DESIGN.md knows; ``x-ledger.roles`` may only name these."""


Upcast = Callable[[dict[str, object]], dict[str, object]]
"""Turns a payload of schema version N into one of version N + 1; must be pure."""

_TYPE_NAME = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_SUBJECT_KIND = re.compile(r"[a-z][a-z0-9_-]{0,63}(@version)?")
_MAX_MESSAGE = 300
_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_PLAIN_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# jsonschema only checks "date-time" and "uri" when optional extras are
# installed; we register our own so validation never depends on what happens
# to be in the environment.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
# RFC 3986 section 3: an absolute URI is a scheme, ':', then no whitespace,
# no characters outside the URI alphabet, and only well-formed %-escapes.
_URI = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*:(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+",
    re.ASCII,
)


class _SchemaError(Protocol):
    message: str
    validator: str
    validator_value: object
    instance: object
    schema: Mapping[str, object]
    json_path: str


class _Validator(Protocol):
    def iter_errors(self, instance: object) -> Iterator[_SchemaError]: ...


@dataclass(frozen=True, slots=True)
class EventType:
    """One entry of the catalogue.

    Attributes:
        name: the dotted type name, e.g. ``model.version.registered``.
        schema_version: the current version of the payload schema; older
            payloads are upcast to it on read.
        subject_kind: ``kind``, ``kind@version`` or ``any``.
        roles: token roles allowed to append it, in the schema's order; empty
            when only the ledger writes it.
        description: one line, for docs and error messages.
        schema: the JSON Schema of ``data`` as given (``x-ledger`` included).
    """

    name: str
    schema_version: int
    subject_kind: str
    roles: tuple[str, ...]
    description: str
    schema: Mapping[str, object] = field(compare=False, repr=False)


def _is_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    if not _RFC3339.fullmatch(instance):
        return False
    try:
        # The regex fixed the shape; this catches impossible values (Feb 30, 25:00).
        datetime.fromisoformat(instance.upper())
    except ValueError:
        return False
    return True


def _is_uri(instance: object) -> bool:
    return not isinstance(instance, str) or _URI.fullmatch(instance) is not None


def _format_checker() -> FormatChecker:
    checker = FormatChecker()
    checker.checks("date-time")(_is_date_time)
    checker.checks("uri")(_is_uri)
    return checker


def _one_line(text: str) -> str:
    flat = text.replace("\r", " ").replace("\n", " ")
    return flat if len(flat) <= _MAX_MESSAGE else flat[: _MAX_MESSAGE - 3] + "..."


def _child(path: str, key: str) -> str:
    # The same spelling as jsonschema's ``json_path``, so every path reads alike.
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{escaped}']"


def _violation(error: _SchemaError) -> SchemaViolation:
    """Turn a jsonschema error into a one-line SchemaViolation naming the field path.

    ``required`` and ``additionalProperties`` errors are reported at the
    missing or unexpected field rather than at its parent, since that is the
    field the caller has to fix.
    """
    path = "data" + error.json_path[1:]
    instance = error.instance
    message = error.message
    if error.validator == "required" and isinstance(instance, Mapping):
        names = error.validator_value
        missing = [n for n in names if n not in instance] if isinstance(names, list) else []
        if missing:
            path = _child(path, str(missing[0]))
            message = "required field is missing"
    elif error.validator == "additionalProperties" and isinstance(instance, Mapping):
        properties = error.schema.get("properties", {})
        patterns = error.schema.get("patternProperties", {})
        assert isinstance(properties, Mapping)
        assert isinstance(patterns, Mapping)
        extras = sorted(
            str(key)
            for key in instance
            if key not in properties and not any(re.search(p, str(key)) for p in patterns)
        )
        if extras:
            path = _child(path, extras[0])
            message = "unexpected field (not in the schema)"
    return SchemaViolation(_one_line(f"{path}: {message}"), field=path)


def _event_type(name: str, schema: Mapping[str, object]) -> EventType:
    """Read the ``x-ledger`` block of one schema.

    Raises:
        ValueError: the schema lacks or misstates its ledger metadata; this is
            a packaging bug, caught when the catalogue is built at start-up.
    """
    if not _TYPE_NAME.fullmatch(name):
        raise ValueError(f"event type {name!r} is not a dotted lowercase name")
    meta = schema.get("x-ledger")
    if not isinstance(meta, Mapping):
        raise ValueError(f"{name}: schema has no 'x-ledger' object")
    version = meta.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{name}: x-ledger.schema_version must be an integer >= 1")
    kind = meta.get("subject_kind")
    if not isinstance(kind, str) or not (kind == ANY_SUBJECT or _SUBJECT_KIND.fullmatch(kind)):
        raise ValueError(f"{name}: x-ledger.subject_kind must be 'kind', 'kind@version' or 'any'")
    roles = meta.get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise ValueError(f"{name}: x-ledger.roles must be a list of role names")
    unknown = sorted(set(roles) - ROLES)
    if unknown:
        raise ValueError(f"{name}: x-ledger.roles names unknown roles {unknown}")
    description = schema.get("description")
    if not isinstance(description, str) or not description.strip():
        raise ValueError(f"{name}: schema has no description")
    return EventType(
        name=name,
        schema_version=version,
        subject_kind=kind,
        roles=tuple(str(r) for r in roles),
        description=description,
        schema=schema,
    )


class Catalogue:
    """Every event type the ledger accepts, with a ready validator for each.

    Build one with :meth:`from_schemas`, which compiles every validator once,
    up front. Upcasts are registered afterwards by the composition root, before
    the catalogue is shared; after that it is only read, so threads may share it.
    """

    __slots__ = ("_fast", "_types", "_upcasts", "_validators")

    def __init__(
        self,
        types: Mapping[str, EventType],
        validators: Mapping[str, _Validator],
        fast: Mapping[str, object] | None = None,
    ) -> None:
        """Prefer :meth:`from_schemas`; this trusts its arguments."""
        self._types = dict(sorted(types.items()))
        self._validators = dict(validators)
        self._fast = dict(fast or {})
        self._upcasts: dict[tuple[str, int], Upcast] = {}

    @classmethod
    def from_schemas(cls, schemas: Mapping[str, Mapping[str, object]]) -> Catalogue:
        """Build the catalogue from parsed schemas, keyed by event type name.

        The schemas are deep-copied, so later changes to the caller's objects
        cannot change what the catalogue validates.

        Raises:
            ValueError: a schema is not a valid draft 2020-12 schema or its
                ``x-ledger`` metadata is missing or wrong (a packaging bug, so
                it fails at start-up rather than on the first append).
        """
        checker = _format_checker()
        types: dict[str, EventType] = {}
        validators: dict[str, _Validator] = {}
        fast: dict[str, object] = {}
        for name, given in schemas.items():
            schema = copy.deepcopy(dict(given))
            types[name] = _event_type(name, schema)
            dialect = schema.get("$schema", _DIALECT)
            if dialect != _DIALECT:
                raise ValueError(f"{name}: $schema must be {_DIALECT!r}, not {dialect!r}")
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as exc:
                raise ValueError(f"{name}: not a valid JSON Schema: {exc.message}") from exc
            validators[name] = Draft202012Validator(schema, format_checker=checker)
            fast[name] = jsonschema_rs.validator_for(
                schema,
                validate_formats=True,
                formats={"date-time": _is_date_time, "uri": _is_uri},
            )
        return cls(types, validators, fast)

    @property
    def types(self) -> tuple[str, ...]:
        """Every type name, sorted."""
        return tuple(self._types)

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[EventType]:
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)

    def get(self, name: str) -> EventType:
        """The entry for ``name``.

        Raises:
            InvalidEvent: ``name`` is not in the catalogue (``field="type"``).
        """
        try:
            return self._types[name]
        except (KeyError, TypeError):
            raise InvalidEvent(f"unknown event type {name!r}", field="type") from None

    def allowed_roles(self, name: str) -> frozenset[str]:
        """The token roles that may append ``name``; empty for ledger-only types.

        Raises:
            InvalidEvent: unknown type.
        """
        return frozenset(self.get(name).roles)

    def validate(self, name: str, data: object) -> None:
        """Check ``data`` against the current schema of ``name``.

        When several things are wrong, one is reported: jsonschema's
        ``best_match``, which is deterministic for a given payload.

        Raises:
            InvalidEvent: unknown type.
            SchemaViolation: the payload does not match; the message and
                ``field`` name the path, e.g. ``data.metrics.auc``.
        """
        self.get(name)
        # The compiled validator (jsonschema-rs) answers the common, valid case
        # in a microsecond or two; the reference implementation words the
        # rejection. tests/core/test_catalogue_fast.py checks that they agree.
        fast = self._fast.get(name)
        if fast is not None and fast.is_valid(data):  # type: ignore[attr-defined]
            return
        error = best_match(self._validators[name].iter_errors(data))
        if error is not None:
            raise _violation(error)

    def check_subject(self, name: str, subject: str) -> None:
        """Check that ``subject`` is an entity reference of the kind ``name`` is about.

        ``kind@version`` requires a version; a plain ``kind`` forbids one, so
        ``model.registered`` cannot be filed against ``model:x@1.0``.

        Raises:
            InvalidEvent: unknown type, malformed reference, or wrong kind or
                version-ness (``field="subject"``).
        """
        error = subject_error(name, subject, self.get(name).subject_kind)
        if error is not None:
            raise error

    def register_upcast(self, name: str, from_version: int, fn: Upcast) -> None:
        """Register ``fn`` to turn ``name`` payloads of ``from_version`` into ``from_version + 1``.

        Raises:
            InvalidEvent: unknown type.
            ValueError: ``from_version`` is not below the current schema version,
                or an upcast for it is already registered.
        """
        current = self.get(name).schema_version
        if not 1 <= from_version < current:
            raise ValueError(
                f"{name}: cannot upcast from version {from_version}; current is {current}"
            )
        if (name, from_version) in self._upcasts:
            raise ValueError(f"{name}: an upcast from version {from_version} is already registered")
        self._upcasts[name, from_version] = fn

    def upcast(self, name: str, version: int, data: Mapping[str, object]) -> dict[str, object]:
        """Return ``data`` (written at schema ``version``) as the current version's payload.

        Applies the registered upcasts one version at a time to a deep copy, so
        the caller's object is never changed. A current-version payload comes
        back as an equal copy.

        Raises:
            InvalidEvent: unknown type, a version newer than the catalogue's, or
                a missing upcast step (``field="schema_version"``).
        """
        current = self.get(name).schema_version
        if version > current or version < 1:
            raise InvalidEvent(
                f"{name}: schema_version {version} is not known (current is {current})",
                field="schema_version",
            )
        result = copy.deepcopy(dict(data))
        for step in range(version, current):
            fn = self._upcasts.get((name, step))
            if fn is None:
                raise InvalidEvent(
                    f"{name}: no upcast from schema_version {step} to {step + 1}",
                    field="schema_version",
                )
            result = fn(result)
        return result
