"""The GraphQL API (strawberry), split by area and merged at the root in ``schema``."""

from __future__ import annotations

from ledger.api.graphql.schema import LedgerSchema, build_schema
from ledger.api.graphql.view import GraphQLView

__all__ = ["GraphQLView", "LedgerSchema", "build_schema"]
