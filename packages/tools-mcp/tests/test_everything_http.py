"""The official reference server, `@modelcontextprotocol/server-everything`, over streamable HTTP.

Its HTTP mode listens on every interface and has no host setting, so the test preloads
`servers/loopback.cjs`, which makes it listen on 127.0.0.1 (checked in /proc/net/tcp below).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from covey.spec import RunContext
from covey.spec.messages import ImageContent
from covey.tools.mcp import Backoff, MCPToolset

SERVERS = Path(__file__).resolve().parent / "servers"
CTX = RunContext[Any](run_id="everything-http")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening_addresses(port: int) -> set[str]:
    """The local addresses listening on `port`, from /proc/net/tcp and tcp6 (hex, as stored)."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                address, hex_port = fields[1].rsplit(":", 1)
                if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                    found.add(address)
    return found


@pytest.fixture(scope="module")
def everything_http(node_modules: Path) -> Iterator[str]:
    node = shutil.which("node")
    assert node is not None
    script = node_modules / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
    port = _free_port()
    process = subprocess.Popen(
        [node, "--require", str(SERVERS / "loopback.cjs"), str(script), "streamableHttp"],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "listening on port" in line:
                break
        else:
            pytest.fail(f"server-everything did not start (exit {process.wait(10)})")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.kill()
        process.wait(10)


def test_it_listens_on_loopback_only(everything_http: str) -> None:
    port = int(everything_http.rsplit(":", 1)[1].split("/")[0])
    # 0100007F is 127.0.0.1 as /proc/net/tcp writes it; no 00000000 (every interface).
    assert _listening_addresses(port) == {"0100007F"}


async def test_tools_and_results_over_streamable_http(everything_http: str) -> None:
    toolset = MCPToolset.http(
        everything_http,
        name="everything",
        timeout=20,
        backoff=Backoff(initial=0.05, maximum=0.5, jitter=0.1),
    )
    async with toolset:
        names = {t.name for t in await toolset.list_tools(CTX)}
        assert {"echo", "get-tiny-image", "get-sum"} <= names, names
        echo = await toolset.call_tool("echo", {"message": "over http"}, CTX)
        assert echo.content == "Echo: over http"
        total = await toolset.call_tool("get-sum", {"a": 2, "b": 40}, CTX)
        assert "42" in str(total.content)
        image = await toolset.call_tool("get-tiny-image", {}, CTX)
        picture = ImageContent.model_validate(
            next(p for p in image.content if p["kind"] == "image")
        )
        assert picture.data is not None and picture.data.startswith(b"\x89PNG")
        assert toolset.sessions_opened == 1
