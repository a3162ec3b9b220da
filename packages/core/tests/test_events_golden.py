"""Golden event sequences of typical runs. Regenerate with COVEY_UPDATE_GOLDEN=1 after an
intended change, and review the diff."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from core_helpers import call, check_invariants, collect, text

from covey.core import Agent, Team, UsageLimits
from covey.core.retry import RetryPolicy
from covey.core.testing import AgentInfo, FunctionModel, TestModel
from covey.spec import ModelRequest, ModelResponse, tool
from covey.spec import events as ev
from covey.spec.errors import RateLimitedError

GOLDEN = Path(__file__).parent / "golden"


def get_weather(city: str) -> str:
    """Weather for a city."""
    return "sunny"


@tool(requires_approval=True)
def transfer(amount: int) -> str:
    """Transfer money."""
    return "ok"


def scenarios() -> dict[str, tuple[Agent[Any, Any], bool]]:
    failures: list[int] = []

    def flaky(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if not failures:
            failures.append(1)
            raise RateLimitedError(retry_after=0)
        return text("recovered")

    def loop(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[call("get_weather", {"city": "x"}, f"c{len(messages)}")])

    return {
        "text": (Agent(model=TestModel(custom_output_text="hello world")), False),
        "text_stream": (Agent(model=TestModel(custom_output_text="hello world")), True),
        "tool_call": (Agent(model=TestModel(), tools=[get_weather]), False),
        "tool_call_stream": (Agent(model=TestModel(), tools=[get_weather]), True),
        "approval_pause": (Agent(model=TestModel(), tools=[transfer]), False),
        "request_limit": (
            Agent(
                model=FunctionModel(loop),
                tools=[get_weather],
                usage_limits=UsageLimits(request_limit=2),
            ),
            False,
        ),
        "retry_after_rate_limit": (
            Agent(model=FunctionModel(flaky), retry=RetryPolicy(initial_delay=0, jitter=0)),
            False,
        ),
    }


@pytest.mark.parametrize("name", list(scenarios()))
async def test_event_sequence_matches_golden_file(name: str) -> None:
    agent, stream = scenarios()[name]
    if stream:
        events = await collect(agent.run_stream("hi"))
    else:
        # A non-streaming run, its events observed through `iter()`.
        async with agent.iter("hi") as run:
            async for _ in run:
                pass
        events = run.events
        check_invariants(events)
    sequence = [e.type for e in events]
    path = GOLDEN / f"{name}.json"
    if os.environ.get("COVEY_UPDATE_GOLDEN"):
        path.write_text(json.dumps(sequence, indent=1) + "\n")
    assert sequence == json.loads(path.read_text())
    assert isinstance(events[-1], ev.RunCompleted | ev.RunFailed | ev.RunPaused)


async def test_events_round_trip_through_json() -> None:
    agent = Agent(model=TestModel(), tools=[get_weather])
    for event in await collect(agent.run_stream("x")):
        assert ev.load_event(ev.dump_event(event)) == event


# --- teams ---------------------------------------------------------------------------------------


def team_scenarios() -> dict[str, Team[Any, Any]]:
    def leads(tool: str, **args: Any) -> FunctionModel:
        def answer(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
            if len(messages) == 1:
                return ModelResponse(parts=[call(tool, args, "d1")])
            return text("composed")

        return FunctionModel(answer)

    writer = Agent(
        name="writer", model=TestModel(custom_output_text="a draft"), tools=[get_weather]
    )
    banker = Agent(name="banker", model=TestModel(), tools=[transfer])
    return {
        "team_coordinate": Team(
            name="desk",
            members=[writer],
            model=leads("delegate_task", member="writer", task="draft"),
        ),
        "team_route": Team(
            name="desk",
            mode="route",
            members=[writer],
            model=leads("route_to_member", member="writer", task="draft"),
        ),
        "team_member_paused": Team(
            name="desk",
            members=[banker],
            model=leads("delegate_task", member="banker", task="pay"),
        ),
    }


@pytest.mark.parametrize("name", list(team_scenarios()))
async def test_team_event_sequence_matches_golden_file(name: str) -> None:
    """A team's stream: its own events with each member's where they happen, as
    `<agent name>: <type>`. Streamed, so `tool_call.delta`/`text.delta` show too."""
    team = team_scenarios()[name]
    events = await collect(team.run_stream("hi", stream_model=False))
    sequence = [f"{e.agent_name}: {e.type}" for e in events]
    path = GOLDEN / f"{name}.json"
    if os.environ.get("COVEY_UPDATE_GOLDEN"):
        path.write_text(json.dumps(sequence, indent=1) + "\n")
    assert sequence == json.loads(path.read_text())
    team_run = events[-1].run_id
    assert all(e.parent_run_id == team_run for e in events if e.run_id != team_run)
