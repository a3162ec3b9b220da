"""Human in the loop inside a member: the member run pauses, the team run pauses with it
(persisted, its requirements naming the member run), and any process sharing the store resumes
it — here a fresh `Team`, fresh members and a fresh store object on the same SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from core_helpers import call, check_invariants, text
from team_helpers import Messages, delegate, echo_returns, prompt_of, returns

from covey.core import Agent, RunStatus, Team
from covey.core.testing import AgentInfo, FunctionModel
from covey.db.sql import SqlStore
from covey.spec import ModelResponse, tool
from covey.spec import events as ev
from covey.spec.store import Scope

TRANSFERS: list[int] = []


@tool(requires_approval=True)
def transfer(amount: int) -> str:
    """Transfer money."""
    TRANSFERS.append(amount)
    return f"sent {amount}"


async def banker_model(messages: Messages, info: AgentInfo) -> ModelResponse:
    if len(messages) == 1:
        return ModelResponse(parts=[call("transfer", {"amount": 5}, "pay")])
    return text(f"banker: {returns(messages)[0].content}")


def build(leader_saw: list[Messages] | None = None) -> Team[Any, Any]:
    """The same definitions, built anew (as another process would)."""
    banker = Agent(name="banker", model=FunctionModel(banker_model), tools=[transfer])

    def lead(to: str) -> FunctionModel:
        async def answer(messages: Messages, info: AgentInfo) -> ModelResponse:
            if leader_saw is not None:
                leader_saw.append(list(messages))
            if len(messages) == 1:
                return delegate(to, prompt_of(messages))
            return echo_returns(messages)

        return FunctionModel(answer)

    inner = Team(name="inner", members=[banker], model=lead("banker"))
    return Team(name="outer", members=[inner], model=lead("inner"))


@pytest.mark.parametrize("decision", [True, False])
async def test_a_paused_member_pauses_the_team_and_resumes_from_another_process(
    tmp_path: Path, decision: bool
) -> None:
    TRANSFERS.clear()
    url = f"sqlite:///{tmp_path}/covey.db"
    scope = Scope(user_id="u")
    async with SqlStore(url) as first:
        events = [
            e async for e in build().run_stream("pay 5", store=first, user_id="u", session_id="s")
        ]
    check_invariants(events)
    paused = events[-1]
    assert isinstance(paused, ev.RunPaused)
    result = paused.result
    assert result.status is RunStatus.PAUSED
    starts = {e.agent_name: e.run_id for e in events if isinstance(e, ev.RunStarted)}
    (requirement,) = result.requirements
    # The requirement names the member run that waits, and the path to it.
    assert requirement.run_id == starts["banker"]
    assert requirement.tool_call_id == f"{starts['inner']}/{starts['banker']}/pay"
    assert (requirement.tool_name, requirement.kind, requirement.args) == (
        "transfer",
        "approval",
        {"amount": 5},
    )
    assert [e.type for e in events if e.run_id == starts["outer"]][-4:] == [
        "tool_call.started",
        "tool_call.paused",
        "requirement.created",
        "run.paused",
    ]
    assert TRANSFERS == []

    leader_saw: list[Messages] = []
    async with SqlStore(url) as second:  # another process: new objects, the same file
        for name in ("outer", "inner", "banker"):
            stored = await second.get_run(scope, starts[name])
            assert stored is not None and stored.status is RunStatus.PAUSED
        resumed = [
            e
            async for e in build(leader_saw).resume_stream(
                result.run_id,
                approvals={requirement.tool_call_id: decision},
                store=second,
                user_id="u",
            )
        ]
        check_invariants(resumed)
        final = resumed[-1]
        assert isinstance(final, ev.RunCompleted)
        assert ([5] if decision else []) == TRANSFERS
        said = "sent 5" if decision else "The user rejected this tool call."
        assert final.result.output == f"banker: {said}"
        # Each leader's next request had its member's answer as the delegation's result.
        assert [returns(m)[0].content for m in leader_saw] == [f"banker: {said}"] * 2
        for name in ("outer", "inner", "banker"):
            stored = await second.get_run(scope, starts[name])
            assert stored is not None and stored.status is RunStatus.COMPLETED
        resumed_runs = {e.run_id for e in resumed if isinstance(e, ev.RunStarted) and e.resumed}
        assert resumed_runs == set(starts.values())


async def test_resume_without_a_decision_names_what_is_missing(tmp_path: Path) -> None:
    from covey.spec.errors import ConfigurationError

    async with SqlStore(f"sqlite:///{tmp_path}/covey.db") as store:
        result = await build().run("pay", store=store)
        with pytest.raises(ConfigurationError, match="transfer"):
            await build().resume(result.run_id, store=store)


async def test_a_paused_team_resumes_in_process_without_a_store() -> None:
    TRANSFERS.clear()
    team = build()
    result = await team.run("pay")
    assert result.status is RunStatus.PAUSED
    resumed = await team.resume(
        result.run_id, approvals={result.requirements[0].tool_call_id: True}
    )
    assert resumed.output == "banker: sent 5"
    assert TRANSFERS == [5]


async def test_cancelling_a_paused_team_cancels_its_paused_members(tmp_path: Path) -> None:
    async with SqlStore(f"sqlite:///{tmp_path}/covey.db") as store:
        events = [e async for e in build().run_stream("pay", store=store)]
        starts = {e.agent_name: e.run_id for e in events if isinstance(e, ev.RunStarted)}
        assert await build().cancel(starts["outer"], store=store)
        for run_id in starts.values():
            stored = await store.get_run(Scope(), run_id)
            assert stored is not None and stored.status is RunStatus.CANCELLED


async def test_a_broadcast_with_one_member_paused_resumes_only_that_member() -> None:
    from team_helpers import member

    TRANSFERS.clear()
    seen: list[tuple[str, str]] = []
    banker = Agent(name="banker", model=FunctionModel(banker_model), tools=[transfer])

    async def lead(messages: Messages, info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[call("delegate_task_to_all_members", {"task": "go"})])
        return text(str(returns(messages)[0].content))

    team = Team(
        name="all",
        mode="broadcast",
        members=[member("clerk", seen), banker],
        model=FunctionModel(lead),
    )
    paused = await team.run("pay")
    assert paused.status is RunStatus.PAUSED
    assert seen == [("clerk", "go")]

    done = await team.resume(paused.run_id, approvals={paused.requirements[0].tool_call_id: True})
    assert done.output == str({"clerk": "clerk did: go", "banker": "banker: sent 5"})
    assert seen == [("clerk", "go")]  # the clerk's answer was kept, not asked again
    assert TRANSFERS == [5]
