"""A small MCP server built with the `mcp` SDK, for covey-tools-mcp's tests and docs.

Run: `python py_server.py stdio`, or `python py_server.py streamable-http|sse` which binds
127.0.0.1 on a free port and prints `PORT <n>` on stdout once it listens.

Env: `COVEY_TEST_TOKEN` — when set, the HTTP transports answer 401 to any request whose
`Authorization` is not `Bearer <token>`. `COVEY_TEST_PREFIX` — a prefix for every tool name
(so two servers can offer clashing or distinct names).
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import sys
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer

# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

server = MCPServer("covey-test", log_level="CRITICAL")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Say the text back."""
    return text


@server.tool()
def pid() -> str:
    """The server's process id."""
    return str(os.getpid())


@server.tool()
async def hang(seconds: float = 3600.0) -> str:
    """Wait `seconds` (an hour by default) before answering."""
    await anyio.sleep(seconds)
    return "woke up"


@server.tool()
def fail(message: str) -> str:
    """Raise an error with `message` (the client sees an error result)."""
    from mcp.server.mcpserver.exceptions import ToolError

    raise ToolError(message)


@server.tool(structured_output=True)
def weather(city: str) -> dict[str, Any]:
    """Structured content: the weather in a city."""
    return {"city": city, "temperature": 21.5, "conditions": "sunny"}


@server.tool(structured_output=False)
def image() -> list[Any]:
    """A caption and a 1x1 PNG."""
    from mcp.server.mcpserver.utilities.types import Image

    return ["a pixel", Image(data=PNG, format="png")]


@server.tool()
def request_headers(ctx: Context) -> dict[str, Any]:
    """The request's X-Tenant header, and whether Authorization was a bearer token."""
    headers = ctx.headers or {}
    auth = headers.get("authorization", "")
    return {"tenant": headers.get("x-tenant"), "bearer": auth.startswith("Bearer ")}


@server.tool()
async def add_tool(name: str, ctx: Context) -> str:
    """Add a tool called `name` (it answers "hello from <name>") and announce the change."""

    def new_tool() -> str:
        return f"hello from {name}"

    server.add_tool(new_tool, name=name, description=f"Added at run time: {name}.")
    # A 2025 client hears the notification; a 2026-07-28 one its subscriptions/listen stream.
    with contextlib.suppress(Exception):
        await ctx.session.send_tool_list_changed()
    with contextlib.suppress(Exception):
        await ctx.notify_tools_changed()
    return f"added {name}"


def _with_token(app: Any, token: str) -> Any:
    """Wrap an ASGI app: 401 unless `Authorization: Bearer <token>`."""

    async def guarded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if headers.get(b"authorization") != f"Bearer {token}".encode():
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
        await app(scope, receive, send)

    return guarded


async def _serve_http(transport: str) -> None:
    import uvicorn

    app = server.sse_app() if transport == "sse" else server.streamable_http_app()
    token = os.environ.get("COVEY_TEST_TOKEN")
    if token:
        app = _with_token(app, token)
    # IPPROTO_TCP so that asyncio sets TCP_NODELAY on accepted connections (it checks the
    # proto); with proto 0 a response body written after its headers waits ~40 ms for an ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve(sockets=[sock])


def main() -> None:
    transport = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    prefix = os.environ.get("COVEY_TEST_PREFIX")
    if prefix:
        for tool in list(server._tool_manager.list_tools()):
            server.remove_tool(tool.name)
            server.add_tool(tool.fn, name=f"{prefix}{tool.name}", description=tool.description)
    if transport == "stdio":
        server.run("stdio")
    else:
        anyio.run(_serve_http, transport)


if __name__ == "__main__":
    main()
