"""`mcpServers` files, `${VAR}` expansion, and the `mcp:<name>` tool reference."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.spec.plugins import resolve_toolset
from covey.tools.mcp import CONFIG_ENV, MCPToolset, from_reference, load_mcp_config
from covey.tools.mcp._transports import HttpSpec, StdioSpec

PY_SERVER = Path(__file__).resolve().parent / "servers" / "py_server.py"


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_stdio_and_http_servers_with_env_expansion(tmp_path: Path) -> None:
    config = write(
        tmp_path / "mcp.json",
        {
            "mcpServers": {
                "files": {
                    "command": "npx",
                    "args": ["-y", "@modelcontextprotocol/server-filesystem", "${ROOT}"],
                    "env": {"API_KEY": "${API_KEY}", "MODE": "${MODE:-ro}"},
                    "cwd": "${ROOT}",
                },
                "search.remote": {
                    "type": "http",
                    "url": "https://${HOST}/mcp",
                    "headers": {"Authorization": "Bearer ${TOKEN}"},
                },
                "legacy": {"type": "sse", "url": "http://127.0.0.1:9/sse"},
                "off": {"command": "nothing", "disabled": True},
            }
        },
    )
    env = {
        "ROOT": "/srv/data",
        "API_KEY": "k-123456",
        "HOST": "mcp.example.com",
        "TOKEN": "t-98765",
    }
    servers = load_mcp_config(config, environ=env)
    assert sorted(servers) == ["files", "legacy", "search.remote"]

    files = servers["files"]
    assert files.id == "files"
    spec = files._spec
    assert isinstance(spec, StdioSpec)
    assert spec.args == ("-y", "@modelcontextprotocol/server-filesystem", "/srv/data")
    assert spec.env == {"API_KEY": "k-123456", "MODE": "ro"}
    assert spec.cwd == "/srv/data"
    assert "k-123456" not in repr(files)

    remote = servers["search.remote"]
    assert remote.id == "search_remote"  # provider-safe
    spec = remote._spec
    assert isinstance(spec, HttpSpec)
    assert (spec.url, spec.transport) == ("https://mcp.example.com/mcp", "streamable-http")
    assert spec.headers == {"Authorization": "Bearer t-98765"}
    assert "t-98765" not in repr(remote)

    legacy = servers["legacy"]._spec
    assert isinstance(legacy, HttpSpec) and legacy.transport == "sse"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON: Expecting property name"),
        ({"servers": {}}, 'needs an object "mcpServers"'),
        ({"mcpServers": {"a": []}}, "MCP server 'a'"),
        ({"mcpServers": {"a": {"args": ["x"]}}}, 'needs "command"'),
        ({"mcpServers": {"a": {"command": "x", "url": "http://h"}}}, 'both "command" and "url"'),
        ({"mcpServers": {"a": {"command": "x", "args": "--flag"}}}, '"args" must be a list'),
        ({"mcpServers": {"a": {"command": "x", "env": {"A": 1}}}}, '"env" must be an object'),
        ({"mcpServers": {"a": {"command": "x", "shell": True}}}, "does not know: shell"),
        ({"mcpServers": {"a": {"url": "ftp://h/x"}}}, "http:// or https://"),
        ({"mcpServers": {"a": {"url": "http://h", "type": "ws"}}}, "\"type\" 'ws'"),
        ({"mcpServers": {"a": {"command": "${NOPE_UNSET_VAR}"}}}, "${NOPE_UNSET_VAR}"),
    ],
)
def test_bad_files_are_clear_errors(tmp_path: Path, content: Any, message: str) -> None:
    config = write(tmp_path / "mcp.json", content)
    with pytest.raises(ConfigurationError) as error:
        load_mcp_config(config, environ={})
    assert message in str(error.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_mcp_config(tmp_path / "nope.json")


def test_a_missing_variable_is_named_but_no_value_leaks(tmp_path: Path) -> None:
    config = write(
        tmp_path / "mcp.json",
        {"mcpServers": {"a": {"url": "http://h/mcp", "headers": {"X": "${SET} ${UNSET_ONE}"}}}},
    )
    with pytest.raises(ConfigurationError) as error:
        load_mcp_config(config, environ={"SET": "visible-secret"})
    assert "${UNSET_ONE}" in str(error.value)
    assert "visible-secret" not in str(error.value)


def test_from_config_picks_a_server_or_lists_the_names(tmp_path: Path) -> None:
    config = write(tmp_path / "m.json", {"mcpServers": {"one": {"command": "x"}}})
    assert MCPToolset.from_config(config, "one").id == "one"
    with pytest.raises(ConfigurationError, match="the servers there are: one"):
        MCPToolset.from_config(config, "two")


async def test_references_resolve_through_the_plugin_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        tmp_path / "servers.json",
        {"mcpServers": {"py": {"command": sys.executable, "args": [str(PY_SERVER)]}}},
    )
    monkeypatch.setenv(CONFIG_ENV, str(config))
    toolset = resolve_toolset("mcp:py")
    assert isinstance(toolset, MCPToolset)
    async with toolset:
        tools = await toolset.list_tools(RunContext[Any](run_id="ref"))
        assert "echo" in {t.name for t in tools}

    with pytest.raises(ConfigurationError) as error:
        resolve_toolset("mcp")
    assert "mcp:<name>" in str(error.value) and "py" in str(error.value)
    with pytest.raises(ConfigurationError, match="No MCP server named 'other'"):
        from_reference("other")


def test_reference_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigurationError) as error:
        from_reference("x")
    assert "mcp.json" in str(error.value) and str(Path(".covey") / "mcp.json") in str(error.value)

    (tmp_path / ".covey").mkdir()
    write(tmp_path / ".covey" / "mcp.json", {"mcpServers": {"x": {"command": "hidden"}}})
    assert from_reference("x")._spec.command == "hidden"  # type: ignore[union-attr]
    write(tmp_path / "mcp.json", {"mcpServers": {"x": {"command": "top"}}})
    assert from_reference("x")._spec.command == "top"  # type: ignore[union-attr]

    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "missing.json"))
    with pytest.raises(ConfigurationError, match=r"missing\.json"):
        from_reference("x")


def test_names_from_commands() -> None:
    assert MCPToolset.stdio("npx", ["-y", "@modelcontextprotocol/server-everything"]).id == (
        "server-everything"
    )
    assert MCPToolset.stdio("uvx", ["mcp-server-git", "--repository", "."]).id == "mcp-server-git"
    assert MCPToolset.stdio("python", ["tools/my server.py"]).id == "my_server"
    with pytest.raises(ConfigurationError, match="not the string"):
        MCPToolset.stdio("node", "server.js")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="not valid"):
        MCPToolset.stdio("node", ["s.js"], name="has space")
