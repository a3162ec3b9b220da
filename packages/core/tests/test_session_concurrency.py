"""Concurrent runs of one session: different state keys all land, one key is a true conflict,
and a run refused its state update keeps its work on its record. On the in-memory store and on
a real SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from core_helpers import call, text

from covey.core import Agent, RunStatus
from covey.core.testing import AgentInfo, FunctionModel
from covey.db.sql import SqlStore
from covey.spec import ModelRequest, ModelResponse, RunContext, ToolReturnPart
from covey.spec.errors import ConflictError
from covey.spec.store import Scope, Store
from covey.testing import InMemoryStore

SCOPE = Scope(user_id="u")


@pytest.fixture(params=["memory", "sqlite-file"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[list[Store]]:
    """One in-memory store, or two `SqlStore`s on one SQLite file (as two processes would
    share it: their runs meet only through the database's version check)."""
    if request.param == "memory":
        yield [InMemoryStore()]
        return
    url = f"sqlite:///{tmp_path}/covey.db"
    async with SqlStore(url) as first, SqlStore(url) as second:
        yield [first, second]


@pytest.fixture
def store(stores: list[Store]) -> Store:
    return stores[0]


def remember(ctx: RunContext[Any], key: str, value: int) -> str:
    """Remember a value under a key of the session state."""
    ctx.state[key] = value
    return "ok"


def plan(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    last = messages[-1]
    assert isinstance(last, ModelRequest)
    if any(isinstance(p, ToolReturnPart) for p in last.parts):
        return text("remembered")
    prompt = str(last.parts[-1].content)  # "remember kN"
    key = prompt.split()[-1]
    return ModelResponse(parts=[call("remember", {"key": key, "value": int(key[1:])})])


@pytest.mark.parametrize("runs", [16, 32])
async def test_concurrent_runs_changing_different_keys_all_succeed(
    stores: list[Store], runs: int
) -> None:
    agents = [
        Agent(model=FunctionModel(plan), tools=[remember], store=s, history_tokens=0)
        for s in stores
    ]
    results: dict[int, Any] = {}

    async def one(i: int) -> None:
        results[i] = await agents[i % len(agents)].run(
            f"remember k{i}", session_id="shared", user_id="u", state={f"s{i}": i}
        )

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for i in range(runs):
                tg.start_soon(one, i)
    failed = {i: r.error for i, r in results.items() if r.status is not RunStatus.COMPLETED}
    assert failed == {}
    session = await stores[-1].get_session(SCOPE, "shared")
    assert session is not None
    expected = {f"k{i}": i for i in range(runs)} | {f"s{i}": i for i in range(runs)}
    assert session.state == expected


async def test_a_true_conflict_on_one_key_fails_but_keeps_the_runs_work(store: Store) -> None:
    first_wrote = anyio.Event()
    second_done = anyio.Event()

    async def set_color(ctx: RunContext[Any], color: str) -> str:
        """Set the color."""
        ctx.state["color"] = color
        if color == "red":
            first_wrote.set()
            await second_done.wait()
        return "set"

    def choose(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        if any(isinstance(p, ToolReturnPart) for p in last.parts):
            return text("color set")
        color = str(last.parts[-1].content).split()[-1]
        return ModelResponse(parts=[call("set_color", {"color": color})])

    agent = Agent(model=FunctionModel(choose), tools=[set_color], store=store, history_tokens=0)
    await agent.run("start", session_id="paint", user_id="u", state={"color": "white"})
    results: dict[str, Any] = {}

    async def red() -> None:
        results["red"] = await agent.run(
            "paint red", session_id="paint", user_id="u", run_id="run-red"
        )

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(red)
            await first_wrote.wait()
            results["blue"] = await agent.run("paint blue", session_id="paint", user_id="u")
            second_done.set()
    assert results["blue"].status is RunStatus.COMPLETED
    lost = results["red"]
    assert lost.status is RunStatus.FAILED
    assert isinstance(lost.exception, ConflictError)
    assert "color" in str(lost.exception)
    # The work is kept, on the result and on the stored record.
    assert lost.output == "color set"
    stored = await store.get_run(SCOPE, "run-red")
    assert stored is not None and stored.status is RunStatus.FAILED
    assert stored.output == "color set"
    assert stored.usage.requests == 2
    assert len(stored.messages) == 4
    assert [c.tool_name for c in stored.tool_calls] == ["set_color"]
    session = await store.get_session(SCOPE, "paint")
    assert session is not None and session.state == {"color": "blue"}
