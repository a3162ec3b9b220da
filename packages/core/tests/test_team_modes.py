"""Each team mode with scripted models: which member got what, in what order, and what the
leader saw; the stream carries member events where they happen."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from core_helpers import call, collect, text
from team_helpers import Messages, delegate, echo_returns, leader, member, returns

from covey.core import Agent, RunStatus, Team
from covey.spec import ModelResponse, RunContext
from covey.spec import events as ev
from covey.spec.errors import ConfigurationError
from covey.spec.store import Scope
from covey.testing import InMemoryStore


async def test_coordinate_delegates_then_composes_and_streams_member_events_in_place() -> None:
    seen: list[tuple[str, str]] = []
    model, leader_saw = leader(
        lambda m: ModelResponse(
            parts=[
                call("delegate_task", {"member": "writer", "task": "draft a haiku"}, "d1"),
                call(
                    "delegate_task",
                    {"member": "critic", "task": "list haiku rules", "expected_output": "3"},
                    "d2",
                ),
            ]
        ),
        echo_returns,
    )
    team = Team(name="desk", members=[member("writer", seen), member("critic", seen)], model=model)
    events = await collect(team.run_stream("A haiku about tea"))

    result = events[-1].result  # type: ignore[attr-defined]
    assert result.status is RunStatus.COMPLETED
    assert result.output == "writer did: draft a haiku | critic did: Expected output: 3"
    assert sorted(seen) == [
        ("critic", "list haiku rules\n\nExpected output: 3"),
        ("writer", "draft a haiku"),
    ]
    # The leader saw both answers as the results of its two calls, in call order.
    assert [(p.tool_call_id, p.content) for p in returns(leader_saw[1])] == [
        ("d1", "writer did: draft a haiku"),
        ("d2", "critic did: Expected output: 3"),
    ]
    team_id = result.run_id
    members = {
        e.agent_name: e for e in events if isinstance(e, ev.RunStarted) and e.run_id != team_id
    }
    assert set(members) == {"writer", "critic"}
    assert all(e.parent_run_id == team_id for e in members.values())
    # Member events come between the team's tool_call.started and its tool_call.completed.
    kinds = [(e.run_id == team_id, e.type) for e in events]
    first_member = next(i for i, (own, _) in enumerate(kinds) if not own)
    last_member = max(i for i, (own, _) in enumerate(kinds) if not own)
    starts = [i for i, k in enumerate(kinds) if k == (True, "tool_call.started")]
    ends = [i for i, k in enumerate(kinds) if k == (True, "tool_call.completed")]
    assert max(starts) < first_member and last_member < min(ends)


async def test_route_hands_over_and_the_members_answer_is_the_teams_without_a_second_call() -> None:
    seen: list[tuple[str, str]] = []
    model, leader_saw = leader(
        lambda m: ModelResponse(
            parts=[call("route_to_member", {"member": "billing", "task": "refund #42"}, "r1")]
        )
    )
    team = Team(
        name="support",
        mode="route",
        members=[member("sales", seen), member("billing", seen)],
        model=model,
    )
    result = await team.run("I want my money back for order 42")

    assert result.status is RunStatus.COMPLETED
    assert result.output == "billing did: refund #42"
    assert seen == [("billing", "refund #42")]
    assert len(leader_saw) == 1  # no second leader request
    assert result.usage.requests == 2  # the leader's one and the member's one
    assert result.tool_calls[0].result == "billing did: refund #42"


async def test_route_to_an_unknown_member_is_a_retry_with_the_members_named() -> None:
    model, leader_saw = leader(
        lambda m: ModelResponse(
            parts=[call("route_to_member", {"member": "legal", "task": "x"}, "r1")]
        ),
        lambda m: ModelResponse(
            parts=[call("route_to_member", {"member": "sales", "task": "x"}, "r2")]
        ),
    )
    team = Team(name="support", mode="route", members=[member("sales")], model=model)
    result = await team.run("hi")

    assert result.output == "sales did: x"
    retry = leader_saw[1][-1].parts[0]
    assert "no member 'legal'" in retry.content and "sales" in retry.content  # type: ignore[union-attr]


async def test_broadcast_runs_every_member_concurrently_then_the_leader_synthesises() -> None:
    arrived: set[str] = set()
    everyone = anyio.Event()

    def waiting_member(name: str) -> Agent[Any, Any]:
        async def meet(ctx: RunContext[Any]) -> str:
            """Wait until every member is running."""
            arrived.add(name)
            if len(arrived) == 3:
                everyone.set()
            with anyio.fail_after(10):  # a sequential broadcast would wait here forever
                await everyone.wait()
            return "met"

        return member(name, tools=[meet])

    model, leader_saw = leader(
        lambda m: ModelResponse(
            parts=[call("delegate_task_to_all_members", {"task": "name a colour"}, "b1")]
        ),
        lambda m: text("synthesis of " + json.dumps(returns(m)[0].content, sort_keys=True)),
    )
    team = Team(
        name="panel",
        mode="broadcast",
        members=[waiting_member("a"), waiting_member("b"), waiting_member("c")],
        model=model,
    )
    result = await team.run("Colours?")

    assert result.status is RunStatus.COMPLETED
    assert arrived == {"a", "b", "c"}
    answers = returns(leader_saw[1])[0].content
    assert answers == {
        "a": "a did: name a colour",
        "b": "b did: name a colour",
        "c": "c did: name a colour",
    }
    assert list(answers) == ["a", "b", "c"]  # the roster's order


async def test_tasks_mode_keeps_a_task_list_with_dependencies_until_the_goal_is_met() -> None:
    seen: list[tuple[str, str]] = []

    def plan(m: Messages) -> ModelResponse:
        return ModelResponse(
            parts=[
                call("create_task", {"title": "Research", "assignee": "researcher"}, "c1"),
                call(
                    "create_task",
                    {"title": "Write it up", "assignee": "writer", "depends_on": ["t1"]},
                    "c2",
                ),
            ]
        )

    def run_both(m: Messages) -> ModelResponse:
        return ModelResponse(
            parts=[
                call("run_task", {"task_id": "t2"}, "r2"),  # too early: t1 is not done
                call("run_task", {"task_id": "t1"}, "r1"),
            ]
        )

    model, leader_saw = leader(
        plan,
        run_both,
        lambda m: ModelResponse(parts=[call("run_task", {"task_id": "t2"}, "r3")]),
        lambda m: ModelResponse(parts=[call("list_tasks", {}, "l1")]),
        lambda m: text("done"),
    )
    store = InMemoryStore()
    team = Team(
        name="studio",
        mode="tasks",
        members=[member("researcher", seen), member("writer", seen)],
        model=model,
        store=store,
    )
    result = await team.run("Write a note on tea")

    assert result.status is RunStatus.COMPLETED, result.error
    assert [p.content for p in returns(leader_saw[1])] == [{"task_id": "t1"}, {"task_id": "t2"}]
    early, first = returns(leader_saw[2])
    assert "waits for t1" in early.content and early.tool_call_id == "r2"
    assert first.content == "researcher did: Research"
    assert seen[0] == ("researcher", "Research")
    # The writer's task carries the result of the task it depends on.
    assert seen[1][0] == "writer"
    assert "Research: researcher did: Research" in seen[1][1]
    listed = json.loads(returns(leader_saw[4])[0].content)
    assert [(t["id"], t["status"]) for t in listed] == [("t1", "done"), ("t2", "done")]
    stored = await store.get_run(Scope(), result.run_id)
    assert stored is not None
    assert [t["status"] for t in stored.metadata["tasks"]] == ["done", "done"]


async def test_tasks_mode_refuses_tasks_past_max_tasks() -> None:
    model, leader_saw = leader(
        lambda m: ModelResponse(
            parts=[
                call("create_task", {"title": "one"}, "c1"),
                call("create_task", {"title": "two"}, "c2"),
            ]
        ),
        lambda m: text("ok"),
    )
    team = Team(name="t", mode="tasks", members=[member("a")], model=model, max_tasks=1)
    await team.run("go")

    first, second = returns(leader_saw[1])
    assert first.content == {"task_id": "t1"}
    assert "task list is full" in second.content and second.is_error


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([], "no members"),
        ([Agent(model=None)], "needs a name"),
        ([Agent(name="a"), Agent(name="a")], "two members are named 'a'"),
        (["not an agent"], "must be an Agent or a Team"),
    ],
)
def test_construction_checks_members(members: list[Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Team(name="t", members=members)


def test_construction_builds_nothing_and_the_plan_is_cached() -> None:
    team = Team(name="t", members=[member("a")], model=leader(text)[0])
    assert team._cache.plan is None  # pyright: ignore[reportPrivateUsage]
    assert team.plan() is team.plan()
    assert team.plan().relay_events


async def test_as_tool_run_sync_and_print_response_behave_as_the_agents() -> None:
    model, _ = leader(lambda m: delegate("a", "x"), echo_returns)
    team = Team(name="t", description="A team.", members=[member("a")], model=model)
    tool = team.as_tool()
    assert tool.name == "t"
    assert tool.definition.description.startswith("A team.")
    outer = Agent(
        model=leader(
            lambda m: ModelResponse(parts=[call("t", {"request": "go"}, "o1")]), echo_returns
        )[0],
        tools=[tool],
    )
    result = await outer.run("hi")
    assert result.output == "a did: x"


async def test_shared_member_interactions_reach_later_members() -> None:
    seen: list[tuple[str, str]] = []
    model, _ = leader(
        lambda m: delegate("researcher", "find facts", "d1"),
        lambda m: delegate("writer", "write it up", "d2"),
        echo_returns,
    )
    team = Team(
        name="t",
        members=[member("researcher", seen), member("writer", seen)],
        model=model,
        share_member_interactions=True,
    )
    await team.run("go")

    assert seen[0] == ("researcher", "find facts")
    writer_prompt = seen[1][1]
    assert writer_prompt.startswith("Earlier in this team run:")
    assert "researcher was asked: find facts" in writer_prompt
    assert "answered: researcher did: find facts" in writer_prompt
    assert writer_prompt.endswith("write it up")
