"""`Agent.iter()`: a run stepped through node by node, on the same engine as `run`."""

from __future__ import annotations

from typing import Any

import anyio
from core_helpers import call, check_invariants, text

from covey.core import (
    Agent,
    AgentRun,
    CallToolsNode,
    End,
    ModelRequestNode,
    RunStatus,
)
from covey.core.testing import AgentInfo, FunctionModel, TestModel
from covey.spec import ModelRequest, ModelResponse
from covey.spec.store import Scope
from covey.testing import InMemoryStore


def get_time() -> str:
    """The time."""
    return "noon"


def plan(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    if len(messages) == 1:
        return ModelResponse(parts=[call("get_time", {}, "t")])
    return text("It is noon.")


async def test_iter_yields_each_step_before_it_runs_then_the_end() -> None:
    agent = Agent(model=FunctionModel(plan), tools=[get_time])
    kinds: list[str] = []
    async with agent.iter("What time is it?") as run:
        assert isinstance(run, AgentRun)
        async for node in run:
            if isinstance(node, ModelRequestNode):
                kinds.append(f"request {node.step} after {len(node.messages)} messages")
            elif isinstance(node, CallToolsNode):
                kinds.append(
                    f"response {node.step}: {[c.tool_name for c in node.response.tool_calls()]}"
                )
            else:
                assert isinstance(node, End)
                kinds.append(f"end {node.result.status.value}")
    assert kinds == [
        "request 1 after 1 messages",
        "response 1: ['get_time']",
        "request 2 after 3 messages",
        "response 2: []",
        "end completed",
    ]
    assert run.result is not None and run.result.output == "It is noon."
    check_invariants(run.events)
    # The same events as a streaming run of the same agent, deltas aside.
    plain = [e.type async for e in agent.run_stream("What time is it?")]
    assert [e.type for e in run.events] == [t for t in plain if not t.endswith(".delta")]


async def test_a_tool_call_is_not_run_before_its_node_is_passed() -> None:
    ran: list[str] = []

    def record() -> str:
        """Record a call."""
        ran.append("called")
        return "ok"

    agent = Agent(model=TestModel(), tools=[record])
    async with agent.iter("go") as run:
        first = await run.next()
        assert isinstance(first, ModelRequestNode)
        second = await run.next()
        assert isinstance(second, CallToolsNode) and ran == []
        third = await run.next()
        assert isinstance(third, ModelRequestNode) and ran == ["called"]


async def test_leaving_iter_early_cancels_the_run_and_records_it() -> None:
    store = InMemoryStore()
    agent = Agent(model=TestModel(), store=store)
    async with agent.iter("hi", run_id="early") as run:
        async for node in run:
            assert isinstance(node, ModelRequestNode)
            break
    assert run.result is not None and run.result.status is RunStatus.CANCELLED
    check_invariants(run.events)
    stored = await store.get_run(Scope(), "early")
    assert stored is not None and stored.status is RunStatus.CANCELLED


async def test_iter_runs_concurrently_with_other_work() -> None:
    results: list[Any] = []

    async def one(i: int) -> None:
        async with Agent(model=TestModel()).iter(f"run {i}") as run:
            async for _ in run:
                pass
        results.append(run.result)

    async with anyio.create_task_group() as tg:
        for i in range(3):
            tg.start_soon(one, i)
    assert [r.status for r in results] == [RunStatus.COMPLETED] * 3
