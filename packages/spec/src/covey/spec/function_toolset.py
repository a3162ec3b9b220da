"""Python functions as tools: `Tool`, the `@tool` decorator and `FunctionToolset`."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Generic, cast, overload

import anyio.to_thread
import pydantic_core
from typing_extensions import ParamSpec, TypeVar

from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError, ToolError, ToolNotFoundError
from covey.spec.function_schema import FunctionSchema
from covey.spec.tools import ToolDefinition, ToolKind, ToolResult, Toolset

__all__ = ["FunctionToolset", "Tool", "tool"]

P = ParamSpec("P")
R = TypeVar("R")

# What OpenAI, Anthropic and Gemini all accept as a tool name.
_VALID_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Tool(Generic[P, R]):
    """A Python function the model can call.

    The JSON Schema shown to the model is built from the function's type hints and docstring on
    first use of `definition` (or the first call), then cached. A parameter annotated as
    `RunContext` receives the run context and is not shown to the model. The tool stays callable
    like the function it wraps, so the function can be unit-tested as it is.

    Args:
        function: A sync or async function with named, typed parameters. Sync functions run in a
            worker thread so they never block the event loop.
        name: The name the model sees; defaults to the function's `__name__`.
        description: What the model is told the tool does; defaults to the docstring's
            description.
        requires_approval: Pause the run for a human to approve each call.
        input_fields: Parameters a human supplies when the run pauses; they are left out of the
            schema the model sees.
        timeout: Seconds a call may take (enforced by the run loop); `None` for the default.
        strict: Ask the provider to enforce the schema strictly, where it can.
        kind: How the run loop treats calls; see `ToolDefinition.kind`.
        metadata: Extra data for the run loop and hooks; never sent to the model.

    Raises:
        ConfigurationError: the name is not a valid tool name, the function takes `*args` or
            `**kwargs`, or an option is out of range.

    Example:
        ```python
        def add(a: int, b: int) -> int:
            \"\"\"Add two numbers.\"\"\"
            return a + b


        add_tool = Tool(add, requires_approval=True)
        ```
    """

    # `__dict__` holds the wrapped function's metadata (`__name__`, `__doc__`, `__wrapped__`...).
    __slots__ = (
        "__dict__",
        "__weakref__",
        "_definition",
        "_description",
        "_function",
        "_input_fields",
        "_is_async",
        "_kind",
        "_metadata",
        "_name",
        "_requires_approval",
        "_schema",
        "_strict",
        "_timeout",
    )

    def __init__(
        self,
        function: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        requires_approval: bool = False,
        input_fields: Sequence[str] = (),
        timeout: float | None = None,
        strict: bool | None = None,
        kind: ToolKind = "function",
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if not callable(function):
            raise ConfigurationError(
                f"A tool wraps a function, got {type(function).__name__} {function!r}. "
                "Pass the function itself."
            )
        self._name = _tool_name(function, name)
        if isinstance(input_fields, str):
            raise ConfigurationError(
                f"Tool {self._name!r}: input_fields must be a sequence of parameter names, got the "
                f"string {input_fields!r}. Write input_fields=({input_fields!r},)."
            )
        if timeout is not None and not timeout > 0:
            raise ConfigurationError(
                f"Tool {self._name!r}: timeout must be a positive number of seconds or None, "
                f"got {timeout!r}."
            )
        self._function = function
        self._description = description
        self._requires_approval = requires_approval
        self._input_fields = tuple(input_fields)
        self._timeout = timeout
        self._strict = strict
        self._kind: ToolKind = kind
        self._metadata = dict(metadata or {})
        self._is_async = _is_async(function)
        # Only the signature is read here; hints, docstring and schema wait for first use.
        self._schema = FunctionSchema(function, name=self._name, omit=self._input_fields)
        self._definition: ToolDefinition | None = None
        functools.update_wrapper(self, function, updated=())

    @property
    def name(self) -> str:
        """The name the model calls the tool by."""
        return self._name

    @property
    def function(self) -> Callable[P, R]:
        """The wrapped function."""
        return self._function

    @property
    def definition(self) -> ToolDefinition:
        """The tool as the model and the run loop see it. Built once, on first access.

        Raises:
            ConfigurationError: a type hint cannot be resolved or has no JSON Schema.
        """
        if self._definition is None:
            description = self._description
            self._definition = ToolDefinition(
                name=self._name,
                description=self._schema.description if description is None else description,
                parameters_json_schema=self._schema.json_schema,
                strict=self._strict,
                kind=self._kind,
                requires_approval=self._requires_approval,
                input_fields=self._input_fields,
                timeout=self._timeout,
                metadata=self._metadata,
            )
        return self._definition

    @property
    def takes_ctx(self) -> bool:
        """Whether the function has a `RunContext` parameter (resolves type hints on first use)."""
        return self._schema.takes_ctx

    @property
    def is_async(self) -> bool:
        """Whether the function is a coroutine function (else it runs in a worker thread)."""
        return self._is_async

    async def call(self, args: Mapping[str, Any], ctx: RunContext[Any]) -> Any:
        """Validate the model's arguments and run the function.

        The run context is passed to every `RunContext` parameter. A sync function runs in a
        worker thread; if the call is cancelled (a timeout, say) the run stops waiting for it,
        but the thread finishes on its own. Exceptions from the function propagate unchanged.

        Args:
            args: The arguments by parameter name, as the model gave them.
            ctx: The context of the run making the call.

        Returns:
            What the function returned.

        Raises:
            ToolArgumentsError: the arguments do not match the parameters.
        """
        positional, keyword = self._schema.bind(args, ctx)
        function: Callable[..., Any] = self._function
        if self._is_async:
            result = await function(*positional, **keyword)
        else:
            result = await anyio.to_thread.run_sync(
                functools.partial(function, *positional, **keyword), abandon_on_cancel=True
            )
        if inspect.isawaitable(result):  # a sync wrapper around a coroutine function
            result = await result
        return result

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the wrapped function directly, as if it were not a tool."""
        return self._function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Tool({self._name!r}, function={self._function!r})"


@overload
def tool(
    function: Callable[P, R],
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: bool = False,
    input_fields: Sequence[str] = (),
    timeout: float | None = None,
    strict: bool | None = None,
) -> Tool[P, R]: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: bool = False,
    input_fields: Sequence[str] = (),
    timeout: float | None = None,
    strict: bool | None = None,
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...


def tool(
    function: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    requires_approval: bool = False,
    input_fields: Sequence[str] = (),
    timeout: float | None = None,
    strict: bool | None = None,
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Make a function a `Tool`; use as `@tool` or `@tool(name=..., ...)`.

    The result is still callable like the function. See `Tool` for the options.

    Example:
        ```python
        @tool(requires_approval=True)
        def delete_file(ctx: RunContext[Deps], path: str) -> str:
            \"\"\"Delete a file.

            Args:
                path: The file to delete, relative to the workspace.
            \"\"\"
            ...
        ```
    """

    def decorate(fn: Callable[P, R]) -> Tool[P, R]:
        return Tool(
            fn,
            name=name,
            description=description,
            requires_approval=requires_approval,
            input_fields=input_fields,
            timeout=timeout,
            strict=strict,
        )

    return decorate if function is None else decorate(function)


class FunctionToolset(Toolset):
    """A toolset of Python functions.

    Args:
        tools: Functions or `Tool`s to start with.
        id: A stable name for this toolset, used as a prefix when tool names clash across
            toolsets.

    Raises:
        ConfigurationError: two tools have the same name.

    Example:
        ```python
        toolset = FunctionToolset([get_weather], id="weather")


        @toolset.tool
        def get_time(city: str) -> str:
            \"\"\"The local time in a city.\"\"\"
            ...
        ```
    """

    def __init__(
        self, tools: Sequence[Tool[..., Any] | Callable[..., Any]] = (), *, id: str | None = None
    ) -> None:
        self.id = id
        self._tools: dict[str, Tool[..., Any]] = {}
        for item in tools:
            self.add(item)

    @property
    def _label(self) -> str:
        return f"toolset {self.id!r}" if self.id else "this toolset"

    @property
    def tools(self) -> Mapping[str, Tool[..., Any]]:
        """The tools by name (read-only)."""
        return MappingProxyType(self._tools)

    def add(self, function: Tool[P, R] | Callable[P, R]) -> Tool[P, R]:
        """Add a function (wrapped in a `Tool` with default options) or a `Tool`.

        Returns:
            The tool added.

        Raises:
            ConfigurationError: a tool of the same name is already in this toolset.
        """
        new = cast("Tool[P, R]", function) if isinstance(function, Tool) else Tool(function)
        existing = self._tools.get(new.name)
        if existing is not None:
            raise ConfigurationError(
                f"A tool named {new.name!r} ({_where(existing.function)}) is already in "
                f"{self._label}; cannot add {_where(new.function)} under the same name. Give one "
                "of them another name with tool(name=...)."
            )
        self._tools[new.name] = new
        return new

    @overload
    def tool(
        self,
        function: Callable[P, R],
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        requires_approval: bool = False,
        input_fields: Sequence[str] = (),
        timeout: float | None = None,
        strict: bool | None = None,
    ) -> Tool[P, R]: ...

    @overload
    def tool(
        self,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        requires_approval: bool = False,
        input_fields: Sequence[str] = (),
        timeout: float | None = None,
        strict: bool | None = None,
    ) -> Callable[[Callable[P, R]], Tool[P, R]]: ...

    def tool(
        self,
        function: Callable[P, R] | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        requires_approval: bool = False,
        input_fields: Sequence[str] = (),
        timeout: float | None = None,
        strict: bool | None = None,
    ) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
        """Add a function to this toolset; use as `@toolset.tool` or `@toolset.tool(...)`.

        Takes the options of `tool`. Returns the `Tool`, still callable like the function.
        """

        def decorate(fn: Callable[P, R]) -> Tool[P, R]:
            return self.add(
                Tool(
                    fn,
                    name=name,
                    description=description,
                    requires_approval=requires_approval,
                    input_fields=input_fields,
                    timeout=timeout,
                    strict=strict,
                )
            )

        return decorate if function is None else decorate(function)

    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        """The definitions of every tool, in the order they were added."""
        return [t.definition for t in self._tools.values()]

    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        """Run tool `name` with the model's `args`.

        A `ToolResult` returned by the function is passed through; a string is the content as it
        is; anything else is converted to JSON-like data (pydantic models and dataclasses
        included). Exceptions from the function propagate unchanged, `ModelRetry` included.

        Raises:
            ToolNotFoundError: no tool of that name in this toolset.
            ToolArgumentsError: the arguments do not match the tool's parameters.
            ToolError: the function returned something that cannot be converted to JSON.
        """
        found = self._tools.get(name)
        if found is None:
            available = ", ".join(repr(n) for n in self._tools) or "none"
            raise ToolNotFoundError(
                f"No tool named {name!r} in {self._label}; the tools available are {available}. "
                "Call one of those names.",
                tool_name=name,
            )
        result = await found.call(args, ctx)
        if isinstance(result, ToolResult):
            return result
        if isinstance(result, str):
            return ToolResult(content=result)
        try:
            content = pydantic_core.to_jsonable_python(result)
        except (pydantic_core.PydanticSerializationError, ValueError, TypeError) as e:
            raise ToolError(
                f"Tool {name!r} returned a {type(result).__qualname__}, which cannot be converted "
                f"to JSON ({e}). Return a str, JSON-like data, a pydantic model or a dataclass.",
                tool_name=name,
            ) from e
        return ToolResult(content=content)


def _tool_name(function: Callable[..., Any], name: str | None) -> str:
    if name is None:
        name = getattr(function, "__name__", None)
        if name is None:
            raise ConfigurationError(
                f"Cannot name the tool for {function!r}: it has no __name__. Pass name=..."
            )
    if not _VALID_NAME.fullmatch(name):
        raise ConfigurationError(
            f"Tool name {name!r} is not valid: model providers accept 1 to 64 letters, digits, "
            "'_' or '-'. Pass a name like name='get_weather'."
        )
    return name


def _is_async(function: Callable[..., Any]) -> bool:
    # A callable object counts when its class defines `async def __call__`.
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        type(function).__call__
    )


def _where(function: Callable[..., Any]) -> str:
    module = getattr(function, "__module__", None) or "?"
    qualname = getattr(function, "__qualname__", None) or repr(function)
    return f"{module}.{qualname}"
