"""The GraphQL endpoint: strawberry's ASGI view with the ledger's context and websocket auth."""

from __future__ import annotations

from typing import Any

import orjson
from cross_web import HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http import process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UnsetType

from ledger.api.auth import bearer_token, lookup_principal, principal_of
from ledger.api.graphql.context import Context
from ledger.api.graphql.schema import LedgerSchema
from ledger.api.headers import first_header
from ledger.api.state import ApiState
from ledger.errors import LedgerError

__all__ = ["GraphQLView"]

_JSON = b"application/json"
_POST_OPERATIONS = frozenset(OperationType.from_http("POST"))


def _is_json(scope: Scope) -> bool:
    """Whether the request's Content-Type is plainly JSON (the lean path takes no other)."""
    raw = first_header(scope, b"content-type")
    return raw is not None and raw.partition(b";")[0].strip() == _JSON


class GraphQLView(GraphQL[Context, None]):
    """``/graphql``: queries and mutations over HTTP, subscriptions over graphql-transport-ws.

    A websocket may authenticate with the ``Authorization`` header of its
    handshake or, since browsers cannot set that header, with
    ``{"Authorization": "Bearer <token>"}`` in its ``connection_init`` payload;
    a refused token closes the connection with 4403.

    A JSON ``POST`` of one operation takes a lean path (:meth:`_lean_post`)
    that answers as strawberry's view does; anything else (GET, GraphiQL,
    batches, other content types, a body strawberry would refuse) goes
    through strawberry's view itself.
    """

    def __init__(self, schema: LedgerSchema, state: ApiState) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if state.settings.graphiql else None,
            subscription_protocols=("graphql-transport-ws",),
        )
        self.state = state
        # Streaming transports (multipart, SSE) are chosen by the Accept header
        # in strawberry's view; with none enabled, every POST answers JSON.
        self.lean = not self._stream_transport_map
        """Take the lean path for JSON POSTs (False: strawberry's view for all; tests compare)."""

    def encode_json(self, data: object) -> str:
        # orjson: several times faster than json.dumps on a 100-event page, and
        # it writes null (never the invalid NaN literal) for a non-finite float.
        # A str, not bytes: websocket messages must go out as text frames.
        return orjson.dumps(data).decode()

    def decode_json(self, data: str | bytes) -> object:
        # orjson.JSONDecodeError subclasses json.JSONDecodeError, which the base
        # class turns into a 400.
        return orjson.loads(data)

    def parse_json(self, data: str | bytes) -> Any:
        # strawberry reads a body's fields with .get(): a bare string, number or
        # null (or such a batch item) would be an AttributeError, i.e. a 500.
        parsed = super().parse_json(data)
        items = parsed if isinstance(parsed, list) else [parsed]
        if not all(isinstance(item, dict) for item in items):
            raise HTTPException(
                400, "The request body must be a JSON object (or a list of them for a batch)."
            )
        return parsed

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(self.state, principal_of(request), request, response)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.lean and scope["type"] == "http" and scope["method"] == "POST" and _is_json(scope):
            request = Request(scope, receive)
            response = await self._lean_post(request)
            if response is None:  # strawberry's view decides; the body stays read
                try:
                    response = await self.run(request)
                except HTTPException as e:
                    response = PlainTextResponse(e.reason, status_code=e.status_code)
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def _lean_post(self, request: Request) -> Response | None:
        """strawberry's ``run`` for one JSON operation over POST; None for anything else.

        The same steps without what a JSON POST never needs: the
        ``email.message`` parse of the Content-Type, the Accept scan for
        streaming transports (none enabled), the request adapter, the
        protocol check for a subscription stream, the sub-response (made only
        if a resolver asks for it: ``Context.response``).
        """
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None
        if type(data) is not dict:
            return None
        query = data.get("query")
        variables = data.get("variables")
        extensions = data.get("extensions")
        if (
            type(query) is not str
            or not isinstance(variables, (dict, type(None)))
            or not isinstance(extensions, (dict, type(None)))
        ):
            return None
        context = Context(self.state, principal_of(request), request, None)
        root_value = await self.get_root_value(request)  # type: ignore[func-returns-value]
        try:
            result = await self.schema.execute(
                query,
                root_value=root_value,
                variable_values=variables,
                context_value=context,
                operation_name=data.get("operationName"),
                allowed_operation_types=_POST_OPERATIONS,
                operation_extensions=extensions,
            )
        except CannotGetOperationTypeError as e:
            return PlainTextResponse(e.as_http_error_reason(), status_code=400)
        except InvalidOperationTypeError as e:
            return PlainTextResponse(e.as_http_error_reason("POST"), status_code=400)
        except MissingQueryError:
            return PlainTextResponse("No GraphQL query found in the request", status_code=400)
        response_data = process_result(result)
        if result.errors:
            self._handle_errors(result.errors, response_data)
        sub_response = context.sub_response
        if sub_response is None:
            return Response(orjson.dumps(response_data), media_type="application/json")
        assert isinstance(sub_response, Response)
        return self.create_response(response_data=response_data, sub_response=sub_response)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params or {}
        header = params.get("Authorization", params.get("authorization"))
        if header is None:
            return await super().on_ws_connect(context)
        try:
            if not isinstance(header, str):
                raise ConnectionRejectionError
            token = bearer_token(header)
            context.principal = await run_in_threadpool(lookup_principal, self.state.reads, token)
        except LedgerError:
            self.state.reject("unauthorized")
            raise ConnectionRejectionError from None
        return await super().on_ws_connect(context)
