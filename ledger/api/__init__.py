"""The HTTP and GraphQL server over a ledger (starlette + strawberry, served by uvicorn)."""

from __future__ import annotations

from ledger.api.app import app_from_env, create_app
from ledger.api.settings import Settings

__all__ = ["Settings", "app_from_env", "create_app"]
