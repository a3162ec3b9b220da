"""With a real `Agent`: the model reasons through the tools and the steps end up in the stored run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from covey.core import Agent
from covey.core.testing import AgentInfo, FunctionModel
from covey.db.sql import SqlStore
from covey.spec import (
    FunctionToolset,
    ModelRequest,
    ModelResponse,
    SystemPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from covey.spec.store import Scope
from covey.tools.reasoning import ReasoningStep, ReasoningToolset, reasoning_steps

PLAN = "The user wants 17 * 23. Multiply, then check by dividing."
CHECK = "391 / 23 = 17, so 391 is right."


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def returns(messages: list[ModelRequest | ModelResponse]) -> list[ToolReturnPart]:
    return [
        part
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, ToolReturnPart)
    ]


def scripted(seen_system: list[str], seen_returns: list[list[Any]]) -> FunctionModel:
    """think → multiply → analyze(validate) → analyze(final_answer) → the answer."""

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if not seen_system:
            seen_system.extend(
                part.content
                for message in messages
                if isinstance(message, ModelRequest)
                for part in message.parts
                if isinstance(part, SystemPart)
            )
        done = returns(messages)
        seen_returns.append([(r.tool_name, r.content) for r in done])
        steps = [
            ToolCallPart(tool_name="think", args={"thought": PLAN}, tool_call_id="t1"),
            ToolCallPart(tool_name="multiply", args={"a": 17, "b": 23}, tool_call_id="m1"),
            ToolCallPart(
                tool_name="analyze",
                args={"result": "391", "analysis": "Looks right.", "next_action": "validate"},
                tool_call_id="a1",
            ),
            ToolCallPart(
                tool_name="analyze",
                args={"result": "391", "analysis": CHECK, "next_action": "final_answer"},
                tool_call_id="a2",
            ),
        ]
        if len(done) < len(steps):
            return ModelResponse(parts=[steps[len(done)]])
        return ModelResponse(parts=[TextPart(content="17 * 23 = 391")])

    return FunctionModel(model)


EXPECTED = [
    ReasoningStep("think", PLAN, tool_call_id="t1"),
    ReasoningStep(
        "analyze", "Looks right.", result="391", next_action="validate", tool_call_id="a1"
    ),
    ReasoningStep("analyze", CHECK, result="391", next_action="final_answer", tool_call_id="a2"),
]


async def test_the_thoughts_are_in_the_result_and_in_the_stored_run(tmp_path: Path) -> None:
    reasoning = ReasoningToolset()
    seen_system: list[str] = []
    seen_returns: list[list[Any]] = []
    agent = Agent(
        name="calc",
        model=scripted(seen_system, seen_returns),
        instructions=["You do arithmetic.", reasoning.instructions],
        tools=[reasoning, multiply],
    )
    async with SqlStore(f"sqlite:///{tmp_path}/covey.db") as store:
        result = await agent.run("What is 17 * 23?", session_id="s1", store=store)
        assert result.output == "17 * 23 = 391"

        # The model was told when to use the tools, and heard each acknowledgement.
        assert reasoning.instructions in seen_system[0]
        assert seen_returns[-1] == [
            ("think", "Thought recorded. Continue."),
            ("multiply", 391),
            (
                "analyze",
                "Analysis recorded. Validate the result before you answer: check it "
                "another way (another tool call, a second calculation), then analyze again.",
            ),
            ("analyze", "Analysis recorded. Give your final answer now."),
        ]

        assert reasoning_steps(result) == EXPECTED
    # Read back from the file by another store object, as another process would.
    async with SqlStore(f"sqlite:///{tmp_path}/covey.db") as store:
        stored = await store.get_run(Scope(), result.run_id)
        assert stored is not None
        assert reasoning_steps(stored) == EXPECTED
        # The other tool's call is not a reasoning step, but it is between them in the run.
        assert [c.tool_name for c in stored.tool_calls] == [
            "think",
            "multiply",
            "analyze",
            "analyze",
        ]
        # Nothing was put in session state.
        session = await store.get_session(Scope(), "s1")
        assert session is not None
        assert session.state == {}


async def test_a_rejected_step_is_retried_and_only_the_valid_one_is_kept() -> None:
    calls: list[int] = []

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        calls.append(1)
        if len(calls) == 1:  # an unknown next_action: the model is asked to retry
            bad = {"result": "x", "analysis": "y", "next_action": "give_up"}
            return ModelResponse(
                parts=[ToolCallPart(tool_name="analyze", args=bad, tool_call_id="bad")]
            )
        if len(calls) == 2:
            good = {"result": "x", "analysis": "y", "next_action": "final_answer"}
            return ModelResponse(
                parts=[ToolCallPart(tool_name="analyze", args=good, tool_call_id="good")]
            )
        return ModelResponse(parts=[TextPart(content="done")])

    agent = Agent(model=FunctionModel(model), tools=[ReasoningToolset()], tool_retries=2)
    result = await agent.run("go")
    assert result.output == "done"
    assert reasoning_steps(result) == [
        ReasoningStep("analyze", "y", result="x", next_action="final_answer", tool_call_id="good")
    ]


async def test_steps_are_read_under_a_prefix_when_names_clash() -> None:
    """Another toolset with a `think` tool: both are shown prefixed with their toolset's id."""
    other = FunctionToolset(id="notes")

    @other.tool
    def think(topic: str) -> str:
        """Think about a topic (another toolset's tool of the same name)."""
        return "other"

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if returns(messages):
            return ModelResponse(parts=[TextPart(content="ok")])
        names = sorted(t.name for t in info.function_tools)
        assert names == ["analyze", "notes_think", "reasoning_think"], names
        call = ToolCallPart(tool_name="reasoning_think", args={"thought": "hm"}, tool_call_id="c")
        return ModelResponse(parts=[call])

    agent = Agent(model=FunctionModel(model), tools=[ReasoningToolset(), other])
    result = await agent.run("go")
    assert [c.tool_name for c in result.tool_calls] == ["reasoning_think"]
    assert reasoning_steps(result, prefix="reasoning") == [
        ReasoningStep("think", "hm", tool_call_id="c")
    ]
    assert reasoning_steps(result) == []


async def test_an_agent_takes_the_toolset_by_reference() -> None:
    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if returns(messages):
            return ModelResponse(parts=[TextPart(content="ok")])
        assert [t.name for t in info.function_tools] == ["think", "analyze"]
        call = ToolCallPart(tool_name="think", args={"thought": "plan"}, tool_call_id="c")
        return ModelResponse(parts=[call])

    result = await Agent(model=FunctionModel(model), tools=["reasoning"]).run("go")
    assert reasoning_steps(result) == [ReasoningStep("think", "plan", tool_call_id="c")]
