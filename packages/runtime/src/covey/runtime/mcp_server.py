"""Serving chosen agents, teams, workflows and tools as an MCP server.

What is offered is named in `RuntimeSettings.mcp_expose` and nothing else (deny by default):

- `agent:NAME`, `team:NAME`, `workflow:NAME` — an MCP tool named `NAME` taking `input` (the
  user's message) and an optional `session_id`; calling it is an ordinary Covey run (stored,
  visible at `/v1/runs/{id}`), and the result's structured content carries the run id, session
  id, status and output so a client can continue the session.
- `tool:AGENT.TOOL` — one tool of a served agent's toolsets, called directly with a fresh
  `RunContext` (no model). Tools that need a person (approval, human input) or are not run by
  their toolset (output, external) are refused at startup: an MCP client has no way to approve.

The same `CoveyMcp` serves both transports: streamable HTTP at `/mcp` under the runtime
(stateless, so any worker answers any request, behind the runtime's auth, host and origin checks
and the `agents:run` scope) and stdio through `covey mcp serve`. The `mcp` SDK is imported on
first use only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from covey.runtime.auth import Principal, anonymous
from covey.runtime.registry import Registry
from covey.runtime.runnables import Kind, Runnable
from covey.spec import RunResult, RunStatus
from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError, ModelRetry, ToolError
from covey.spec.store import new_id
from covey.spec.tools import ToolDefinition, Toolset

if TYPE_CHECKING:
    import mcp_types
    from mcp.server.lowlevel import Server

__all__ = ["CoveyMcp", "Exposed", "RunFn", "parse_exposure"]

log = logging.getLogger("covey.runtime.mcp")

RunFn = Callable[
    [Kind, Runnable, "str | dict[str, Any]", "str | None", Principal], Awaitable[RunResult[Any]]
]
"""Runs `runnable` of `kind` with the input (a message; a workflow's may be a JSON object) and
session for a caller; its result."""

_KINDS: tuple[Kind, ...] = ("agent", "team", "workflow")
_RUN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "input": {"type": "string", "minLength": 1, "description": "The user's message."},
        "session_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "description": "Continue this session (from an earlier call's result).",
        },
    },
    "required": ["input"],
    "additionalProperties": False,
}
_WORKFLOW_SCHEMA: dict[str, Any] = {
    **_RUN_SCHEMA,
    "properties": {
        **_RUN_SCHEMA["properties"],
        "input": {
            "anyOf": [{"type": "string", "minLength": 1}, {"type": "object", "minProperties": 1}],
            "description": "The workflow's input: text, or a JSON object for a first step "
            "that takes one.",
        },
    },
}
_RUN_OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "run_id": {"type": "string"},
        "session_id": {"type": ["string", "null"]},
        "status": {"type": "string"},
        "output": {},
    },
    "required": ["run_id", "status"],
}


@dataclass(slots=True)
class Exposed:
    """One MCP tool: a runnable (`kind` agent/team/workflow) or one agent's tool (`tool`)."""

    name: str
    kind: Kind | None
    runnable: Runnable
    tool: str | None = None
    toolset: Toolset | None = None
    definition: ToolDefinition | None = None


def parse_exposure(entries: Sequence[str], registry: Registry) -> list[Exposed]:
    """The MCP tools `entries` (`agent:NAME`, `tool:AGENT.TOOL`, ...) name in `registry`.

    Raises:
        ConfigurationError: an entry is malformed, names nothing served, or two entries give
            the same MCP tool name.
    """
    exposed: list[Exposed] = []
    for entry in entries:
        kind, sep, name = entry.strip().partition(":")
        if not sep or not name:
            raise ConfigurationError(
                f"mcp_expose entry {entry!r}: use agent:NAME, team:NAME, workflow:NAME or "
                "tool:AGENT.TOOL"
            )
        if kind == "tool":
            agent_name, dot, tool = name.partition(".")
            agent = registry.get(agent_name)
            if not dot or not tool or agent is None:
                raise ConfigurationError(
                    f"mcp_expose entry {entry!r}: no served agent {agent_name!r} "
                    "(use tool:AGENT.TOOL)"
                )
            exposed.append(
                Exposed(name=f"{agent_name}_{tool}", kind=None, runnable=agent, tool=tool)
            )
            continue
        if kind not in _KINDS:
            raise ConfigurationError(
                f"mcp_expose entry {entry!r}: {kind!r} is not agent, team, workflow or tool"
            )
        runnable = registry.of_kind(kind, name)
        if runnable is None:
            raise ConfigurationError(f"mcp_expose entry {entry!r}: no served {kind} {name!r}")
        exposed.append(Exposed(name=name, kind=kind, runnable=runnable))
    names = [e.name for e in exposed]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ConfigurationError(f"mcp_expose offers several tools named {clashes}")
    return exposed


def _context(principal: Principal, agent_name: str | None, tool: str) -> RunContext[Any]:
    return RunContext(
        run_id=new_id(),
        user_id=principal.user_id,
        tenant_id=principal.tenant_id,
        agent_name=agent_name,
        tool_name=tool,
        tool_call_id=new_id(),
    )


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


@dataclass(slots=True)
class CoveyMcp:
    """The MCP server's tools and their calls, transport-agnostic.

    Args:
        exposed: What is offered (`parse_exposure`).
        run: How a runnable is run for a caller (through the run manager under the runtime,
            directly on the store for stdio).
        name: The server name MCP clients see.
    """

    exposed: list[Exposed]
    run: RunFn
    name: str = "covey"
    _by_name: dict[str, Exposed] = field(default_factory=dict[str, Exposed])
    _ready: bool = False

    async def prepare(self) -> None:
        """Find each exposed agent tool in its agent's (entered) toolsets, once.

        Raises:
            ConfigurationError: a named tool does not exist, or needs a person or the caller to
                run it (approval, human input, external or output tools).
        """
        if self._ready:
            return
        for item in self.exposed:
            if item.tool is not None:
                await self._find_tool(item)
            self._by_name[item.name] = item
        self._ready = True

    async def _find_tool(self, item: Exposed) -> None:
        agent = item.runnable
        toolsets = cast("Callable[[], Sequence[Toolset]]", getattr(agent, "toolsets"))  # noqa: B009
        ctx = _context(anonymous(), agent.name, item.tool or "")
        for toolset in toolsets():
            for definition in await toolset.list_tools(ctx):
                if definition.name != item.tool:
                    continue
                if (
                    definition.requires_approval
                    or definition.input_fields
                    or definition.kind != "function"
                ):
                    raise ConfigurationError(
                        f"mcp_expose tool:{agent.name}.{item.tool}: the tool needs a person's "
                        "approval or input (or is not run by its toolset); an MCP client cannot "
                        "give it, so it is not offered"
                    )
                item.toolset, item.definition = toolset, definition
                return
        raise ConfigurationError(
            f"mcp_expose tool:{agent.name}.{item.tool}: agent {agent.name!r} has no tool "
            f"{item.tool!r}"
        )

    # --- the protocol ------------------------------------------------------------------------------

    def tools(self) -> list[mcp_types.Tool]:
        """The MCP tools offered."""
        import mcp_types

        out: list[mcp_types.Tool] = []
        for item in self.exposed:
            if item.definition is not None:
                out.append(
                    mcp_types.Tool(
                        name=item.name,
                        description=item.definition.description or None,
                        input_schema=item.definition.parameters_json_schema,
                    )
                )
            else:
                out.append(
                    mcp_types.Tool(
                        name=item.name,
                        description=item.runnable.description or f"Run the {item.kind} {item.name}",
                        input_schema=_WORKFLOW_SCHEMA if item.kind == "workflow" else _RUN_SCHEMA,
                        output_schema=_RUN_OUTPUT_SCHEMA,
                    )
                )
        return out

    async def call(
        self, name: str, arguments: dict[str, Any] | None, principal: Principal
    ) -> mcp_types.CallToolResult:
        """Call the MCP tool `name` for `principal`; a failure is an error result, never raised."""
        import mcp_types

        item = self._by_name.get(name)
        if item is None:
            return _error(f"Unknown tool {name!r}")
        args = dict(arguments or {})
        try:
            if item.toolset is not None:
                return await self._call_tool(item, args, principal)
            return await self._call_runnable(item, args, principal)
        except (ModelRetry, ToolError) as exc:
            return _error(str(exc))
        except ConfigurationError as exc:
            return _error(str(exc))
        except Exception as exc:  # a tool's own bug: the caller hears of it, the log has it
            # Its message may carry what it touched (a connection string, a row): the warning
            # names the type only; the traceback is for debug logging.
            log.warning("MCP tool %s failed with %s", name, type(exc).__name__)
            log.debug("MCP tool %s failed", name, exc_info=True)
            return mcp_types.CallToolResult(
                content=[mcp_types.TextContent(text=f"The tool failed ({type(exc).__name__})")],
                is_error=True,
            )

    async def _call_tool(
        self, item: Exposed, args: dict[str, Any], principal: Principal
    ) -> mcp_types.CallToolResult:
        import mcp_types

        assert item.toolset is not None
        ctx = _context(principal, item.runnable.name, item.tool or "")
        result = await item.toolset.call_tool(item.tool or "", args, ctx)
        content: Any = result.content
        structured = cast("dict[str, Any]", content) if isinstance(content, dict) else None
        return mcp_types.CallToolResult(
            content=[mcp_types.TextContent(text=_text(content))],
            structured_content=structured,
            is_error=result.is_error,
        )

    async def _call_runnable(
        self, item: Exposed, args: dict[str, Any], principal: Principal
    ) -> mcp_types.CallToolResult:
        import mcp_types

        text: Any = args.get("input")
        session = args.get("session_id")
        extra = set(args) - {"input", "session_id"}
        if item.kind == "workflow" and isinstance(text, dict) and text:
            pass  # a workflow's first step may take a JSON object
        elif not isinstance(text, str) or not text.strip():
            return _error("`input` must be a non-empty string: the user's message")
        if session is not None and (
            not isinstance(session, str) or not 0 < len(session) <= 255 or not session.isprintable()
        ):
            return _error("`session_id` must be a printable string of 1 to 255 characters")
        if extra:
            return _error(f"Unknown arguments {sorted(extra)}; this tool takes input, session_id")
        assert item.kind is not None
        given = cast("str | dict[str, Any]", text)
        result = await self.run(item.kind, item.runnable, given, session, principal)
        structured = {
            "run_id": result.run_id,
            "session_id": result.session_id,
            "status": str(result.status),
            "output": result.output,
        }
        if result.status == RunStatus.COMPLETED:
            body = _text(result.output)
            failed = False
        elif result.status == RunStatus.PAUSED:
            waiting = ", ".join(f"{r.tool_name} ({r.kind})" for r in result.requirements)
            body = (
                f"The run {result.run_id} paused: it waits for {waiting}. Decide at "
                f"POST /v1/runs/{result.run_id}/resume."
            )
            failed = True
        else:
            error = result.error
            body = f"The run {result.status}: {error.message if error else 'no output'}"
            failed = True
        return mcp_types.CallToolResult(
            content=[mcp_types.TextContent(text=body)],
            structured_content=structured,
            is_error=failed,
        )

    # --- the SDK server ------------------------------------------------------------------------------

    def server(self, principal_of: Callable[[Any], Principal]) -> Server[Any]:
        """The SDK's low-level server answering `tools/list` and `tools/call`.

        `principal_of(ctx)`: the caller of a request (from the HTTP request's auth, or the
        local user for stdio).
        """
        import mcp_types
        from mcp.server.lowlevel import Server

        async def list_tools(
            ctx: Any, params: mcp_types.PaginatedRequestParams | None
        ) -> mcp_types.ListToolsResult:
            await self.prepare()
            return mcp_types.ListToolsResult(tools=self.tools())

        async def call_tool(
            ctx: Any, params: mcp_types.CallToolRequestParams
        ) -> mcp_types.CallToolResult:
            await self.prepare()
            return await self.call(params.name, params.arguments, principal_of(ctx))

        return Server(self.name, on_list_tools=list_tools, on_call_tool=call_tool)


def _error(message: str) -> mcp_types.CallToolResult:
    import mcp_types

    return mcp_types.CallToolResult(content=[mcp_types.TextContent(text=message)], is_error=True)
