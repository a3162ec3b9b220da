"""Cancellation: from `agent.cancel`, from another process through the store, and task cancel."""

from __future__ import annotations

import anyio
from core_helpers import collect

from covey.core import Agent, InMemoryStore, RunStatus
from covey.core.testing import TestModel
from covey.spec import events as ev
from covey.spec.store import Scope


async def test_cancel_stops_a_running_tool_and_closes_its_events() -> None:
    started = anyio.Event()

    async def slow() -> str:
        started.set()
        await anyio.sleep(30)
        return "late"

    agent = Agent(model=TestModel(), tools=[slow])
    events: list[ev.BaseEvent] = []

    async def consume() -> None:
        events.extend(await collect(agent.run_stream("x", run_id="run-1")))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await started.wait()
            assert await agent.cancel("run-1")
    types = [e.type for e in events]
    assert types[-2:] == ["tool_call.cancelled", "run.cancelled"]
    final = events[-1]
    assert isinstance(final, ev.RunCancelled) and final.result.status is RunStatus.CANCELLED


async def test_cancel_requested_through_the_store_is_noticed_at_the_next_step() -> None:
    store = InMemoryStore()
    scope = Scope(user_id="u")
    gate = anyio.Event()

    async def wait_for_cancel() -> str:
        # Another process asks for the cancel while this tool runs.
        assert await store.request_cancel(scope, "run-2")
        gate.set()
        return "done"

    agent = Agent(model=TestModel(), tools=[wait_for_cancel], store=store)
    with anyio.fail_after(10):
        result = await agent.run("x", run_id="run-2", user_id="u")
    assert gate.is_set()
    assert result.status is RunStatus.CANCELLED
    stored = await store.get_run(scope, "run-2")
    assert stored is not None and stored.status is RunStatus.CANCELLED


async def test_task_cancellation_marks_the_stored_run_cancelled() -> None:
    store = InMemoryStore()
    started = anyio.Event()

    async def slow() -> str:
        started.set()
        await anyio.sleep(30)
        return "late"

    agent = Agent(model=TestModel(), tools=[slow], store=store)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: agent.run("x", run_id="run-3"))
            await started.wait()
            tg.cancel_scope.cancel()
    stored = await store.get_run(Scope(), "run-3")
    assert stored is not None and stored.status is RunStatus.CANCELLED
    log = await store.list_events(Scope(), "run-3")
    assert [e.type for e in log][-2:] == ["tool_call.cancelled", "run.cancelled"]


async def test_cancel_of_an_unknown_run_is_false() -> None:
    assert not await Agent(model=TestModel()).cancel("nope")
    assert not await Agent(model=TestModel(), store=InMemoryStore()).cancel("nope")
