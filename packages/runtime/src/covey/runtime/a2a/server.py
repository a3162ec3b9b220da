"""Serving every agent, team and workflow as an A2A agent, under `/a2a/{name}`.

The official `a2a-sdk` does the protocol (JSON-RPC 1.0 `SendMessage`, `SendStreamingMessage`,
`GetTask`, `ListTasks`, `CancelTask`, `SubscribeToTask`; SSE for streams); its Starlette routes
are mounted in the Litestar app, so the runtime's host/origin guard and its bearer-token
middleware run first, and a caller reaches A2A only with the scopes the REST API asks for
(`agents:read` for a card, `agents:run` for a call). Tasks are kept per caller (tenant and user)
and per agent in the runtime's store (`tasks.py`), so every worker on the same database serves
them and a restart keeps them; the runs behind them are ordinary stored runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from covey.runtime.auth import Principal
from covey.runtime.runnables import KINDS, Kind, Runnable
from covey.runtime.state import RuntimeState

if TYPE_CHECKING:
    from litestar.handlers import ASGIRouteHandler

__all__ = ["A2A_PATH", "a2a_available", "a2a_handler", "agent_card"]

A2A_PATH = "/a2a"
"""Where the A2A agents are mounted: `/a2a/{name}` (JSON-RPC) and its agent card at
`/a2a/{name}/.well-known/agent-card.json`."""

CARD_SUFFIX = "/.well-known/agent-card.json"

_CREDENTIALS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
"""Request headers never copied into an A2A call's state."""

Scope = dict[str, Any]
Receive = Any
Send = Any


def a2a_available() -> bool:
    """Whether `a2a-sdk[http-server]` is installed (`pip install 'covey-runtime[a2a]'`)."""
    import importlib.util

    return all(
        importlib.util.find_spec(m) is not None for m in ("a2a", "starlette", "sse_starlette")
    )


def agent_card(runnable: Runnable, kind: Kind, url: str, *, bearer: bool) -> Any:
    """The A2A `AgentCard` of `runnable`, reachable at `url` over JSON-RPC."""
    from a2a.types.a2a_pb2 import (
        AgentCapabilities,
        AgentCard,
        AgentInterface,
        AgentSkill,
        HTTPAuthSecurityScheme,
        SecurityRequirement,
        SecurityScheme,
        StringList,
    )

    name = runnable.name or ""
    description = runnable.description or f"The Covey {kind} {name!r}."
    card = AgentCard(
        name=name,
        description=description,
        version="1.0.0",
        # The same endpoint speaks 1.0 and, for older clients, 0.3 (whose card fields the
        # second interface fills in).
        supported_interfaces=[
            AgentInterface(protocol_binding="JSONRPC", url=url, protocol_version="1.0"),
            AgentInterface(protocol_binding="JSONRPC", url=url, protocol_version="0.3"),
        ],
        capabilities=AgentCapabilities(streaming=True, push_notifications=False),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain", "application/json"],
        skills=[AgentSkill(id=name, name=name, description=description, tags=[kind])],
    )
    if bearer:
        card.security_schemes["bearer"].CopyFrom(
            SecurityScheme(
                http_auth_security_scheme=HTTPAuthSecurityScheme(
                    scheme="bearer", bearer_format="JWT"
                )
            )
        )
        card.security_requirements.append(SecurityRequirement(schemes={"bearer": StringList()}))
    return card


class _BodyLimit:
    """Refuses a request body over `limit` bytes with 413, as the REST routes do.

    The SDK's routes read the whole body; the runtime's `max_body_size` is Litestar's and does
    not reach a mounted ASGI app, so this enforces it here (declared length and streamed bytes).
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", []):
            if key == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                await _too_large(send, self.limit)
                return
        # Read the body here, bounded, and replay it: the SDK reads it whole anyway, and an
        # error raised inside its routes would become a JSON-RPC error, not a 413.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.limit:
                await _too_large(send, self.limit)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(send: Send, limit: int) -> None:
    import json

    body = json.dumps(
        {
            "type": "urn:covey:problem:payload-too-large",
            "title": "Payload Too Large",
            "status": 413,
            "detail": f"The request body is over {limit} bytes",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def build_a2a_app(runtime: RuntimeState) -> Any:
    """The Starlette app with one A2A agent per served agent, team and workflow."""
    from a2a.extensions.common import HTTP_EXTENSION_HEADER, get_requested_extensions
    from a2a.server.context import ServerCallContext
    from a2a.server.request_handlers.response_helpers import agent_card_to_dict
    from a2a.server.routes import ServerCallContextBuilder, create_jsonrpc_routes
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from covey.runtime.a2a.executor import PRINCIPAL_KEY, CoveyExecutor
    from covey.runtime.a2a.handler import CoveyRequestHandler
    from covey.runtime.a2a.tasks import CoveyTaskStore
    from covey.runtime.a2a.users import CallerUser

    class _Context(ServerCallContextBuilder):
        """The caller the runtime's auth middleware set, and the request's headers without
        its credentials (the SDK reads `A2A-Version` and extensions from them; a token kept in
        a call's state could end up wherever the SDK or an executor copies it)."""

        def build(self, request: Request) -> ServerCallContext:
            principal = request.scope.get("user")
            if not isinstance(principal, Principal):
                raise PermissionError("no authenticated caller")
            headers = {k: v for k, v in request.headers.items() if k not in _CREDENTIALS}
            return ServerCallContext(
                user=CallerUser(principal),
                state={PRINCIPAL_KEY: principal, "headers": headers},
                requested_extensions=get_requested_extensions(
                    request.headers.getlist(HTTP_EXTENSION_HEADER)
                ),
            )

    bearer = runtime.verifier is not None
    routes: list[Route] = []
    for kind in KINDS:
        for runnable in runtime.registry.items(kind):
            name = runnable.name or ""
            if not name:
                continue
            template = agent_card(runnable, kind, f"{A2A_PATH}/{name}", bearer=bearer)
            executor = CoveyExecutor(runtime, runnable, kind)
            handler = CoveyRequestHandler(
                agent_executor=executor,
                # Tasks kept in the runtime's store, per caller and per agent: a task is
                # reached only by its owner, through the agent that ran it, from any worker.
                task_store=CoveyTaskStore(runtime, name),
                agent_card=template,
                runs_here=executor.runs_here,
                poll_interval=runtime.settings.poll_interval,
            )
            # v0.3 clients (methods `message/send`...) are still common: served on the same URL.
            routes += create_jsonrpc_routes(
                handler, rpc_url=f"/{name}", context_builder=_Context(), enable_v0_3_compat=True
            )

            async def card(request: Request, _card: Any = template) -> Response:
                url = str(request.url.replace(query=None, fragment=None)).removesuffix(CARD_SUFFIX)
                served = type(_card)()
                served.CopyFrom(_card)
                for interface in served.supported_interfaces:
                    interface.url = url
                return JSONResponse(agent_card_to_dict(served))

            routes.append(Route(f"/{name}{CARD_SUFFIX}", card, methods=["GET"]))
    return Starlette(routes=routes)


def a2a_handler(runtime: RuntimeState) -> ASGIRouteHandler:
    """The Litestar mount serving the A2A agents (built lazily, on the first request)."""
    from litestar.connection import ASGIConnection
    from litestar.exceptions import PermissionDeniedException
    from litestar.handlers import BaseRouteHandler, asgi

    from covey.runtime.guards import principal_of

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        method: Any = cast("dict[str, Any]", connection.scope).get("method")
        needed = "agents:read" if method == "GET" else "agents:run"
        if not principal_of(connection).allows(needed):
            raise PermissionDeniedException(detail=f"This needs the {needed!r} scope (or 'admin')")

    built: list[Any] = []

    @asgi(A2A_PATH, is_mount=True, copy_scope=True, guards=[guard], include_in_schema=False)
    async def a2a_mount(scope: Scope, receive: Receive, send: Send) -> None:
        if not built:
            built.append(_BodyLimit(build_a2a_app(runtime), runtime.settings.max_body_size))
        # Litestar hands a mount the path after its prefix, with a trailing slash added; the
        # ASGI spec (and Starlette's routing and URLs) want the full path and the prefix as
        # `root_path`.
        inner = scope["path"].rstrip("/")
        scope["root_path"] = scope.get("root_path", "") + A2A_PATH
        scope["path"] = scope["root_path"] + inner
        await built[0](scope, receive, send)

    return a2a_mount
