"""Helpers of the LearningMachine tests: a scripted extraction model and a scripted agent model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from covey.core.testing import AgentInfo, FunctionModel
from covey.spec import ModelRequest, ModelResponse, SystemPart, TextPart, ToolCallPart, UserPart
from covey.spec.messages import ToolReturnPart

from .conftest import Messages, prompt_text


class LearnModel:
    """An extraction model answering `decide(prompt_text, info)` through the output tool.

    Records every request's prompt and info, so tests can assert what it was shown and how
    often it was asked.
    """

    def __init__(self, decide: Callable[[str, AgentInfo], dict[str, Any]]) -> None:
        self.decide = decide
        self.prompts: list[str] = []
        self.infos: list[AgentInfo] = []
        self.model = FunctionModel(self._respond)

    def _respond(self, messages: Messages, info: AgentInfo) -> ModelResponse:
        text = prompt_text(messages)
        self.prompts.append(text)
        self.infos.append(info)
        answer = self.decide(text, info)
        call = ToolCallPart(tool_name=info.output_tools[0].name, args=answer, tool_call_id="x")
        return ModelResponse(parts=[call])

    @property
    def calls(self) -> int:
        return len(self.prompts)


def system_text(messages: Messages) -> str:
    return "\n".join(str(p.content) for m in messages for p in m.parts if isinstance(p, SystemPart))


class ChatModel:
    """The agent's model: calls `tool` with `args` on its first turn when given, then answers
    with the tool's result; records each request's system prompt."""

    def __init__(self, tool: str | None = None, args: dict[str, Any] | None = None) -> None:
        self.tool = tool
        self.args = args or {}
        self.systems: list[str] = []
        self.tool_names: list[set[str]] = []
        self.model = FunctionModel(self._respond)

    def _respond(self, messages: Messages, info: AgentInfo) -> ModelResponse:
        self.systems.append(system_text(messages))
        self.tool_names.append({t.name for t in info.function_tools})
        last = messages[-1]
        returns = [p for p in last.parts if isinstance(p, ToolReturnPart)]
        if returns:
            return ModelResponse(parts=[TextPart(content=f"Done: {returns[0].content}")])
        asked = isinstance(last, ModelRequest) and any(isinstance(p, UserPart) for p in last.parts)
        if self.tool is not None and asked:
            call = ToolCallPart(tool_name=self.tool, args=self.args, tool_call_id="t1")
            return ModelResponse(parts=[call])
        return ModelResponse(parts=[TextPart(content="Noted.")])
