"""Bounded queries (depth, aliases, field count) and the parse cache that must not hide errors.

strawberry's ``QueryDepthLimiter`` and ``MaxAliasesLimiter`` make a new rule
class per instance; built per request, they would defeat the validation cache
(its key holds the rule classes). So the rules are made once per schema and
added by one extension whose instances all share them. The token limit is a
parse option (``MaxTokensLimiter``), which the parser cache keys on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Visitor,
    visit,
)
from graphql.validation.validation_context import ASTValidationContext
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.extensions import max_aliases as _aliases
from strawberry.extensions import query_depth_limiter as _depth

__all__ = ["LimitRules", "ParseCache", "limit_rules"]


def _count_fields(
    selection_set: SelectionSetNode | None,
    context: ASTValidationContext,
    seen: frozenset[str],
    budget: int,
) -> int:
    """Field selections with fragments expanded; stops counting past ``budget``."""
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if total > budget:
            break
        if isinstance(selection, FieldNode):
            total += 1 + _count_fields(selection.selection_set, context, seen, budget - total)
        elif isinstance(selection, InlineFragmentNode):
            total += _count_fields(selection.selection_set, context, seen, budget - total)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = context.get_fragment(name)
            if fragment is not None and name not in seen:
                total += _count_fields(fragment.selection_set, context, seen | {name}, budget)
    return total


def _max_fields_rule(max_fields: int) -> type[ASTValidationRule]:
    class MaxFieldsRule(ASTValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            count = _count_fields(node.selection_set, self.context, frozenset(), max_fields)
            if count > max_fields:
                self.report_error(
                    GraphQLError(
                        f"the query selects more than {max_fields} fields; split it up",
                        node,
                    )
                )

    return MaxFieldsRule


def _max_depth_rule(max_depth: int) -> type[ASTValidationRule]:
    base: Any = _depth.create_validator(max_depth, None, None)

    class MaxDepthRule(base):  # type: ignore[misc]
        """strawberry's depth rule, minus its ``KeyError`` on a spread of an unknown fragment.

        strawberry's rule looks every spread up in the document's fragments
        and raises (out of validation, a 500) when one is missing. Such a
        document is invalid anyway (``KnownFragmentNamesRule`` says why), so
        the rule then checks what it can without the missing fragments.
        """

        def __init__(self, context: ASTValidationContext) -> None:
            document = context.document
            known = {
                d.name.value for d in document.definitions if isinstance(d, FragmentDefinitionNode)
            }
            if all(spread in known for spread in _spread_names(document)):
                super().__init__(context)
            else:
                ASTValidationRule.__init__(self, context)

    return MaxDepthRule


def _spread_names(document: DocumentNode) -> set[str]:
    names: set[str] = set()

    class Spreads(Visitor):
        def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
            names.add(node.name.value)

    visit(document, Spreads())
    return names


def limit_rules(max_depth: int, max_aliases: int, max_fields: int) -> tuple[type[Any], ...]:
    """The validation rules that bound a document, made once per schema."""
    return (
        _max_depth_rule(max_depth),
        _aliases.create_validator(max_aliases),
        _max_fields_rule(max_fields),
    )


class LimitRules(SchemaExtension):
    """Adds the shared limit rules to every operation's validation."""

    def __init__(self, rules: tuple[type[Any], ...]) -> None:
        self.rules = rules

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = context.validation_rules + self.rules
        yield


class ParseCache(ParserCache):
    """strawberry's LRU parser cache, but a document that fails to parse is left to strawberry.

    ``ParserCache`` raises syntax (and token limit) errors from inside its
    hook, where they escape the operation's error handling and reach the
    client without ``extensions.code``. Here a failing parse leaves the
    document unset; strawberry parses it again, in the place where errors are
    reported normally. Failures are not cached, only successes.
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        with contextlib.suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        yield
