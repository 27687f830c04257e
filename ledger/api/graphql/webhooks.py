"""``webhookDeliveries``: the recent delivery attempts of one webhook subscriber.

Attempts come from this process's in-memory ring (see ``ledger.api.webhooks``):
they vanish on restart and cover only what this process delivered.
"""

# strawberry.field(...) with arguments is untyped for mypy; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import strawberry

from ledger.api.graphql.context import Info
from ledger.api.graphql.permissions import CanVerify
from ledger.api.settings import MAX_PAGE_SIZE
from ledger.api.webhooks import Attempt, WebhookWorker

__all__ = ["WebhookDelivery", "WebhooksQuery"]


@strawberry.type(description="One attempt to deliver one event to one webhook subscriber.")
class WebhookDelivery:
    subscriber: str
    seq: int
    event_type: str
    attempt: int = strawberry.field(description="1 for the first try, 2 for the first retry...")
    status_code: int | None = strawberry.field(
        description="The receiver's HTTP status; null on a connection error."
    )
    error: str | None = strawberry.field(description="The connection error, if any.")
    delivered: bool = strawberry.field(description="Whether the receiver answered 2xx.")
    at: str = strawberry.field(description="When the attempt finished (RFC 3339 UTC).")

    @classmethod
    def of(cls, attempt: Attempt) -> WebhookDelivery:
        """The GraphQL view of a worker's attempt."""
        return cls(
            subscriber=attempt.subscriber,
            seq=attempt.seq,
            event_type=attempt.event_type,
            attempt=attempt.attempt,
            status_code=attempt.status_code,
            error=attempt.error,
            delivered=attempt.delivered,
            at=attempt.at,
        )


@strawberry.type
class WebhooksQuery:
    @strawberry.field(
        description=(
            "The latest delivery attempts to webhook `name`, newest first (auditor or admin;"
            " this server process's memory only)."
        ),
        permission_classes=[CanVerify],
    )
    def webhook_deliveries(self, info: Info, name: str, first: int = 20) -> list[WebhookDelivery]:
        worker = getattr(info.context.request.app.state, "webhooks", None)
        if not isinstance(worker, WebhookWorker):
            return []
        limit = max(0, min(first, MAX_PAGE_SIZE))
        return [WebhookDelivery.of(a) for a in worker.deliveries(name, limit)]
