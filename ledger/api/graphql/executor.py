"""Lean completion of plain selections: the same result as graphql-core, without per-field calls.

graphql-core completes every selected field of every object on its own:
``execute_field`` builds a resolve info, calls strawberry's resolver wrapper,
then ``complete_value`` walks the type. For a page of 100 events with five
scalar fields that is 600 such rounds, most of a page's cost.

Most of those fields are *plain*: strawberry basic fields (no resolver, no
permission, no field extension, no arguments) read as ``getattr(source,
name)``, typed as a built-in scalar or as a plain object or list of them. For
an object whose selection is all plain, :class:`LeanExecutor` builds the
result dict with one precompiled plan per selection instead.

The plan never decides anything graphql-core would decide differently: a
null in a non-null place, a value a scalar refuses, a wrong object type, any
exception, makes it give up, and the object is completed by graphql-core's
own path, which then reports the error exactly as it always did. Selections
with directives, arguments, abstract types, custom scalars, enums or
incremental delivery are never plain. ``tests/api/test_lean_executor.py``
compares both paths on generated schemas and values.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
)
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE
from strawberry.types.field import StrawberryField

__all__ = ["LeanExecutor"]

_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF
_BUILTIN_SCALARS = frozenset(
    id(t) for t in (GraphQLString, GraphQLInt, GraphQLFloat, GraphQLBoolean, GraphQLID)
)


_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1

_AS_IS: dict[int, type] = {
    id(GraphQLString): str,
    id(GraphQLID): str,
    id(GraphQLBoolean): bool,
    id(GraphQLInt): int,
}
"""Python types a built-in scalar returns unchanged (graphql-core's ``coerce_output_value``)."""


def _passes_as_is(type_: GraphQLOutputType) -> type | None:
    """The exact Python type whose values complete to themselves in ``type_``, if any."""
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return _AS_IS.get(id(type_)) if isinstance(type_, GraphQLScalarType) else None


_NO_INFO: Any = None
"""strawberry's own ``is_type_of`` ignores its info argument (user-defined ones are not used)."""


class _GiveUp(Exception):
    """The plan cannot vouch for this value; graphql-core completes it."""


_GIVE_UP = _GiveUp()

_Complete = Callable[[Any], Any]
"""Completes one value of a field's type (raises ``_GiveUp`` when it cannot)."""

_Plan = Callable[[Any], dict[str, Any]]
"""Builds the result dict of one object (raises ``_GiveUp`` when it cannot)."""


def _plain_attribute(field_def: GraphQLField) -> str | None:
    """The attribute a strawberry basic field reads, or None when the field is not plain."""
    if field_def.args or not getattr(field_def.resolve, "_is_default", False):
        return None
    field = (field_def.extensions or {}).get(_BACKREF)
    if not isinstance(field, StrawberryField) or not field.is_basic_field:
        return None
    if (
        type(field).get_result is not StrawberryField.get_result
        or field.default_resolver is not getattr
    ):
        return None
    return field.python_name


class LeanExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor with lean completion of plain objects (module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # strawberry always passes a manager; it is empty unless an extension resolves fields.
        manager = self.middleware_manager
        self._without_middleware = manager is None or not getattr(manager, "middlewares", True)
        # (parent type, grouped field set) -> plan or None (not plain). The
        # field sets are memoized by collect_subfields for the executor's life,
        # so their ids stay valid; the set is kept alive beside its plan anyway.
        self._plans: dict[tuple[int, int], tuple[object, _Plan | None]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        if position_context is None and self._without_middleware:
            plan = self._plan_of(parent_type, grouped_field_set)
            if plan is not None:
                with contextlib.suppress(Exception):
                    # _GiveUp, or anything a value raised: the generic path below decides.
                    return plan(source_value)
        return super().execute_fields(
            parent_type, source_value, path, grouped_field_set, position_context
        )

    def _plan_of(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> _Plan | None:
        key = (id(parent_type), id(grouped_field_set))
        cached = self._plans.get(key)
        if cached is None:
            cached = (grouped_field_set, self._make_plan(parent_type, grouped_field_set))
            self._plans[key] = cached
        return cached[1]

    def _make_plan(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> _Plan | None:
        if not isinstance(grouped_field_set, dict) or not grouped_field_set:
            return None
        steps: list[tuple[str, str | None, type | None, _Complete | None]] = []
        for response_name, details in grouped_field_set.items():
            nodes = [d.node for d in details]
            if any(n.directives or n.arguments for n in nodes):
                return None
            name = nodes[0].name.value
            if name == "__typename":
                steps.append((response_name, None, None, None))
                continue
            field_def = parent_type.fields.get(name)
            if field_def is None:
                return None
            attribute = _plain_attribute(field_def)
            if attribute is None:
                return None
            complete = self._completer(field_def.type, details)
            if complete is None:
                return None
            steps.append((response_name, attribute, _passes_as_is(field_def.type), complete))
        type_name = parent_type.name

        def plan(source: Any) -> dict[str, Any]:
            result: dict[str, Any] = {}
            for response_name, attribute, as_is, complete in steps:
                if attribute is None:
                    result[response_name] = type_name
                    continue
                value = getattr(source, attribute)
                # The common case inline: a str for a String, a bool for a Boolean,
                # an int within 32 bits for an Int come back unchanged.
                kind = type(value)
                if kind is as_is and (kind is not int or _INT_MIN <= value <= _INT_MAX):
                    result[response_name] = value
                else:
                    assert complete is not None
                    result[response_name] = complete(value)
            return result

        return plan

    def _completer(self, type_: GraphQLOutputType, details: Any) -> _Complete | None:
        """How to complete a value of ``type_`` as graphql-core would, or None (not plain)."""
        if isinstance(type_, GraphQLNonNull):
            inner = self._completer(type_.of_type, details)
            if inner is None:
                return None

            def non_null(value: Any) -> Any:
                completed = inner(value)  # inner is a `maybe`: exceptions give up there
                if completed is None:
                    raise _GIVE_UP
                return completed

            return non_null
        nullable = self._nullable_completer(type_, details)
        if nullable is None:
            return None

        def maybe(value: Any) -> Any:
            if value is None:
                return None
            if isinstance(value, Exception):  # graphql-core raises it as the field's error
                raise _GIVE_UP
            return nullable(value)

        return maybe

    def _nullable_completer(self, type_: GraphQLOutputType, details: Any) -> _Complete | None:
        if isinstance(type_, GraphQLScalarType):
            if id(type_) not in _BUILTIN_SCALARS:
                return None
            coerce = type_.coerce_output_value

            def leaf(value: Any) -> Any:
                if value is Undefined:
                    raise _GIVE_UP
                coerced = coerce(value)
                if coerced is None or coerced is Undefined:
                    raise _GIVE_UP
                return coerced

            return leaf
        if isinstance(type_, GraphQLList):
            item = self._completer(type_.of_type, details)
            if item is None:
                return None

            def items(value: Any) -> list[Any]:
                if type(value) is not list and type(value) is not tuple:
                    raise _GIVE_UP
                return [item(v) for v in value]

            return items
        if isinstance(type_, GraphQLObjectType):
            return self._object_completer(type_, details)
        return None  # enums, interfaces, unions, custom scalars: graphql-core's path

    def _object_completer(self, type_: GraphQLObjectType, details: Any) -> _Complete | None:
        definition = (type_.extensions or {}).get(_BACKREF)
        if definition is None or getattr(definition, "is_type_of", None) is not None:
            return None  # a user-defined is_type_of may need the resolve info
        is_type_of = type_.is_type_of  # strawberry's own (an isinstance check) or None
        origin = getattr(definition, "origin", None)
        grouped, defer_usages, _ = self.collect_subfields(type_, details)
        if defer_usages:
            return None
        plan = self._plan_of(type_, grouped)
        if plan is None:
            return None

        def obj(value: Any) -> dict[str, Any]:
            if (
                is_type_of is not None
                # strawberry's is_type_of is True for an instance of the type itself,
                # unless it was strawberry.cast to another type.
                and (type(value) is not origin or hasattr(value, TYPE_CAST_ATTRIBUTE))
                and is_type_of(value, _NO_INFO) is not True
            ):
                raise _GIVE_UP
            return plan(value)

        return obj
