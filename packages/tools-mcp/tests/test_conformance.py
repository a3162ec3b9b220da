"""`ToolsetSuite` against real servers: the official filesystem server (npm) over stdio and the
Python server (the `mcp` SDK) over streamable HTTP. (The Python server over stdio is covered by
the supervision tests.)"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from covey.conformance import ToolsetSuite
from covey.spec.tools import Toolset
from covey.tools.mcp import Backoff, MCPToolset

PY_SERVER = Path(__file__).resolve().parent / "servers" / "py_server.py"
FAST = Backoff(initial=0.05, maximum=0.5, jitter=0.1)

# Arguments that succeed for the Python server's tools (the others get schema-built ones).
PY_CALLS: dict[str, dict[str, Any]] = {
    "add": {"a": 2, "b": 3},
    "echo": {"text": "hi"},
    "hang": {"seconds": 0},
    "weather": {"city": "Paris"},
    "add_tool": {"name": "extra"},
}


@pytest.fixture(scope="module")
def server_url(http_server_type: Any) -> Iterator[str]:
    # One server process for the module (each test still opens its own session).
    server = http_server_type("streamable-http")
    yield server.url
    server.stop()


class TestFilesystemServerOverStdio(ToolsetSuite):
    @pytest.fixture
    def toolset(self, filesystem_js: list[str], tmp_path: Path) -> Toolset:
        (tmp_path / "a.txt").write_text("hello")
        return MCPToolset.stdio(
            filesystem_js[0],
            [*filesystem_js[1:], str(tmp_path)],
            cwd=tmp_path,
            name="fs",
            timeout=20,
            backoff=FAST,
        )

    @pytest.fixture
    def toolset_calls(self, tmp_path: Path) -> Mapping[str, dict[str, Any]]:
        return {
            "read_text_file": {"path": str(tmp_path / "a.txt")},
            "list_directory": {"path": str(tmp_path)},
        }


class TestPythonServerOverStreamableHttp(ToolsetSuite):
    @pytest.fixture
    def toolset(self, server_url: str) -> Toolset:
        return MCPToolset.http(server_url, name="pyhttp", timeout=5, backoff=FAST)

    @pytest.fixture
    def toolset_calls(self) -> Mapping[str, dict[str, Any]]:
        return PY_CALLS
