"""Adapters that meet pipelines where they are: foreign payloads -> ledger drafts.

Each module is a pure translation (no I/O, no clock): OpenLineage events
(:mod:`.openlineage`), Flagger webhooks (:mod:`.flagger`), Argo Rollouts
notifications (:mod:`.argo`) and MLflow registry webhooks (:mod:`.mlflow`).
The HTTP routes in ``ledger.api.integrations`` authenticate, read what a
translation needs from the ledger, and append the drafts through the one
network append path. docs/integrations.md has the mapping tables.
"""

from __future__ import annotations

from ledger.integrations._common import Translation

__all__ = ["Translation"]
