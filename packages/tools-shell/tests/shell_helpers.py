"""Helpers shared by the covey-tools-shell tests."""

from __future__ import annotations

from typing import Any

from covey.spec.context import RunContext
from covey.spec.tools import ToolResult
from covey.tools.shell import ShellToolset


def context(*, approved: bool = False) -> RunContext[Any]:
    """A run context for one `run_command` call; `approved` as when a person approved it."""
    ctx: RunContext[Any] = RunContext(run_id="shell-test")
    return ctx.for_tool_call("run_command", "call-1", approved=approved)


async def run(
    toolset: ShellToolset, *command: str, cwd: str | None = None, approved: bool = False
) -> ToolResult:
    """Call `run_command` as the run loop would."""
    args: dict[str, Any] = {"command": list(command)}
    if cwd is not None:
        args["cwd"] = cwd
    async with toolset:
        return await toolset.call_tool("run_command", args, context(approved=approved))


def output(result: ToolResult) -> str:
    """The output of a command that ran."""
    assert isinstance(result.content, dict), result.content
    text = result.content["output"]
    assert isinstance(text, str)
    return text
