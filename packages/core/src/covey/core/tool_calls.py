"""Running the tool calls of one model response: concurrently, with timeouts, hooks and retries."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
from pydantic_core import to_jsonable_python

from covey.spec import (
    Requirement,
    RetryPart,
    RunContext,
    ToolCallPart,
    ToolCallRecord,
    ToolDefinition,
    ToolResult,
    ToolReturnPart,
    Toolset,
)
from covey.spec.errors import (
    ApprovalRequired,
    ConfigurationError,
    ModelRetry,
    ToolNotFoundError,
    ToolTimeoutError,
    UnexpectedModelBehavior,
)

__all__ = [
    "CallNext",
    "CallPaused",
    "EndRun",
    "ToolEntry",
    "ToolHook",
    "ToolOutcome",
    "collect_tools",
    "run_tool_calls",
]

CallNext = Callable[[dict[str, Any]], Awaitable[ToolResult]]
ToolHook = Callable[[RunContext[Any], ToolCallPart, CallNext], Awaitable[ToolResult]]
"""Middleware around every tool call: `await hook(ctx, call, call_next)`; call `call_next(args)`
to run the tool (with possibly changed args), or return a `ToolResult` without running it."""

ToolErrorPolicy = Literal["return", "raise"]


class CallPaused(Exception):  # noqa: N818 - a signal, named for the state it reports
    """Raised by a tool whose call cannot finish without a person: the run records the call
    as paused and pauses with `requirements`; on resume the tool is called again with the same
    arguments, and finds the decisions and `token` through `covey.core.run.relay`.

    Args:
        requirements: What the run waits for (their `tool_call_id`s are what the caller
            answers on resume).
        token: JSON data the tool gets back on resume (which child run to resume).
    """

    def __init__(self, requirements: Sequence[Requirement], token: Any = None) -> None:
        super().__init__("the tool call waits for a person")
        self.requirements = list(requirements)
        self.token = token


class EndRun(Exception):  # noqa: N818 - a signal, named for what it asks
    """Raised by a tool to end the run with `output` as its final output, without asking the
    model again (a team routing the task to one member). The call itself completes with
    `output` as its result."""

    def __init__(self, output: Any) -> None:
        super().__init__("the tool gave the run's final output")
        self.output = output


@dataclass(slots=True, frozen=True)
class ToolEntry:
    """A tool available to a run and the toolset that runs it.

    `definition.name` is the name the model sees; `name` is the toolset's own name for the tool
    (they differ when a name clash was resolved with the toolset's `id` as prefix)."""

    definition: ToolDefinition
    toolset: Toolset
    name: str = ""

    @property
    def toolset_name(self) -> str:
        """The name to call the toolset with."""
        return self.name or self.definition.name


async def collect_tools(toolsets: Sequence[Toolset], ctx: RunContext[Any]) -> dict[str, ToolEntry]:
    """Every tool of `toolsets` by the name the model sees.

    Two toolsets offering the same name: when both have an `id`, each clashing tool is shown as
    `f"{id}_{name}"` (the toolset is still called with its own name); otherwise the clash is a
    `ConfigurationError`. The result is the same for the same toolsets, so a resumed run sees
    the names its history used.
    """
    listed = [(toolset, await toolset.list_tools(ctx)) for toolset in toolsets]
    owners: dict[str, list[Toolset]] = {}
    for toolset, definitions in listed:
        for definition in definitions:
            owners.setdefault(definition.name, []).append(toolset)
    tools: dict[str, ToolEntry] = {}
    for toolset, definitions in listed:
        for definition in definitions:
            name = definition.name
            clashing = owners[name]
            if len(clashing) == 1:
                entry = ToolEntry(definition, toolset)
            else:
                anonymous = [t for t in clashing if not t.id]
                if anonymous or len({t.id for t in clashing}) < len(clashing):
                    described = ", ".join(t.id or type(t).__name__ for t in clashing)
                    raise ConfigurationError(
                        f"Tool name {name!r} is offered by several toolsets ({described}); "
                        "give each toolset a distinct `id` (clashing tools are then named "
                        "'<id>_<name>'), wrap one in PrefixedToolset, or rename the tool"
                    )
                shown = definition.model_copy(update={"name": f"{toolset.id}_{name}"})
                entry = ToolEntry(shown, toolset, name)
            if entry.definition.name in tools:
                other = tools[entry.definition.name].toolset
                raise ConfigurationError(
                    f"Tool name {entry.definition.name!r} is offered by two toolsets "
                    f"({other.id or type(other).__name__} and "
                    f"{toolset.id or type(toolset).__name__}) even after prefixing; rename one"
                )
            tools[entry.definition.name] = entry
    return tools


@dataclass(slots=True)
class ToolOutcome:
    """What one call produced: the part for the model, the record for the result, and whether
    the model is asked to retry."""

    call: ToolCallPart
    part: ToolReturnPart | RetryPart
    record: ToolCallRecord
    retry: bool = False
    fatal: BaseException | None = None
    args: dict[str, Any] = field(default_factory=dict[str, Any])
    paused: CallPaused | None = None
    """The call waits for a person (see `CallPaused`)."""
    approval: Requirement | None = None
    """The toolset asked for a person's approval of this call (`ApprovalRequired`)."""
    final: EndRun | None = None
    """The call ended the run with its output (see `EndRun`)."""


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def _call_one(
    call: ToolCallPart,
    args: dict[str, Any],
    entry: ToolEntry | None,
    ctx: RunContext[Any],
    *,
    available: Sequence[str],
    default_timeout: float | None,
    hooks: Sequence[ToolHook],
    error_policy: ToolErrorPolicy,
    max_retries: int,
    approved: bool = False,
) -> ToolOutcome:
    started = time.perf_counter()
    call_ctx = ctx.for_tool_call(call.tool_name, call.tool_call_id, approved=approved)

    def outcome(
        part: ToolReturnPart | RetryPart,
        *,
        result: Any = None,
        error: str | None = None,
        retry: bool = False,
        fatal: BaseException | None = None,
    ) -> ToolOutcome:
        record = ToolCallRecord(
            tool_call_id=call.tool_call_id,
            tool_name=call.tool_name,
            args=args,
            result=result,
            error=error,
            duration=time.perf_counter() - started,
        )
        return ToolOutcome(call, part, record, retry, fatal, args)

    def retry_part(message: str | list[dict[str, Any]], error: str) -> ToolOutcome:
        used = ctx.retries.get(call.tool_name, 0) + 1
        ctx.retries[call.tool_name] = used
        fatal = None
        if used > max_retries:
            fatal = UnexpectedModelBehavior(
                f"Tool {call.tool_name!r} exceeded its {max_retries} allowed retries: {error}"
            )
        part = RetryPart(content=message, tool_name=call.tool_name, tool_call_id=call.tool_call_id)
        return outcome(part, error=error, retry=True, fatal=fatal)

    if entry is None:
        names = ", ".join(sorted(available)) or "none"
        message = f"Unknown tool {call.tool_name!r}. Available tools: {names}."
        return retry_part(message, str(ToolNotFoundError(message, tool_name=call.tool_name)))

    timeout = entry.definition.timeout if entry.definition.timeout is not None else default_timeout

    own_name = entry.toolset_name

    async def innermost(call_args: dict[str, Any]) -> ToolResult:
        if timeout is None:
            return await entry.toolset.call_tool(own_name, call_args, call_ctx)
        # Our own deadline, told apart from a `TimeoutError` the tool raises itself.
        with anyio.move_on_after(timeout):
            return await entry.toolset.call_tool(own_name, call_args, call_ctx)
        raise ToolTimeoutError(call.tool_name, timeout)

    chain: CallNext = innermost
    for hook in reversed(hooks):
        chain = _wrap(hook, call_ctx, call, chain)

    try:
        result = await chain(args)
    except ModelRetry as exc:
        return retry_part(exc.message, _error_text(exc))
    except CallPaused as exc:
        part = ToolReturnPart(
            tool_name=call.tool_name, content=None, tool_call_id=call.tool_call_id
        )
        paused = outcome(part)
        paused.paused = exc
        return paused
    except ApprovalRequired as exc:
        if approved:  # asking again after a person said yes would pause forever
            return _failure(outcome, call, exc, error_policy)
        part = ToolReturnPart(
            tool_name=call.tool_name, content=None, tool_call_id=call.tool_call_id
        )
        waiting = outcome(part)
        waiting.approval = Requirement(
            tool_call_id=call.tool_call_id,
            tool_name=call.tool_name,
            kind="approval",
            args=args,
            description=exc.reason,
        )
        return waiting
    except EndRun as exc:
        content = to_jsonable_python(exc.output)
        part = ToolReturnPart(
            tool_name=call.tool_name, content=content, tool_call_id=call.tool_call_id
        )
        ended = outcome(part, result=content)
        ended.final = exc
        return ended
    except anyio.get_cancelled_exc_class():
        raise
    except Exception as exc:
        return _failure(outcome, call, exc, error_policy)
    part = ToolReturnPart(
        tool_name=call.tool_name,
        content=result.content,
        tool_call_id=call.tool_call_id,
        is_error=result.is_error,
    )
    error = None
    if result.is_error:
        error = result.content if isinstance(result.content, str) else "tool reported an error"
    return outcome(part, result=result.content, error=error)


def _wrap(hook: ToolHook, ctx: RunContext[Any], call: ToolCallPart, nxt: CallNext) -> CallNext:
    async def with_args(args: dict[str, Any]) -> ToolResult:
        # The hook sees the call with the args it was given (earlier hooks may change them).
        current = call.model_copy(update={"args": args}) if args != call.args else call
        return await hook(ctx, current, nxt)

    return with_args


def _failure(
    outcome: Callable[..., ToolOutcome],
    call: ToolCallPart,
    exc: BaseException,
    policy: ToolErrorPolicy,
) -> ToolOutcome:
    text = _error_text(exc)
    part = ToolReturnPart(
        tool_name=call.tool_name,
        content=f"The tool failed: {text}",
        tool_call_id=call.tool_call_id,
        is_error=True,
    )
    return outcome(part, error=text, fatal=exc if policy == "raise" else None)


async def run_tool_calls(
    calls: Sequence[tuple[ToolCallPart, dict[str, Any]]],
    tools: dict[str, ToolEntry],
    ctx: RunContext[Any],
    *,
    default_timeout: float | None,
    hooks: Sequence[ToolHook],
    error_policy: ToolErrorPolicy,
    max_retries: int,
    approved: frozenset[str] = frozenset(),
) -> list[ToolOutcome]:
    """Run every call concurrently; outcomes come back in call order. Calls whose id is in
    `approved` were approved by a person (their context says so)."""
    outcomes: list[ToolOutcome | None] = [None] * len(calls)
    available = list(tools)

    async def run(index: int, call: ToolCallPart, args: dict[str, Any]) -> None:
        outcomes[index] = await _call_one(
            call,
            args,
            tools.get(call.tool_name),
            ctx,
            available=available,
            default_timeout=default_timeout,
            hooks=hooks,
            error_policy=error_policy,
            max_retries=max_retries,
            approved=call.tool_call_id in approved,
        )

    if len(calls) == 1:
        await run(0, *calls[0])
    else:
        async with anyio.create_task_group() as tg:
            for index, (call, args) in enumerate(calls):
                tg.start_soon(run, index, call, args)
    return [o for o in outcomes if o is not None]
