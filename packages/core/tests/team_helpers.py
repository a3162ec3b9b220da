"""Shared pieces of the team tests: scripted leaders and members that record what they got."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core_helpers import call, text

from covey.core import Agent
from covey.core.testing import AgentInfo, FunctionModel
from covey.spec import ModelRequest, ModelResponse, ToolReturnPart, UserPart

Messages = list[ModelRequest | ModelResponse]


def prompt_of(messages: Messages) -> str:
    """The user prompt of the run's first request."""
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPart):
                    return str(part.content)
    raise AssertionError("no user prompt")


def returns(messages: Messages) -> list[ToolReturnPart]:
    """The tool returns of the last request (what the leader saw from its last tool batch)."""
    last = messages[-1]
    assert isinstance(last, ModelRequest)
    return [p for p in last.parts if isinstance(p, ToolReturnPart)]


def member(
    name: str, seen: list[tuple[str, str]] | None = None, *, tools: Sequence[Any] = ()
) -> Agent[Any, Any]:
    """A member answering `<name> did: <prompt's last line>`; records (name, prompt) in `seen`.
    With tools, it calls the first one once (no arguments) before answering."""

    async def answer(messages: Messages, info: AgentInfo) -> ModelResponse:
        prompt = prompt_of(messages)
        if tools and not any(isinstance(m, ModelResponse) for m in messages):
            if seen is not None:
                seen.append((name, prompt))
            return ModelResponse(parts=[call(info.function_tools[0].name, {}, f"{name}-t")])
        if seen is not None and not tools:
            seen.append((name, prompt))
        return text(f"{name} did: {prompt.splitlines()[-1]}")

    return Agent(
        name=name, description=f"The {name}.", model=FunctionModel(answer), tools=list(tools)
    )


def leader(*turns: Callable[[Messages], ModelResponse]) -> tuple[FunctionModel, list[Messages]]:
    """A leader that answers its n-th request with `turns[n](messages)`; records what it saw."""
    seen: list[Messages] = []

    async def answer(messages: Messages, info: AgentInfo) -> ModelResponse:
        seen.append(list(messages))
        return turns[len(seen) - 1](messages)

    return FunctionModel(answer), seen


def delegate(member_name: str, task: str, call_id: str = "d1") -> ModelResponse:
    return ModelResponse(
        parts=[call("delegate_task", {"member": member_name, "task": task}, call_id)]
    )


def echo_returns(messages: Messages) -> ModelResponse:
    """Answer with the contents of the last tool returns, joined."""
    return text(" | ".join(str(p.content) for p in returns(messages)))
