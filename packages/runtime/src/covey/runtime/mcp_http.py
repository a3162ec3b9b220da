"""The MCP server under the runtime: streamable HTTP mounted at `/mcp`.

The SDK's `StreamableHTTPSessionManager` runs **stateless**: each POST is answered on its own,
with no MCP session kept in this process, so behind a load balancer any worker answers any
request and a restart loses nothing (Covey's own sessions live in the store and travel as the
`session_id` argument). The manager's task group lives in the app's lifespan.

The mount sits behind the runtime's middleware like every route: `BrowserGuard` (host and
origin, which is the DNS-rebinding protection the SDK would otherwise add), bearer-token auth
and the `agents:run` scope. A tool call reads its caller from the request's scope, so runs are
stored under the caller's tenant and user exactly as `POST /v1/agents/{id}/runs` stores them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, cast

from litestar.handlers import ASGIRouteHandler, asgi

from covey.runtime import composites
from covey.runtime.auth import Principal
from covey.runtime.dto import RunRequest, WorkflowRunRequest
from covey.runtime.guards import require_scope
from covey.runtime.mcp_server import CoveyMcp, parse_exposure
from covey.runtime.runnables import Kind, Runnable
from covey.spec import RunResult
from covey.spec.errors import ToolError

if TYPE_CHECKING:
    from litestar.types import Receive, Scope, Send

    from covey.runtime.state import RuntimeState

__all__ = ["MCP_PATH", "McpEndpoint"]

MCP_PATH = "/mcp"


def _principal(ctx: Any) -> Principal:
    request = getattr(ctx, "request", None)
    scope: Any = getattr(request, "scope", None)
    user: Any = cast("dict[str, Any]", scope).get("user") if isinstance(scope, dict) else None
    if not isinstance(user, Principal):
        # The auth middleware runs before the mount, so this is a bug, never a way in.
        raise RuntimeError("an MCP request reached a tool without an authenticated caller")
    return user


class McpEndpoint:
    """`/mcp` for one app: the exposed tools, the SDK server and its session manager."""

    def __init__(self, runtime: RuntimeState) -> None:
        self.runtime = runtime
        self.mcp = CoveyMcp(
            parse_exposure(runtime.settings.mcp_expose, runtime.registry), run=self._run
        )
        self._manager: Any = None

    @classmethod
    def for_app(cls, runtime: RuntimeState) -> McpEndpoint | None:
        """The endpoint, or `None` when `mcp_expose` offers nothing (no `/mcp` route at all).

        Raises:
            ConfigurationError: `mcp_expose` names something not served.
        """
        return cls(runtime) if runtime.settings.mcp_expose else None

    async def _run(
        self,
        kind: Kind,
        runnable: Runnable,
        text: str | dict[str, Any],
        session: str | None,
        who: Principal,
    ) -> RunResult[Any]:
        body = (
            WorkflowRunRequest(input=text, session_id=session)
            if kind == "workflow"
            else RunRequest(input=cast("str", text), session_id=session)
        )
        if kind == "agent":
            live = self.runtime.start_run(runnable, body, who, deltas=False)  # type: ignore[arg-type]
        else:
            live = composites.start_run(self.runtime, runnable, body, who, deltas=False)
        result = await live.wait()
        if result is None:
            raise ToolError("The run ended without a result")
        return result

    @asynccontextmanager
    async def running(self) -> AsyncGenerator[None]:
        """The session manager's lifetime (inside the app's lifespan, after the toolsets are
        held, so exposed agent tools are found in entered toolsets)."""
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

        await self.mcp.prepare()
        manager = StreamableHTTPSessionManager(
            app=self.mcp.server(_principal), stateless=True, security_settings=None
        )
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    def route(self) -> ASGIRouteHandler:
        """The Litestar mount at `/mcp` (guarded by the `agents:run` scope)."""

        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            manager = self._manager
            if manager is None:
                from litestar.exceptions import ServiceUnavailableException

                raise ServiceUnavailableException("The MCP server is not running")
            await manager.handle_request(scope, receive, send)

        return asgi(
            MCP_PATH,
            is_mount=True,
            copy_scope=True,
            guards=[require_scope],
            opt={"scope": "agents:run"},
            name="mcp",
        )(handle)


@asynccontextmanager
async def mcp_running(endpoint: McpEndpoint | None) -> AsyncGenerator[None]:
    """`endpoint.running()`, or nothing when there is no endpoint."""
    if endpoint is None:
        yield
        return
    async with endpoint.running():
        yield
