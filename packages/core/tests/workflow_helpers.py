"""Helpers shared by the workflow tests."""

from __future__ import annotations

from typing import Any

from core_helpers import last_request, text

from covey.core import Agent
from covey.core.testing import AgentInfo, FunctionModel
from covey.spec import ModelRequest, ModelResponse, UserPart


def prompt_of(messages: list[ModelRequest | ModelResponse]) -> str:
    part = next(p for p in last_request(messages).parts if isinstance(p, UserPart))
    assert isinstance(part.content, str)
    return part.content


def echo_agent(name: str, prefix: str) -> Agent[Any, Any]:
    """An agent whose answer is `prefix` + the prompt it was given."""

    def answer(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        return text(prefix + prompt_of(messages))

    return Agent(model=FunctionModel(answer), name=name)
