"""Scripted agents for the tracing tests: a tool call with a planted secret, then an answer."""

from __future__ import annotations

from typing import Any

from covey.core import Agent
from covey.core.testing import AgentInfo, FunctionModel
from covey.spec import ModelResponse, TextPart, ToolCallPart, ToolReturnPart

SECRET = "sk-live-PLANTEDSECRET0123456789"
"""A key-shaped secret planted in a tool's arguments, the tool's result and the answer."""

PASSWORD = "hunter2-correct-horse"
"""A secret with no key shape, caught by its argument name (`password`)."""


def login(user: str, password: str, api_key: str) -> str:
    """Log in to the vault (returns a session note)."""
    return f"{user} logged in with key {api_key}"


def _script(messages: list[Any], info: AgentInfo) -> ModelResponse:
    last = messages[-1]
    if any(isinstance(p, ToolReturnPart) for p in last.parts):
        return ModelResponse(
            parts=[TextPart(content=f"done; the key was {SECRET}")], finish_reason="stop"
        )
    return ModelResponse(
        parts=[
            ToolCallPart(
                tool_name="login",
                args={"user": "ada", "password": PASSWORD, "api_key": SECRET},
                tool_call_id="call-1",
            )
        ],
        finish_reason="tool_calls",
    )


def vault_agent(name: str = "vault") -> Agent:
    """An agent that calls `login` once (secrets in its arguments), then answers."""
    return Agent(name=name, model=FunctionModel(_script), tools=[login])
