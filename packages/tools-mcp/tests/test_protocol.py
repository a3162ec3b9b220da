"""`protocol=`: which session start the SDK uses, seen in the version the server agreed to."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS

from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.tools.mcp import MCPToolset, load_mcp_config

PY_SERVER = Path(__file__).resolve().parent / "servers" / "py_server.py"
ERA = {"auto": MODERN_PROTOCOL_VERSIONS, "legacy": HANDSHAKE_PROTOCOL_VERSIONS}


def ctx() -> RunContext[Any]:
    return RunContext[Any](run_id="protocol")


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
async def test_the_protocol_option_decides_the_version_over_http(
    http_server: Callable[..., Any], protocol: str
) -> None:
    server = http_server("streamable-http")
    toolset = MCPToolset.http(server.url, name="remote", protocol=protocol)  # type: ignore[arg-type]
    assert toolset.protocol == protocol and toolset.protocol_version is None
    async with toolset:
        assert toolset.status == "up"
        added = await toolset.call_tool("add", {"a": 40, "b": 2}, ctx())
        assert added.content == {"result": 42}
        assert toolset.protocol_version in ERA[protocol]


@pytest.mark.parametrize("protocol", ["auto", "legacy"])
async def test_the_protocol_option_decides_the_version_over_stdio(
    py_stdio: Callable[..., MCPToolset], protocol: str
) -> None:
    toolset = py_stdio(protocol=protocol)
    async with toolset:
        added = await toolset.call_tool("add", {"a": 1, "b": 2}, ctx())
        assert added.content == {"result": 3}
        assert toolset.protocol_version in ERA[protocol]


async def test_the_config_file_protocol_key_reaches_the_connection(tmp_path: Path) -> None:
    import sys

    config = tmp_path / "mcp.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "old": {
                        "command": sys.executable,
                        "args": [str(PY_SERVER), "stdio"],
                        "protocol": "legacy",
                    },
                    "remote": {"type": "http", "url": "http://127.0.0.1:9/mcp"},
                }
            }
        )
    )
    servers = load_mcp_config(config, environ={})
    assert servers["remote"].protocol == "auto"  # the default
    old = servers["old"]
    assert old.protocol == "legacy"
    async with old:
        assert old.status == "up"
        assert old.protocol_version in HANDSHAKE_PROTOCOL_VERSIONS


@pytest.mark.parametrize("protocol", ["modern", "2026-07-28", "", None, 1])
def test_an_unknown_protocol_is_a_clear_error(tmp_path: Path, protocol: object) -> None:
    with pytest.raises(ConfigurationError, match="protocol must be 'auto' or 'legacy'"):
        MCPToolset.http("http://127.0.0.1:9/mcp", protocol=protocol)  # type: ignore[arg-type]
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"mcpServers": {"a": {"command": "x", "protocol": protocol}}}))
    with pytest.raises(ConfigurationError, match='"protocol" must be "auto" or "legacy"'):
        load_mcp_config(config, environ={})
