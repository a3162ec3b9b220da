"""What a tool looks like to a model and to the run loop, and the `Toolset` interface."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from covey.spec.context import RunContext
from covey.spec.errors import ModelRetry, ToolNotFoundError

__all__ = [
    "PrefixedToolset",
    "ToolArgumentsError",
    "ToolDefinition",
    "ToolKind",
    "ToolResult",
    "Toolset",
]

ToolKind = Literal["function", "output", "external"]


class ToolDefinition(BaseModel):
    """A tool as the model sees it, plus how the run loop must treat it.

    Adapters send `name`, `description`, `parameters_json_schema` and `strict`; the other fields
    are for the run loop and never leave the process.
    """

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    name: str
    description: str = ""
    parameters_json_schema: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    strict: bool | None = None
    kind: ToolKind = "function"
    """`function`: the toolset runs it. `output`: calling it returns the run's structured output.
    `external`: the caller runs it and supplies the result on resume."""
    requires_approval: bool = False
    """The run pauses for a human to approve each call before it runs."""
    input_fields: tuple[str, ...] = ()
    """Arguments a human supplies (the run pauses for them) rather than the model."""
    timeout: float | None = None
    """Seconds a call may take; `None` means the agent's default."""
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])


class ToolResult(BaseModel):
    """What a toolset returns from a call. `content` must be JSON-serialisable or a string."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    content: Any = None
    is_error: bool = False
    """The call failed in a way the model should hear about (the content says how)."""
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])


class ToolArgumentsError(ModelRetry):
    """The model's arguments did not validate; the run loop sends the errors back as a retry."""

    def __init__(self, tool_name: str, errors: list[dict[str, Any]]) -> None:
        self.tool_name = tool_name
        self.errors = errors
        lines = [
            f"- {'.'.join(str(x) for x in e.get('loc', ())) or '(arguments)'}: {e.get('msg')}"
            for e in errors
        ]
        super().__init__(f"Invalid arguments for tool {tool_name!r}:\n" + "\n".join(lines))


class Toolset(ABC):
    """A group of tools: functions, an MCP server, a database...

    Used as an async context manager: a run enters every toolset it uses once, before the first
    model request, and leaves it when the run ends. Entering must be cheap when already entered
    (toolsets are shared by concurrent runs; count entries, connect once).
    """

    id: str | None = None
    """A stable, provider-safe name for this toolset (`[A-Za-z0-9_-]`). When two toolsets of one
    agent offer the same tool name and both have an id, the run shows each clashing tool to the
    model as `f"{id}_{name}"`; without ids the clash is a `ConfigurationError`."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    @abstractmethod
    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        """The tools available to this run."""

    @abstractmethod
    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        """Run tool `name` with the model's `args`.

        Raises:
            ToolArgumentsError: the arguments do not match the schema (the model retries).
            ModelRetry: the tool asks the model to try again.
            ToolNotFoundError: no tool of that name.
        """


class PrefixedToolset(Toolset):
    """`toolset` with every tool shown as `f"{prefix}_{name}"`: for two toolsets whose tools
    would clash, or to tell the model where a tool comes from.

    Entering and leaving go to the wrapped toolset, so one toolset may be shared by several
    prefixed views.
    """

    def __init__(self, toolset: Toolset, prefix: str) -> None:
        self.toolset = toolset
        self.prefix = prefix
        self.id = prefix

    async def __aenter__(self) -> Self:
        await self.toolset.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.toolset.__aexit__(exc_type, exc, tb)

    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        return [
            t.model_copy(update={"name": f"{self.prefix}_{t.name}"})
            for t in await self.toolset.list_tools(ctx)
        ]

    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        head = f"{self.prefix}_"
        if not name.startswith(head):
            raise ToolNotFoundError(
                f"Unknown tool {name!r}: every tool of this toolset starts with {head!r}",
                tool_name=name,
            )
        return await self.toolset.call_tool(name.removeprefix(head), args, ctx)

    def __repr__(self) -> str:
        return f"PrefixedToolset({self.toolset!r}, prefix={self.prefix!r})"
