"""Instructions: strings, lists, callables, placeholders and hints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from covey.core import Agent, RunContext
from covey.core.instructions import fill_placeholders, render_instructions
from covey.core.testing import AgentInfo, FunctionModel
from covey.spec import ModelRequest, ModelResponse, SystemPart, TextPart


@dataclass
class Deps:
    company: str


def system_of(messages: list[ModelRequest | ModelResponse]) -> str:
    part = messages[0].parts[0]
    assert isinstance(part, SystemPart)
    return part.content


async def test_every_kind_of_instruction_in_order() -> None:
    async def dynamic(ctx: RunContext[Deps]) -> str:
        return f"You work for {ctx.deps.company}."

    def sync_callable(ctx: RunContext[Deps]) -> str:
        return "Speak {language}."

    seen: list[str] = []

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        seen.append(system_of(messages))
        return ModelResponse(parts=[TextPart(content="ok")])

    agent = Agent(
        model=FunctionModel(model),
        description="A helpful agent.",
        instructions=["Be brief.", dynamic, sync_callable],
        expected_output="One line.",
        additional_context="Extra: {company} and {missing}",
        markdown=True,
    )
    await agent.run("x", deps=Deps("ACME"), state={"language": "French"})
    assert seen[0].split("\n\n") == [
        "A helpful agent.",
        "Be brief.",
        "You work for ACME.",
        "Speak French.",
        "Expected output:\nOne line.",
        "Extra: ACME and {missing}",
        "Format your answers with Markdown where it helps the reader.",
    ]


async def test_datetime_hint() -> None:
    ctx: RunContext[Any] = RunContext(run_id="r")
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    rendered = await render_instructions("Hi", ctx, add_datetime=True, now=moment)
    assert "2026-01-02T03:04:05+00:00" in rendered


def test_placeholders_leave_json_and_unknown_names_alone() -> None:
    ctx: RunContext[Any] = RunContext(run_id="r", state={"user": {"name": "Ada"}})
    assert fill_placeholders('Hi {user.name}, reply {"a": 1} {nope}', ctx) == (
        'Hi Ada, reply {"a": 1} {nope}'
    )
