"""The agents the runtime tests serve, in-thread and in server subprocesses.

`gated` calls a tool that waits until the test opens a gate: a file named after the prompt in
`$COVEY_TEST_GATES`, so a test controls when a run (in any process) may finish.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
from pydantic import BaseModel

from covey.core import Agent
from covey.core.testing import AgentInfo, FunctionModel, TestModel
from covey.runtime import Registry
from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart, tool

GATES_ENV = "COVEY_TEST_GATES"


def _last_returns(messages: list[ModelRequest | ModelResponse]) -> list[ToolReturnPart]:
    last = messages[-1]
    if not isinstance(last, ModelRequest):
        return []
    return [p for p in last.parts if isinstance(p, ToolReturnPart)]


def _prompt(messages: list[ModelRequest | ModelResponse]) -> str:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in reversed(message.parts):
                content = getattr(part, "content", None)
                if part.kind == "user" and isinstance(content, str):
                    return content
    return ""


def echo_model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[TextPart(content=f"echo: {_prompt(messages)}")])


def history_model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    """Answers with every user prompt it was given, history included."""
    prompts = [
        part.content
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if part.kind == "user" and isinstance(part.content, str)
    ]
    return ModelResponse(parts=[TextPart(content="seen: " + ", ".join(prompts))])


async def gate(name: str) -> str:
    """Wait until the test opens the gate `name`.

    Args:
        name: The gate.
    """
    folder = Path(os.environ[GATES_ENV])
    while not (folder / name).exists():  # noqa: ASYNC110 - the gate is a file another process makes
        await anyio.sleep(0.02)
    return f"gate {name} opened"


def gated_model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    returns = _last_returns(messages)
    if returns:
        return ModelResponse(parts=[TextPart(content=f"done: {returns[0].content}")])
    return ModelResponse(
        parts=[ToolCallPart(tool_name="gate", args={"name": _prompt(messages)}, tool_call_id="g1")]
    )


@tool(requires_approval=True)
def delete_file(path: str) -> str:
    """Delete a file (needs a human's approval).

    Args:
        path: The file.
    """
    return f"deleted {path}"


def approval_model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    returns = _last_returns(messages)
    if returns:
        return ModelResponse(parts=[TextPart(content=f"result: {returns[0].content}")])
    return ModelResponse(
        parts=[
            ToolCallPart(
                tool_name="delete_file", args={"path": _prompt(messages)}, tool_call_id="d1"
            )
        ]
    )


@tool
def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: The city.
    """
    return f"sunny in {city}"


class Forecast(BaseModel):
    city: str
    celsius: int


def build() -> Registry:
    return Registry(
        [
            Agent(name="echo", model=FunctionModel(echo_model), description="Echoes the input."),
            Agent(name="weather", model=TestModel(), tools=[get_weather]),
            Agent(
                name="forecast",
                model=TestModel(custom_output_args={"city": "Paris", "celsius": 21}),
                output_type=Forecast,
            ),
            Agent(name="gated", model=FunctionModel(gated_model), tools=[gate], tool_timeout=None),
            Agent(name="approver", model=FunctionModel(approval_model), tools=[delete_file]),
            Agent(name="history", model=FunctionModel(history_model)),
        ],
        notice="test agents",
    )


registry = build()
