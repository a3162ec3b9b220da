"""The MCP server every client of bench_mcp talks to, built with the `mcp` SDK's `MCPServer`.

Three trivial tools, so that what is timed is the client and the transport, not the tool:
`add(a, b)`, `echo(text)` and `get_weather(city)` (the tool the loopback fake OpenAI server
calls, so an agent run on that fake calls this server).

Run: `python mcp_server.py stdio` speaks MCP on stdin/stdout (the client spawns it);
`python mcp_server.py http [PORT]` serves streamable HTTP on 127.0.0.1, prints its URL once it
is listening, and serves until its stdin closes. Needs only the `mcp` SDK (and uvicorn, which
it brings).
"""

from __future__ import annotations

import asyncio
import socket
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("bench", log_level="WARNING")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}, 21 °C"


async def _serve_http(port: int) -> None:
    import uvicorn

    # Bound and listening before the URL is printed: early connections wait in the backlog.
    # IPPROTO_TCP, not `socket.socket()`'s proto 0: asyncio sets TCP_NODELAY on an accepted
    # connection only when its proto says TCP. Without it the body of a JSON response (a second
    # write after the headers) waits for the client's delayed ACK: ~40 ms per call on Linux.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", port))
    sock.listen(512)
    app = server.streamable_http_app(host="127.0.0.1")
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    http = uvicorn.Server(config)
    task = asyncio.create_task(http.serve(sockets=[sock]))
    print(f"http://127.0.0.1:{sock.getsockname()[1]}/mcp", flush=True)
    await asyncio.to_thread(sys.stdin.read)
    http.should_exit = True
    await task


if __name__ == "__main__":
    if sys.argv[1:2] == ["http"]:
        asyncio.run(_serve_http(int(sys.argv[2]) if len(sys.argv) > 2 else 0))
    else:
        server.run("stdio")
