"""Team runs as runs: nesting, failing and cancelled members, cancelling the team, shared
state, usage and limits, per-member history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from core_helpers import call, check_invariants, text
from team_helpers import Messages, delegate, echo_returns, leader, member, prompt_of, returns

from covey.core import Agent, RunStatus, Team, UsageLimits
from covey.core.testing import AgentInfo, FunctionModel
from covey.db.sql import SqlStore
from covey.spec import ModelResponse, RunContext
from covey.spec import events as ev
from covey.spec.errors import UsageLimitExceeded
from covey.spec.store import Scope, Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with SqlStore(f"sqlite:///{tmp_path}/covey.db") as opened:
        yield opened


def relay_team(name: str, inner: Any) -> Team[Any, Any]:
    """A team that delegates the whole request to its one member and returns its answer."""
    model, _ = leader(lambda m: delegate(str(inner.name), prompt_of(m)), echo_returns)
    return Team(name=name, members=[inner], model=model)


async def test_nested_teams_three_deep_chain_parent_run_ids(store: Store) -> None:
    worker = member("worker")
    top = relay_team("top", relay_team("middle", relay_team("bottom", worker)))
    events = [e async for e in top.run_stream("polish the text", store=store)]
    check_invariants(events)

    starts = {e.agent_name: e for e in events if isinstance(e, ev.RunStarted)}
    assert list(starts) == ["top", "middle", "bottom", "worker"]
    assert starts["top"].parent_run_id is None
    assert starts["middle"].parent_run_id == starts["top"].run_id
    assert starts["bottom"].parent_run_id == starts["middle"].run_id
    assert starts["worker"].parent_run_id == starts["bottom"].run_id
    result = events[-1].result  # type: ignore[attr-defined]
    assert result.output == "worker did: polish the text"
    assert result.usage.requests == 7  # 2 per leader, 1 for the worker
    # Each run is stored on its own, with its parent.
    scope = Scope()
    for name, started in starts.items():
        stored = await store.get_run(scope, started.run_id)
        assert stored is not None and stored.agent_id == name
        assert stored.parent_run_id == started.parent_run_id
        assert stored.status is RunStatus.COMPLETED
    # The team's stored log holds its own events only.
    logged = await store.list_events(scope, starts["top"].run_id)
    assert {e.run_id for e in logged} == {starts["top"].run_id}


async def test_a_failing_member_is_an_error_result_the_leader_sees_not_a_crash() -> None:
    async def broken(messages: Messages, info: AgentInfo) -> ModelResponse:
        raise RuntimeError("provider exploded")

    flaky = Agent(name="flaky", model=FunctionModel(broken), retry=None)
    model, leader_saw = leader(lambda m: delegate("flaky", "try"), lambda m: text("recovered"))
    team = Team(name="t", members=[flaky], model=model)
    events = [e async for e in team.run_stream("go")]
    check_invariants(events)

    result = events[-1].result  # type: ignore[attr-defined]
    assert result.status is RunStatus.COMPLETED and result.output == "recovered"
    seen = returns(leader_saw[1])[0]
    assert (
        seen.is_error and "Member 'flaky' failed: RuntimeError: provider exploded" in seen.content
    )
    assert any(isinstance(e, ev.RunFailed) and e.agent_name == "flaky" for e in events)
    assert any(isinstance(e, ev.ToolCallFailed) and e.tool_name == "delegate_task" for e in events)


async def test_a_cancelled_member_is_reported_to_the_leader() -> None:
    holder: list[Agent[Any, Any]] = []

    async def give_up(ctx: RunContext[Any]) -> str:
        """Cancel this member's own run."""
        await holder[0].cancel(ctx.run_id)
        await anyio.sleep_forever()
        return "never"

    quitter = member("quitter", tools=[give_up])
    holder.append(quitter)
    model, leader_saw = leader(lambda m: delegate("quitter", "work"), lambda m: text("ok"))
    team = Team(name="t", members=[quitter], model=model)
    result = await team.run("go")

    assert result.status is RunStatus.COMPLETED
    seen = returns(leader_saw[1])[0]
    assert seen.is_error and seen.content == "Member 'quitter' was cancelled before it finished."


async def test_cancelling_the_team_cancels_running_members_and_closes_every_event() -> None:
    started = anyio.Event()

    async def slow(ctx: RunContext[Any]) -> str:
        """Work for a long time."""
        started.set()
        await anyio.sleep_forever()
        return "never"

    model, _ = leader(
        lambda m: ModelResponse(
            parts=[call("delegate_task", {"member": n, "task": "go"}, n) for n in ("a", "b")]
        )
    )
    team = Team(
        name="t", members=[member("a", tools=[slow]), member("b", tools=[slow])], model=model
    )
    events: list[ev.BaseEvent] = []

    async def consume() -> None:
        async for event in team.run_stream("go"):
            events.append(event)

    async with anyio.create_task_group() as group:
        group.start_soon(consume)
        await started.wait()
        await anyio.sleep(0.01)  # let both members reach their tool
        assert await team.cancel(events[0].run_id)

    check_invariants(events)
    finals = {e.agent_name: e for e in events if isinstance(e, ev.RunCancelled)}
    assert set(finals) == {"t", "a", "b"}
    assert events[-1] is finals["t"]
    assert sum(isinstance(e, ev.ToolCallCancelled) for e in events) == 4  # 2 member, 2 team


async def test_concurrent_members_update_different_state_keys_and_all_land(store: Store) -> None:
    def writer(name: str) -> Agent[Any, Any]:
        async def note(ctx: RunContext[Any]) -> str:
            """Write this member's note into the shared state."""
            ctx.state[name] = f"{name} saw {ctx.state['topic']}"
            await anyio.lowlevel.checkpoint()  # let the other member write meanwhile
            return "noted"

        return member(name, tools=[note])

    model, _ = leader(
        lambda m: ModelResponse(
            parts=[call("delegate_task_to_all_members", {"task": "take notes"}, "b1")]
        ),
        lambda m: text("ok"),
    )
    team = Team(
        name="t", mode="broadcast", members=[writer("a"), writer("b"), writer("c")], model=model
    )
    result = await team.run("go", session_id="s1", state={"topic": "tea"}, store=store)

    assert result.status is RunStatus.COMPLETED
    session = await store.get_session(Scope(), "s1")
    assert session is not None
    assert session.state == {
        "topic": "tea",
        "a": "a saw tea",
        "b": "b saw tea",
        "c": "c saw tea",
    }


async def test_team_usage_sums_members_and_is_recorded_per_member(store: Store) -> None:
    model, _ = leader(
        lambda m: ModelResponse(
            parts=[call("delegate_task", {"member": n, "task": "go"}, n) for n in ("a", "b")]
        ),
        lambda m: text("ok"),
    )
    team = Team(name="t", members=[member("a"), member("b")], model=model)
    result = await team.run("go", store=store)

    scope = Scope()
    stored = await store.get_run(scope, result.run_id)
    assert stored is not None
    runs = stored.metadata["member_runs"]
    assert sorted(r["member"] for r in runs.values()) == ["a", "b"]
    member_usage = 0
    for run_id, record in runs.items():
        child = await store.get_run(scope, run_id)
        assert child is not None and child.parent_run_id == result.run_id
        assert record["usage"]["requests"] == child.usage.requests == 1
        member_usage += child.usage.input_tokens
    leader_usage = sum(
        m.usage.input_tokens for m in result.messages if isinstance(m, ModelResponse)
    )
    assert result.usage.requests == 4
    assert result.usage.input_tokens == leader_usage + member_usage
    assert stored.usage == result.usage


async def test_team_usage_limits_cover_members() -> None:
    async def tool_then_answer(messages: Messages, info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[call(info.function_tools[0].name, {}, "t1")])
        return text("done")

    def lookup() -> str:
        """Look something up."""
        return "found"

    busy = Agent(name="busy", model=FunctionModel(tool_then_answer), tools=[lookup])
    model, leader_saw = leader(lambda m: delegate("busy", "go"), lambda m: text("never"))
    team = Team(name="t", members=[busy], model=model, usage_limits=UsageLimits(request_limit=2))
    result = await team.run("go")

    # The member's second request would be the team's third: the member stops there.
    assert result.status is RunStatus.FAILED
    assert isinstance(result.exception, UsageLimitExceeded)  # the leader's next request
    assert result.usage.requests == 2
    assert len(leader_saw) == 1
    failed = result.tool_calls[0]
    assert failed.error is not None and "request_limit=2" in failed.error


async def test_each_member_continues_its_own_history_in_the_session(store: Store) -> None:
    prompts: dict[str, list[int]] = {"a": [], "b": []}

    def remembering(name: str) -> Agent[Any, Any]:
        async def answer(messages: Messages, info: AgentInfo) -> ModelResponse:
            prompts[name].append(len(messages))  # history + this run's request
            return text(f"{name} answer")

        return Agent(name=name, model=FunctionModel(answer))

    def team() -> Team[Any, Any]:
        model, _ = leader(lambda m: delegate("a", "x"), echo_returns)
        return Team(name="t", members=[remembering("a"), remembering("b")], model=model)

    await team().run("first", session_id="s", store=store)
    await team().run("second", session_id="s", store=store)

    # The second run of `a` sees its first run (request + answer) and nothing of the leader's.
    assert prompts == {"a": [1, 3], "b": []}


async def test_a_cancel_asked_through_the_store_reaches_running_members(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from covey.core.run import relay

    monkeypatch.setattr(relay, "CANCEL_POLL_SECONDS", 0.02)
    started = anyio.Event()

    async def slow(ctx: RunContext[Any]) -> str:
        """Work for a long time."""
        started.set()
        await anyio.sleep_forever()
        return "never"

    model, _ = leader(lambda m: delegate("a", "go"))
    team = Team(name="t", members=[member("a", tools=[slow])], model=model, store=store)
    events: list[ev.BaseEvent] = []

    async def consume() -> None:
        async for event in team.run_stream("go"):
            events.append(event)

    with anyio.fail_after(30):  # without the poll the team would wait for its member forever
        async with anyio.create_task_group() as group:
            group.start_soon(consume)
            await started.wait()
            # As another process would: only the store's flag, no handle of this process.
            assert await store.request_cancel(Scope(), events[0].run_id)

    check_invariants(events)
    assert {e.agent_name for e in events if isinstance(e, ev.RunCancelled)} == {"t", "a"}
    stored = await store.get_run(Scope(), events[0].run_id)
    assert stored is not None and stored.status is RunStatus.CANCELLED


def test_run_sync_and_print_response_behave_as_the_agents(
    capsys: pytest.CaptureFixture[str],
) -> None:
    model, _ = leader(
        lambda m: delegate("a", "x"), echo_returns, lambda m: delegate("a", "y"), echo_returns
    )
    team = Team(name="t", members=[member("a")], model=model)
    assert team.run_sync("hi").output == "a did: x"

    result = anyio.run(lambda: team.print_response("hi"))
    out = capsys.readouterr().out
    assert result.output == "a did: y"
    assert "[tool] delegate_task(" in out and "a did: y" in out


async def test_a_consumer_leaving_the_stream_stops_and_closes_the_member_runs(store: Store) -> None:
    async def slow(ctx: RunContext[Any]) -> str:
        """Work for a long time."""
        await anyio.sleep_forever()
        return "never"

    model, _ = leader(lambda m: delegate("a", "go"))
    team = Team(name="t", members=[member("a", tools=[slow])], model=model, store=store)
    stream = team.run_stream("go")
    runs: dict[str, str] = {}
    async for event in stream:
        if isinstance(event, ev.RunStarted):
            runs[str(event.agent_name)] = event.run_id
        if isinstance(event, ev.ToolCallStarted) and event.agent_name == "a":
            break
    await stream.aclose()  # type: ignore[attr-defined]

    # The member run is stopped and closed once the abandoned generators are finalised (the
    # event loop closes them right after); the team run is left as an agent's run is when its
    # consumer leaves: running, until its lease lapses and it is closed as orphaned.
    with anyio.fail_after(10):
        while True:
            stored = await store.get_run(Scope(), runs["a"])
            assert stored is not None
            if stored.status is not RunStatus.RUNNING:
                break
            await anyio.sleep(0.01)
    assert stored.status is RunStatus.CANCELLED
    logged = await store.list_events(Scope(), runs["a"])
    assert isinstance(logged[-1], ev.RunCancelled)


async def test_cancelling_the_callers_task_cancels_team_and_members(store: Store) -> None:
    started = anyio.Event()

    async def slow(ctx: RunContext[Any]) -> str:
        """Work for a long time."""
        started.set()
        await anyio.sleep_forever()
        return "never"

    model, _ = leader(lambda m: delegate("a", "go"))
    team = Team(name="t", members=[member("a", tools=[slow])], model=model, store=store)
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: team.run("go", run_id="team-run"))
        await started.wait()
        group.cancel_scope.cancel()

    scope = Scope()
    stored = await store.get_run(scope, "team-run")
    assert stored is not None and stored.status is RunStatus.CANCELLED
    (child,) = stored.tool_calls
    assert child.tool_name == "delegate_task"
    logged = await store.list_events(scope, "team-run")
    check_invariants(logged)
    runs = await store.list_runs(scope)
    (member_record,) = [r for r in runs.items if r.agent_id == "a"]
    assert member_record.parent_run_id == "team-run"
    assert member_record.status is RunStatus.CANCELLED
    check_invariants(await store.list_events(scope, member_record.id))


async def test_iter_steps_through_the_leader_with_member_events_on_the_run() -> None:
    model, _ = leader(lambda m: delegate("a", "x"), echo_returns)
    team = Team(name="t", members=[member("a")], model=model)
    async with team.iter("hi") as run:
        nodes = [type(node).__name__ async for node in run]
    assert nodes == [
        "ModelRequestNode",
        "CallToolsNode",
        "ModelRequestNode",
        "CallToolsNode",
        "End",
    ]
    assert run.result is not None and run.result.output == "a did: x"
    assert {e.agent_name for e in run.events} == {"t", "a"}
