"""`MCPToolset`: the tools of one MCP server as a Covey `Toolset`."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, TextIO

from pydantic import SecretStr

from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError, ToolError, ToolNotFoundError
from covey.spec.tools import ToolArgumentsError, ToolDefinition, ToolResult, Toolset
from covey.tools.mcp._connection import Backoff, Connection, Protocol, State
from covey.tools.mcp._results import to_tool_result
from covey.tools.mcp._transports import HttpSpec, StdioSpec

if TYPE_CHECKING:
    from mcp_types import Tool

__all__ = ["MCPToolset", "RequestHeaders"]

logger = logging.getLogger("covey.tools.mcp")

RequestHeaders = Callable[[RunContext[Any]], Mapping[str, str]]
"""Headers for one call, from the run calling it (a tenant id, a user's token...)."""

_SAFE = re.compile(r"[^A-Za-z0-9_-]+")
_VALID_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DEFAULT_TIMEOUT = 60.0
_DEFAULT_CONNECT_TIMEOUT = 30.0


def safe_name(text: str, *, fallback: str = "mcp") -> str:
    """`text` as a provider-safe name: `[A-Za-z0-9_-]`, at most 64 characters."""
    cleaned = _SAFE.sub("_", text).strip("_")[:64]
    return cleaned or fallback


class _Catalogue:
    """The tool list of one generation, as the model sees it."""

    __slots__ = ("by_shown", "definitions", "generation", "schemas", "validators")

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.definitions: list[ToolDefinition] = []
        self.by_shown: dict[str, str] = {}
        self.schemas: dict[str, dict[str, Any]] = {}
        self.validators: dict[str, Any] = {}


class MCPToolset(Toolset):
    """The tools of one MCP server.

    Build one with `MCPToolset.stdio(...)`, `MCPToolset.http(...)` or from an `mcpServers`
    config file (`load_mcp_config`, `MCPToolset.from_config`). Entering it (every run that uses
    it does; the runtime does once for the process) connects on the first entry only; the
    connection is closed when the last one leaves. The connection is owned by its own task and
    supervised: a server that exits is reconnected with backoff, and while it is down its tools
    answer with an error result the model reads ("MCP server x is unavailable: ..."), so the
    run goes on. A server down at the first connect lists no tools (or the last ones it had),
    with a warning in the log, rather than failing the run.

    Args:
        spec: How to reach the server (use the constructors instead).
        name: The toolset's `id`: a short provider-safe name, the prefix used on name clashes.
        prefix: Show every tool as `f"{prefix}_{tool}"` (to keep servers apart for sure).
        timeout: Seconds one call may take before it is cancelled and answered with an error.
        connect_timeout: Seconds to connect and list the tools before an attempt counts failed.
        backoff: Reconnect delays.
        protocol: How each session starts: `"auto"` (the default) lets the server offer its
            newest protocol (2026-07-28 for a current SDK server) and falls back to the
            `initialize` handshake of older servers; `"legacy"` always does the handshake.
    """

    def __init__(
        self,
        spec: StdioSpec | HttpSpec,
        *,
        name: str,
        prefix: str | None = None,
        timeout: float | None = _DEFAULT_TIMEOUT,
        connect_timeout: float = _DEFAULT_CONNECT_TIMEOUT,
        backoff: Backoff | None = None,
        request_headers: RequestHeaders | None = None,
        protocol: Protocol = "auto",
    ) -> None:
        if not _VALID_NAME.fullmatch(name):
            raise ConfigurationError(
                f"MCP toolset name {name!r} is not valid: use 1 to 64 letters, digits, '_' or "
                "'-' (it prefixes tool names on clashes)."
            )
        if prefix is not None and not _VALID_NAME.fullmatch(prefix):
            raise ConfigurationError(
                f"MCP tool prefix {prefix!r} is not valid: use letters, digits, '_' or '-'."
            )
        if timeout is not None and not timeout > 0:
            raise ConfigurationError(
                f"timeout must be a positive number of seconds or None, got {timeout!r}."
            )
        if not connect_timeout > 0:
            raise ConfigurationError(f"connect_timeout must be positive, got {connect_timeout!r}.")
        if protocol not in ("auto", "legacy"):
            raise ConfigurationError(f"protocol must be 'auto' or 'legacy', got {protocol!r}.")
        self.id = name
        self.prefix = prefix
        self.timeout = timeout
        self._spec = spec
        self._request_headers = request_headers
        secrets = spec.secrets()
        self._connection = Connection(
            name,
            spec.factory(),
            connect_timeout=connect_timeout,
            backoff=backoff or Backoff(),
            redact=functools.partial(_redact, secrets=secrets),
            protocol=protocol,
        )
        self._entered = 0
        self._catalogue = _Catalogue(-1)

    # --- constructors ----------------------------------------------------------------------

    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        name: str | None = None,
        prefix: str | None = None,
        timeout: float | None = _DEFAULT_TIMEOUT,
        connect_timeout: float = _DEFAULT_CONNECT_TIMEOUT,
        backoff: Backoff | None = None,
        errlog: TextIO | None = None,
        protocol: Protocol = "auto",
    ) -> MCPToolset:
        """A server run as a subprocess (`command args...`), spoken to over stdin/stdout.

        The process gets a minimal environment (`PATH`, `HOME`, `USER`...; the SDK's default)
        plus `env`: the agent's own secrets are not handed to it unless given here.
        """
        if isinstance(args, str):
            raise ConfigurationError(
                f"args must be a list of arguments, not the string {args!r} (no shell runs it)."
            )
        if not command:
            raise ConfigurationError("An MCP stdio server needs a command.")
        spec = StdioSpec(command, tuple(args), dict(env) if env else None, cwd, errlog)
        return cls(
            spec,
            name=name or _name_from_command(command, args),
            prefix=prefix,
            timeout=timeout,
            connect_timeout=connect_timeout,
            backoff=backoff,
            protocol=protocol,
        )

    @classmethod
    def http(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: str | SecretStr | None = None,
        request_headers: RequestHeaders | None = None,
        transport: Literal["streamable-http", "sse"] = "streamable-http",
        name: str | None = None,
        prefix: str | None = None,
        timeout: float | None = _DEFAULT_TIMEOUT,
        connect_timeout: float = _DEFAULT_CONNECT_TIMEOUT,
        backoff: Backoff | None = None,
        protocol: Protocol = "auto",
    ) -> MCPToolset:
        """A server at `url`, over streamable HTTP (default) or the older HTTP+SSE transport.

        `auth` is a bearer token (sent as `Authorization: Bearer ...`); it and the header values
        never appear in a repr, a log line or an error. `request_headers(ctx)` is called for each
        tool call and its headers are sent with that call only.
        """
        from urllib.parse import urlsplit

        if transport not in ("streamable-http", "sse"):
            raise ConfigurationError(
                f"transport must be 'streamable-http' or 'sse', got {transport!r}."
            )
        try:
            parts = urlsplit(url)
        except ValueError as e:
            raise ConfigurationError(f"MCP server URL is not valid: {e}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                "An MCP server URL must be http:// or https:// with a host, got "
                f"{parts.scheme or 'no'} scheme."
            )
        token = SecretStr(auth) if isinstance(auth, str) else auth
        spec = HttpSpec(url, transport, dict(headers or {}), token, connect_timeout)
        return cls(
            spec,
            name=name or _name_from_host(parts.hostname),
            prefix=prefix,
            timeout=timeout,
            connect_timeout=connect_timeout,
            backoff=backoff,
            request_headers=request_headers,
            protocol=protocol,
        )

    @classmethod
    def from_config(cls, path: str | Path, name: str) -> MCPToolset:
        """Server `name` of an `mcpServers` JSON file (see `load_mcp_config`)."""
        from covey.tools.mcp.config import load_mcp_config

        servers = load_mcp_config(path)
        if name not in servers:
            known = ", ".join(sorted(servers)) or "none"
            raise ConfigurationError(
                f"No MCP server named {name!r} in {path}; the servers there are: {known}."
            )
        return servers[name]

    # --- state -------------------------------------------------------------------------------

    @property
    def status(self) -> State:
        """`idle` (not entered), `connecting`, `up`, `down` (reconnecting) or `closed`."""
        return self._connection.state

    @property
    def sessions_opened(self) -> int:
        """How many connections were opened since the toolset was created (reconnects count)."""
        return self._connection.sessions_opened

    @property
    def protocol(self) -> Protocol:
        """How sessions start: `"auto"` or `"legacy"` (see the class docstring)."""
        return self._connection.protocol

    @property
    def protocol_version(self) -> str | None:
        """The MCP protocol version of the last session that came up (None before one did)."""
        return self._connection.protocol_version

    @property
    def tools_generation(self) -> int:
        """Grows by one each time the tool list is (re)fetched from the server."""
        return self._connection.tools_generation

    async def wait_until_up(self) -> bool:
        """Wait until the server is connected (after a reconnect, say).

        Returns False when the toolset is not entered (nothing will connect). Bound the wait
        with `anyio.fail_after`.
        """
        return await self._connection.wait_up()

    async def wait_tools_changed(self, since: int) -> None:
        """Wait until the tool list was fetched again after generation `since`."""
        await self._connection.wait_changed(since)

    # --- Toolset -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        elsewhere = self._connection.owned_elsewhere()
        if elsewhere:
            raise ToolError(
                f"MCP toolset {self.id} is connected on another event loop (entered by another "
                "thread or asyncio.run that is still going); use it from that loop, or give "
                "each loop its own MCPToolset."
            )
        if elsewhere is None and self._entered:
            self._entered = 0  # the loop that held it is gone
        self._entered += 1
        try:
            if self._entered == 1:
                self._connection.start()
            await self._connection.wait_attempted()
        except BaseException:
            # Cancelled while waiting: this entry never happened, and no __aexit__ will come.
            await self.__aexit__(None, None, None)
            raise
        if self._connection.state != "up" and self._entered == 1:
            logger.warning(
                "MCP server %s is unavailable at start (%s); its tools are missing until it "
                "connects",
                self.id,
                self._connection.last_error,
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._entered == 0:
            return
        self._entered -= 1
        if self._entered == 0:
            await self._connection.stop()

    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        """The server's tools (the last known ones while it is down; none if it never came up).

        Raises:
            ToolError: the toolset is not entered (use `async with toolset:`, or give it to an
                agent, which does).
        """
        self._check_entered()
        await self._connection.wait_fresh(self._connection_timeout())
        return list(self._current().definitions)

    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        """Call tool `name` on the server.

        Returns an error result (the model reads it, the run goes on) when the server is down,
        the call timed out, or the tool reported an error.

        Raises:
            ToolNotFoundError: the server has no tool of that name.
            ToolArgumentsError: the arguments do not match the tool's input schema.
            ToolError: the toolset is not entered, or `request_headers` failed.
        """
        self._check_entered()
        catalogue = self._current()
        real = catalogue.by_shown.get(name)
        if real is None:
            available = ", ".join(repr(n) for n in catalogue.by_shown) or "none"
            raise ToolNotFoundError(
                f"No tool named {name!r} on MCP server {self.id}; the tools available are "
                f"{available}.",
                tool_name=name,
            )
        if real not in catalogue.validators:
            catalogue.validators[real] = _validator(catalogue.schemas[real])
        _validate(name, catalogue.validators[real], args)
        headers: Mapping[str, str] | None = None
        if self._request_headers is not None:
            try:
                headers = dict(self._request_headers(ctx))
            except Exception as e:
                raise ToolError(
                    f"request_headers of MCP toolset {self.id} failed: {type(e).__name__}",
                    tool_name=name,
                ) from e
        outcome = await self._connection.call(real, args, headers, self.timeout)
        if isinstance(outcome, str):
            return ToolResult(content=outcome, is_error=True)
        return to_tool_result(outcome)

    # --- internals ---------------------------------------------------------------------------

    def _connection_timeout(self) -> float:
        return self.timeout if self.timeout is not None else _DEFAULT_TIMEOUT

    def _check_entered(self) -> None:
        if self._entered == 0:
            raise ToolError(
                f"MCP toolset {self.id} is not connected: use `async with toolset:` (an agent "
                "enters its toolsets for each run)."
            )

    def _current(self) -> _Catalogue:
        connection = self._connection
        if self._catalogue.generation != connection.tools_generation:
            self._catalogue = self._build(connection.tools or [], connection.tools_generation)
        return self._catalogue

    def _build(self, tools: list[Tool], generation: int) -> _Catalogue:
        catalogue = _Catalogue(generation)
        for tool in tools:
            shown = safe_name(tool.name, fallback="tool")
            if self.prefix:
                shown = f"{self.prefix}_{shown}"[:64]
            if shown in catalogue.by_shown:
                logger.warning(
                    "MCP server %s: tool %r is shown as %r, which another tool already has; "
                    "it is left out",
                    self.id,
                    tool.name,
                    shown,
                )
                continue
            schema = _object_schema(tool.input_schema)
            catalogue.by_shown[shown] = tool.name
            catalogue.schemas[tool.name] = schema
            catalogue.definitions.append(
                ToolDefinition(
                    name=shown,
                    description=tool.description or tool.title or "",
                    parameters_json_schema=schema,
                    metadata={"mcp_server": self.id, "mcp_tool": tool.name},
                )
            )
        return catalogue

    def __repr__(self) -> str:
        return f"MCPToolset(name={self.id!r}, {self._spec.describe()}, status={self.status!r})"


def _object_schema(schema: dict[str, Any]) -> dict[str, Any]:
    cleaned = {k: v for k, v in schema.items() if k != "$schema"}
    cleaned.setdefault("type", "object")
    cleaned.setdefault("properties", {})
    return cleaned


def _validator(schema: dict[str, Any]) -> Any:
    """A compiled validator for a tool's input schema, or None when the schema is broken.

    Built once per tool list: checking a schema against its metaschema costs milliseconds,
    validating arguments with the compiled validator microseconds.
    """
    from jsonschema import exceptions, validators

    try:
        cls = validators.validator_for(schema, default=validators.Draft202012Validator)
        cls.check_schema(schema)
    except exceptions.SchemaError:
        return None  # the server's schema is broken; the server validates for itself
    return cls(schema)


def _validate(name: str, validator: Any, args: dict[str, Any]) -> None:
    if validator is None:
        return
    errors = sorted(validator.iter_errors(args), key=lambda e: list(e.absolute_path))
    if errors:
        raise ToolArgumentsError(
            name,
            [{"loc": tuple(e.absolute_path), "msg": e.message[:300]} for e in errors[:20]],
        )


def _name_from_command(command: str, args: Sequence[str]) -> str:
    """`npx -y @scope/server-everything` → `server-everything`; `python srv.py` → `srv`."""
    candidates = [command, *args]
    runners = {"npx", "uvx", "node", "python", "python3", "uv", "bunx", "pnpm", "deno", "docker"}
    for item in reversed(candidates):
        if item.startswith("-"):
            continue
        base = Path(item).name
        if base in runners or base == "run" or base in ("stdio", "sse"):
            continue
        stem = base.rsplit("@", 1)[0] if base.count("@") == 1 and not base.startswith("@") else base
        stem = stem.removesuffix(".py").removesuffix(".js").removesuffix(".mjs")
        if stem:
            return safe_name(stem)
    return safe_name(Path(command).name)


def _name_from_host(host: str) -> str:
    """`mcp.example.com` → `mcp`; an address (`127.0.0.1`, `::1`) stays whole."""
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return safe_name(host.split(".")[0])
    return safe_name(host)


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
