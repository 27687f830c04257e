"""Field permissions: one small class per scope, attached with ``permission_classes``.

They raise the ledger's own ``Unauthorized`` / ``Forbidden`` rather than
returning False, so a refused field carries ``extensions.code`` like every
other ledger error, and "no token" stays distinct from "wrong role".
"""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from ledger.api.graphql.context import Info, authorize
from ledger.auth import Scope

__all__ = ["CanAppend", "CanRead", "CanVerify"]


class CanRead(BasePermission):
    """Any token (or nobody, when the server allows anonymous reads)."""

    message = "reading needs a token"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        authorize(info, Scope.READ)
        return True


class CanAppend(BasePermission):
    """A token whose role appends (pipeline, approver, operator, admin); types are checked later."""

    message = "appending needs a pipeline, approver, operator or admin token"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        authorize(info, Scope.APPEND)
        return True


class CanVerify(BasePermission):
    """An auditor or admin token: full verification reads every event."""

    message = "verifying needs an auditor or admin token"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        authorize(info, Scope.VERIFY)
        return True
