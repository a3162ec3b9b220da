"""Cancellation: from `agent.cancel` (with or without an error), from another process through
the store, of paused runs, and task cancel."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from core_helpers import check_invariants, collect

from covey.core import Agent, RunStatus
from covey.core.testing import TestModel
from covey.spec import RunResult, tool
from covey.spec import events as ev
from covey.spec.errors import ConflictError, NotFoundError, RunTimeout
from covey.spec.store import Scope
from covey.testing import InMemoryStore


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


async def test_cancel_with_an_error_fails_the_run_with_it() -> None:
    store = InMemoryStore()
    started = anyio.Event()

    async def slow() -> str:
        started.set()
        await anyio.sleep(30)
        return "late"

    agent = Agent(model=TestModel(), tools=[slow], store=store)
    events: list[ev.BaseEvent] = []

    async def consume() -> None:
        events.extend(await collect(agent.run_stream("x", run_id="run-4")))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await started.wait()
            assert await agent.cancel("run-4", error=RunTimeout("too slow", timeout=1))
    assert [e.type for e in events][-2:] == ["tool_call.failed", "run.failed"]
    failed_call = events[-2]
    assert isinstance(failed_call, ev.ToolCallFailed) and failed_call.error == "too slow"
    final = events[-1]
    assert isinstance(final, ev.RunFailed)
    assert final.result.status is RunStatus.FAILED
    assert final.result.error is not None
    assert (final.result.error.type, final.result.error.message) == ("RunTimeout", "too slow")
    stored = await store.get_run(Scope(), "run-4")
    assert stored is not None and stored.status is RunStatus.FAILED
    assert stored.error == final.result.error
    log = await store.list_events(Scope(), "run-4")
    assert [e.type for e in log] == [e.type for e in events]


async def test_the_first_cancel_decides_how_the_run_ends() -> None:
    started = anyio.Event()

    async def slow() -> str:
        started.set()
        await anyio.sleep(30)
        return "late"

    agent = Agent(model=TestModel(), tools=[slow])
    results: list[RunResult[Any]] = []

    async def consume() -> None:
        results.append(await agent.run("x", run_id="run-5"))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await started.wait()
            assert await agent.cancel("run-5")
            assert await agent.cancel("run-5", error=RunTimeout("too slow"))
    assert results[0].status is RunStatus.CANCELLED
    assert results[0].error is None


@tool(requires_approval=True)
def transfer(amount: int) -> str:
    """Transfer money."""
    return "sent"


async def _paused_run(store: InMemoryStore) -> tuple[Agent[Any, str], RunResult[Any]]:
    agent = Agent(model=TestModel(), tools=[transfer], store=store, name="bank")
    paused = await agent.run("pay", session_id="s", user_id="u")
    assert paused.status is RunStatus.PAUSED
    return agent, paused


async def test_cancel_of_a_paused_run_closes_its_record_and_log() -> None:
    store = InMemoryStore()
    agent, paused = await _paused_run(store)
    scope = Scope(user_id="u")
    before = await store.list_events(scope, paused.run_id)

    assert await agent.cancel(paused.run_id, user_id="u")

    stored = await store.get_run(scope, paused.run_id)
    assert stored is not None
    assert (stored.status, stored.error, stored.requirements) == (RunStatus.CANCELLED, None, [])
    assert stored.finished_at is not None
    log = await store.list_events(scope, paused.run_id)
    added = log[len(before) :]
    assert [(e.type, e.seq) for e in added] == [
        ("run.started", before[-1].seq + 1),
        ("run.cancelled", before[-1].seq + 2),
    ]
    restarted = added[0]
    assert isinstance(restarted, ev.RunStarted) and restarted.resumed
    assert (restarted.session_id, restarted.user_id) == ("s", "u")
    check_invariants(log[len(before) :])
    assert stored.metadata["last_seq"] == log[-1].seq
    assert "pending_parts" not in stored.metadata
    with pytest.raises(ConflictError, match="cancelled, not paused"):
        await agent.resume(paused.run_id, approvals={"transfer": True}, user_id="u")
    assert not await agent.cancel(paused.run_id, user_id="u")
    assert len(await store.list_events(scope, paused.run_id)) == len(log)


async def test_cancel_of_a_paused_run_with_an_error_fails_it() -> None:
    store = InMemoryStore()
    agent, paused = await _paused_run(store)
    scope = Scope(user_id="u")

    assert await agent.cancel(paused.run_id, user_id="u", error=RunTimeout("waited too long"))

    stored = await store.get_run(scope, paused.run_id)
    assert stored is not None and stored.status is RunStatus.FAILED
    assert stored.error is not None and stored.error.type == "RunTimeout"
    final = (await store.list_events(scope, paused.run_id))[-1]
    assert isinstance(final, ev.RunFailed)
    assert final.result.error == stored.error


async def test_cancel_of_a_paused_run_kept_without_a_store() -> None:
    agent = Agent(model=TestModel(), tools=[transfer])
    paused = await agent.run("pay")
    assert paused.status is RunStatus.PAUSED
    assert await agent.cancel(paused.run_id)
    with pytest.raises(NotFoundError):
        await agent.resume(paused.run_id, approvals={"transfer": True})
    assert not await agent.cancel(paused.run_id)


# --- orphaned runs: their worker died ------------------------------------------------------------


async def _orphan(store: InMemoryStore, scope: Scope, *, beat_age: float) -> None:
    """A run as a killed worker leaves it: running, a tool call in flight, no recent beat."""
    from datetime import timedelta

    from covey.spec import ModelResponse, TextPart, ToolCallPart, Usage
    from covey.spec.store import Run, utc_now

    beat = utc_now() - timedelta(seconds=beat_age)
    await store.save_run(
        scope, Run(id="orphan", session_id="s", agent_id="a", input="go", heartbeat_at=beat)
    )
    usage = Usage(input_tokens=10, output_tokens=3, requests=1)
    response = ModelResponse(
        parts=[
            TextPart(content="calling"),
            ToolCallPart(tool_name="fast", args={"n": 1}, tool_call_id="c1"),
            ToolCallPart(tool_name="slow", args={"n": 2}, tool_call_id="c2"),
        ],
        usage=usage,
    )
    common: dict[str, Any] = {"run_id": "orphan", "agent_name": "a"}
    await store.append_events(
        scope,
        "orphan",
        [
            ev.RunStarted(seq=1, session_id="s", input="go", **common),
            ev.ModelRequestStarted(seq=2, model_name="m", step=1, **common),
            ev.ModelRequestCompleted(
                seq=3, model_name="m", step=1, response=response, usage=usage, **common
            ),
            ev.ToolCallStarted(seq=4, tool_call_id="c1", tool_name="fast", args={"n": 1}, **common),
            ev.ToolCallStarted(seq=5, tool_call_id="c2", tool_name="slow", args={"n": 2}, **common),
            ev.ToolCallCompleted(seq=6, tool_call_id="c1", tool_name="fast", result=1, **common),
        ],
    )
    # The lease is judged by the stored beat: keep it old (saves do not move it forwards).
    run = await store.get_run(scope, "orphan")
    assert run is not None
    assert run.heartbeat_at == beat


async def test_an_orphaned_run_is_closed_once_with_its_usage_calls_and_log() -> None:
    from datetime import timedelta

    from covey.core.cancellation import close_orphaned

    store, scope = InMemoryStore(), Scope("t", "u")
    await _orphan(store, scope, beat_age=60)
    run = await store.get_run(scope, "orphan")
    assert run is not None
    closed: list[Any] = []

    async def close() -> None:
        closed.append(await close_orphaned(store, scope, run, lease=timedelta(seconds=15)))

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(close)
    winners = [c for c in closed if c is not None]
    assert len(winners) == 1, "exactly one worker closes an orphan"
    stored = await store.get_run(scope, "orphan")
    assert stored is not None
    assert stored.status is RunStatus.INTERRUPTED
    assert stored.error is not None
    assert stored.error.type == "Interrupted"
    assert "stopped renewing its lease for more than 15s" in stored.error.message
    assert (stored.usage.requests, stored.usage.input_tokens, stored.usage.tool_calls) == (1, 10, 2)
    assert [(c.tool_call_id, c.result, c.error is not None) for c in stored.tool_calls] == [
        ("c1", 1, False),
        ("c2", None, True),
    ]
    assert stored.input == "go"
    events = await store.list_events(scope, "orphan")
    check_invariants(events)
    assert [e.type for e in events][-2:] == ["tool_call.failed", "run.failed"]
    final = events[-1]
    assert isinstance(final, ev.RunFailed)
    assert final.result.status is RunStatus.INTERRUPTED
    assert final.result.usage == stored.usage
    assert stored.metadata["last_seq"] == final.seq


async def test_an_orphan_whose_cancel_was_asked_is_closed_cancelled() -> None:
    from datetime import timedelta

    from covey.core.cancellation import close_orphaned

    store, scope = InMemoryStore(), Scope("t", "u")
    await _orphan(store, scope, beat_age=60)
    assert await store.request_cancel(scope, "orphan")
    run = await store.get_run(scope, "orphan")
    assert run is not None
    closed = await close_orphaned(store, scope, run, lease=timedelta(seconds=15))
    assert closed is not None
    assert (closed.status, closed.error) == (RunStatus.CANCELLED, None)
    events = await store.list_events(scope, "orphan")
    check_invariants(events)
    assert [e.type for e in events][-2:] == ["tool_call.cancelled", "run.cancelled"]


async def test_a_run_whose_lease_is_alive_is_not_closed() -> None:
    from datetime import timedelta

    from covey.core.cancellation import close_orphaned

    store, scope = InMemoryStore(), Scope("t", "u")
    await _orphan(store, scope, beat_age=5)
    run = await store.get_run(scope, "orphan")
    assert run is not None
    assert await close_orphaned(store, scope, run, lease=timedelta(seconds=15)) is None
    again = await store.get_run(scope, "orphan")
    assert again is not None
    assert again.status is RunStatus.RUNNING
    assert len(await store.list_events(scope, "orphan")) == 6
