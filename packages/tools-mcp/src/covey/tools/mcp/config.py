"""`mcpServers` JSON files (the format editors use) and the `mcp:<name>` tool reference.

```json
{"mcpServers": {
    "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."]},
    "search": {"type": "http", "url": "https://example.com/mcp",
               "headers": {"Authorization": "Bearer ${SEARCH_TOKEN}"}}
}}
```

`${VAR}` and `${VAR:-default}` are replaced from the environment in `command`, `args`, `env`,
`cwd`, `url` and `headers`, so a file can be committed without its secrets. A variable that is
not set (and has no default) is an error that names it. Besides the editors' keys, an entry may
have `"timeout"` (seconds per call) and `"protocol"` (`"auto"` or `"legacy"`, see `MCPToolset`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from covey.spec.errors import ConfigurationError
from covey.tools.mcp.toolset import MCPToolset, safe_name

__all__ = ["CONFIG_ENV", "find_mcp_config", "from_reference", "load_mcp_config"]

CONFIG_ENV = "COVEY_MCP_CONFIG"
"""The environment variable naming the `mcpServers` file `mcp:<name>` references read."""

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_STDIO_KEYS = {
    "command",
    "args",
    "env",
    "cwd",
    "type",
    "transport",
    "disabled",
    "timeout",
    "protocol",
}
_HTTP_KEYS = {"url", "headers", "type", "transport", "disabled", "timeout", "protocol"}
_HTTP_TYPES = {
    "http": "streamable-http",
    "streamable-http": "streamable-http",
    "streamableHttp": "streamable-http",
    "streamable_http": "streamable-http",
    "sse": "sse",
}


def load_mcp_config(
    path: str | Path, *, environ: Mapping[str, str] | None = None
) -> dict[str, MCPToolset]:
    """Every server of an `mcpServers` file, by name (servers with `"disabled": true` left out).

    Raises:
        ConfigurationError: the file is missing or not JSON, or a server entry is invalid
            (the message names the file, the server and the field).
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"MCP config file {file} does not exist.") from None
    except OSError as e:
        raise ConfigurationError(f"Cannot read MCP config file {file}: {e.strerror}.") from None
    try:
        data: object = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigurationError(
            f"MCP config file {file} is not valid JSON: {e.msg} at line {e.lineno}, column "
            f"{e.colno}."
        ) from None
    servers = cast("dict[str, Any]", data).get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise ConfigurationError(
            f'MCP config file {file} needs an object "mcpServers": {{"<name>": {{...}}}}.'
        )
    env = os.environ if environ is None else environ
    found: dict[str, MCPToolset] = {}
    for name, entry in cast("dict[str, Any]", servers).items():
        where = f"MCP server {name!r} in {file}"
        if not isinstance(entry, dict):
            raise ConfigurationError(f"{where} must be an object.")
        entry = cast("dict[str, Any]", entry)
        if entry.get("disabled") is True:
            continue
        found[name] = _server(name, entry, where, env)
    return found


def _server(name: str, entry: dict[str, Any], where: str, env: Mapping[str, str]) -> MCPToolset:
    kind = entry.get("type", entry.get("transport"))
    timeout = entry.get("timeout", 60.0)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        raise ConfigurationError(f"{where}: timeout must be a positive number of seconds.")
    toolset_name = safe_name(name)
    protocol = entry.get("protocol", "auto")
    if protocol not in ("auto", "legacy"):
        raise ConfigurationError(f'{where}: "protocol" must be "auto" or "legacy".')
    if "command" in entry and "url" in entry:
        raise ConfigurationError(f'{where} has both "command" and "url"; give one.')
    if "command" in entry or kind == "stdio":
        _unknown(entry, _STDIO_KEYS, where)
        command = entry.get("command")
        if not isinstance(command, str) or not command:
            raise ConfigurationError(f'{where}: "command" must be a non-empty string.')
        args: object = entry.get("args", [])
        if not isinstance(args, list) or not all(
            isinstance(a, str) for a in cast("list[object]", args)
        ):
            raise ConfigurationError(f'{where}: "args" must be a list of strings.')
        server_env = _strings(entry.get("env", {}), "env", where)
        cwd = entry.get("cwd")
        if cwd is not None and not isinstance(cwd, str):
            raise ConfigurationError(f'{where}: "cwd" must be a string.')
        return MCPToolset.stdio(
            _expand(command, where, env),
            [_expand(a, where, env) for a in cast("list[str]", args)],
            env={k: _expand(v, where, env) for k, v in server_env.items()} or None,
            cwd=_expand(cwd, where, env) if cwd else None,
            name=toolset_name,
            timeout=float(timeout),
            protocol=protocol,
        )
    if "url" in entry:
        _unknown(entry, _HTTP_KEYS, where)
        url = entry["url"]
        if not isinstance(url, str):
            raise ConfigurationError(f'{where}: "url" must be a string.')
        transport = _HTTP_TYPES.get(kind or "http")
        if transport is None:
            raise ConfigurationError(
                f'{where}: "type" {kind!r} is not one of "http", "streamable-http", "sse".'
            )
        headers = _strings(entry.get("headers", {}), "headers", where)
        return MCPToolset.http(
            _expand(url, where, env),
            headers={k: _expand(v, where, env) for k, v in headers.items()},
            transport="sse" if transport == "sse" else "streamable-http",
            name=toolset_name,
            timeout=float(timeout),
            protocol=protocol,
        )
    raise ConfigurationError(f'{where} needs "command" (a local server) or "url" (a remote one).')


def _unknown(entry: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(entry) - allowed)
    if extra:
        raise ConfigurationError(
            f"{where} has fields this client does not know: {', '.join(extra)}; allowed are "
            f"{', '.join(sorted(allowed))}."
        )


def _strings(value: object, field: str, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str)
        for k, v in cast("dict[object, object]", value).items()
    ):
        raise ConfigurationError(f'{where}: "{field}" must be an object of strings.')
    return cast("dict[str, str]", value)


def _expand(text: str, where: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise ConfigurationError(
                    f"{where} uses ${{{name}}}, which is not set in the environment. Set it, "
                    f"or write ${{{name}:-default}}."
                )
            return default
        return value

    return _VAR.sub(replace, text)


def find_mcp_config(environ: Mapping[str, str] | None = None) -> tuple[Path | None, list[Path]]:
    """The `mcpServers` file `mcp:<name>` references read, and every place looked at.

    `$COVEY_MCP_CONFIG` if set (it must exist), else `./mcp.json`, else `./.covey/mcp.json`.
    """
    env = os.environ if environ is None else environ
    explicit = env.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit)
        return (path if path.is_file() else None), [path]
    searched = [Path("mcp.json"), Path(".covey") / "mcp.json"]
    for path in searched:
        if path.is_file():
            return path, searched
    return None, searched


def from_reference(arg: str | None) -> MCPToolset:
    """`Agent(tools=["mcp:<name>"])`: server `<name>` of the `mcpServers` file found.

    Raises:
        ConfigurationError: no name given, no file found, or no server of that name (the
            message lists the files searched and the names the file has).
    """
    path, searched = find_mcp_config()
    places = ", ".join(str(p) for p in searched)
    if path is None:
        raise ConfigurationError(
            f"No MCP config file found (looked at {places}; set ${CONFIG_ENV} to a file). "
            'Write {"mcpServers": {"<name>": {"command": ...}}} there.'
        )
    servers = load_mcp_config(path)
    names = ", ".join(sorted(servers)) or "none"
    if not arg:
        raise ConfigurationError(
            f'"mcp" needs a server name: write "mcp:<name>". The servers in {path} are: {names}.'
        )
    if arg not in servers:
        raise ConfigurationError(
            f"No MCP server named {arg!r} in {path}; the servers there are: {names}."
        )
    return servers[arg]
