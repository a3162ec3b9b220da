"""Real MCP servers for the tests: the official npm reference servers and a Python one.

The npm servers (`servers/package.json` + `package-lock.json`) are installed by `npm ci` into
`servers/.cache/<hash of the lock>/` the first time a test needs them (a new lock, a new
folder), so a clean clone needs nothing by hand but node and npm. The Python server
(`servers/py_server.py`, built with the `mcp` SDK) runs over stdio, or over streamable HTTP /
SSE on 127.0.0.1 on a free port it prints once it listens.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from covey.tools.mcp import Backoff, MCPToolset

SERVERS = Path(__file__).resolve().parent / "servers"
PY_SERVER = SERVERS / "py_server.py"
FAST = Backoff(initial=0.05, maximum=0.5, jitter=0.1)


def _install_npm_servers() -> Path:
    lock = (SERVERS / "package-lock.json").read_bytes()
    target = SERVERS / ".cache" / hashlib.sha256(lock).hexdigest()[:16]
    if (target / "node_modules" / ".package-lock.json").is_file():
        return target / "node_modules"
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: the MCP reference servers cannot be installed")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="npm-", dir=target.parent))
    for name in ("package.json", "package-lock.json"):
        shutil.copy(SERVERS / name, staging / name)
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=staging,
        check=True,
        timeout=600,
    )
    try:
        staging.rename(target)
    except OSError:  # another process finished first
        shutil.rmtree(staging, ignore_errors=True)
    return target / "node_modules"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    return _install_npm_servers()


@pytest.fixture(scope="session")
def everything_js(node_modules: Path) -> list[str]:
    """`node <server-everything> stdio` as a command line."""
    node = shutil.which("node")
    assert node is not None
    script = node_modules / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
    return [node, str(script), "stdio"]


@pytest.fixture(scope="session")
def filesystem_js(node_modules: Path) -> list[str]:
    node = shutil.which("node")
    assert node is not None
    script = node_modules / "@modelcontextprotocol" / "server-filesystem" / "dist" / "index.js"
    return [node, str(script)]


@pytest.fixture
def py_stdio() -> Callable[..., MCPToolset]:
    """A factory of toolsets on the Python test server over stdio (fast reconnects)."""

    def make(**kwargs: Any) -> MCPToolset:
        options: dict[str, Any] = {"name": "py", "backoff": FAST, "timeout": 20.0}
        options.update(kwargs)
        return MCPToolset.stdio(sys.executable, [str(PY_SERVER), "stdio"], **options)

    return make


class HttpServer:
    """The Python test server over HTTP in a subprocess on 127.0.0.1."""

    def __init__(self, transport: str, env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, str(PY_SERVER), transport],
            stdout=subprocess.PIPE,
            env=full_env,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("PORT "), f"the server printed {line!r}"
        self.port = int(line.split()[1])
        path = "/sse" if transport == "sse" else "/mcp"
        self.url = f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def http_server() -> Iterator[Callable[..., HttpServer]]:
    started: list[HttpServer] = []

    def start(transport: str = "streamable-http", env: dict[str, str] | None = None) -> HttpServer:
        server = HttpServer(transport, env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def http_server_type() -> type[HttpServer]:
    """`HttpServer` itself, for fixtures of a wider scope (test modules cannot import conftest)."""
    return HttpServer
