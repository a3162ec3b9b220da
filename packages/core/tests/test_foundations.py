"""Defects of the run engine found in review: tool timeouts, toolset exits, paused runs kept in
memory, session history reads, fallback outcomes, records of stopped runs."""

from __future__ import annotations

from typing import Any, Self

import anyio
import pytest
from core_helpers import call, collect, text

from covey.core import Agent, RunStatus
from covey.core.fallback import FallbackExhaustedError, FallbackModel
from covey.core.testing import AgentInfo, FunctionModel, TestModel
from covey.spec import (
    ModelRequest,
    ModelRequestParams,
    ModelResponse,
    RunContext,
    ToolDefinition,
    ToolResult,
    UserPart,
    tool,
)
from covey.spec import events as ev
from covey.spec.errors import (
    ConfigurationError,
    InvalidInputError,
    ModelServerError,
    NotFoundError,
    OutputValidationError,
    RunTimeout,
)
from covey.spec.store import Page, Run, Scope
from covey.spec.tools import Toolset
from covey.testing import InMemoryStore

# --- 4. a tool's own TimeoutError is not the per-tool timeout -------------------------------------


async def test_a_tools_own_timeout_error_keeps_its_message() -> None:
    async def fetch_quote() -> str:
        raise TimeoutError("upstream quote service did not answer")

    result = await Agent(model=TestModel(), tools=[fetch_quote]).run("quote?")
    [record] = result.tool_calls
    assert record.error is not None
    assert "upstream quote service did not answer" in record.error
    assert "timed out after" not in record.error


async def test_the_per_tool_timeout_is_still_reported_as_one() -> None:
    async def slow() -> str:
        await anyio.sleep(30)
        return "late"

    result = await Agent(model=TestModel(), tools=[slow], tool_timeout=0.05).run("go")
    [record] = result.tool_calls
    assert record.error is not None and "timed out after 0.05 s" in record.error


# --- 5. toolsets entered are exited even when a later one fails to enter --------------------------


class Recording(Toolset):
    def __init__(self, name: str, log: list[str], *, fail_enter: bool = False) -> None:
        self.id = name
        self.log = log
        self.fail_enter = fail_enter

    async def __aenter__(self) -> Self:
        self.log.append(f"enter {self.id}")
        if self.fail_enter:
            raise ConnectionError(f"{self.id} cannot connect")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.log.append(f"exit {self.id}")

    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        return []

    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        raise AssertionError("never called")


async def test_toolsets_entered_before_a_failing_one_are_exited() -> None:
    log: list[str] = []
    toolsets = [Recording("a", log), Recording("b", log), Recording("c", log, fail_enter=True)]
    result = await Agent(model=TestModel(), tools=toolsets).run("hi")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and "c cannot connect" in result.error.message
    assert log == ["enter a", "enter b", "enter c", "exit b", "exit a"]


async def test_toolsets_are_exited_in_reverse_order_after_a_run() -> None:
    log: list[str] = []
    result = await Agent(model=TestModel(), tools=[Recording("a", log), Recording("b", log)]).run(
        "hi"
    )
    assert result.status is RunStatus.COMPLETED
    assert log == ["enter a", "enter b", "exit b", "exit a"]


# --- 6. paused runs kept without a store are bounded ---------------------------------------------


@tool(requires_approval=True)
def wipe(path: str) -> str:
    """Wipe a path."""
    return f"wiped {path}"


def asks_to_wipe(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    if len(messages) == 1:
        return ModelResponse(parts=[call("wipe", {"path": "/tmp/x"}, "w")])
    return text("done")


async def test_paused_runs_kept_in_memory_are_bounded_to_the_most_recent() -> None:
    agent = Agent(model=FunctionModel(asks_to_wipe), tools=[wipe], max_paused_runs=2)
    ids = [f"p{i}" for i in range(3)]
    for run_id in ids:
        paused = await agent.run("wipe it", run_id=run_id)
        assert paused.status is RunStatus.PAUSED
    with pytest.raises(NotFoundError):
        await agent.resume("p0", approvals={"w": True})
    resumed = await agent.resume("p2", approvals={"w": True})
    assert resumed.status is RunStatus.COMPLETED and resumed.output == "done"


async def test_paused_runs_kept_in_memory_default_bound() -> None:
    agent = Agent(model=FunctionModel(asks_to_wipe), tools=[wipe])
    for i in range(Agent.DEFAULT_MAX_PAUSED_RUNS + 1):
        await agent.run("wipe it", run_id=f"q{i}")
    with pytest.raises(NotFoundError):
        await agent.resume("q0", approvals={"w": True})
    last = f"q{Agent.DEFAULT_MAX_PAUSED_RUNS}"
    assert (await agent.resume(last, approvals={"w": False})).status is RunStatus.COMPLETED


async def test_max_paused_runs_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="max_paused_runs"):
        await Agent(model=TestModel(), max_paused_runs=0).run("hi")


# --- 7. session history is read newest first, only as far as the budget --------------------------


class CountingStore(InMemoryStore):
    """A real in-memory store that counts the run listings it serves."""

    def __init__(self) -> None:
        super().__init__()
        self.listings: list[str] = []

    async def list_runs(self, scope: Scope, **kwargs: Any) -> Page[Run]:
        self.listings.append(kwargs.get("order", "asc"))
        return await super().list_runs(scope, **kwargs)


async def test_session_history_reads_only_the_newest_runs_it_needs() -> None:
    store = CountingStore()
    seen: list[list[str]] = []

    def echo(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        prompts = [
            str(p.content)
            for m in messages
            if isinstance(m, ModelRequest)
            for p in m.parts
            if isinstance(p, UserPart)
        ]
        seen.append(prompts)
        return text("ok " + prompts[-1])

    agent = Agent(model=FunctionModel(echo), store=store, history_tokens=40)
    for i in range(120):
        await agent.run(f"turn {i}", session_id="long", user_id="u")
    store.listings.clear()
    seen.clear()
    await agent.run("latest", session_id="long", user_id="u")
    # One page, newest first, is enough for a 40-token budget over 120 earlier runs.
    assert store.listings == ["desc"]
    prompts = seen[-1]
    assert prompts[-1] == "latest"
    assert prompts[-2] == "turn 119"
    # History stays in chronological order.
    history = [int(p.split()[1]) for p in prompts[:-1]]
    assert history == sorted(history) and 0 < len(history) < 120


# --- 3. one fallback mechanism, one outcome ----------------------------------------------------


def failing(name: str) -> FunctionModel:
    def fail(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        raise ModelServerError(f"{name} is down", status_code=503)

    return FunctionModel(fail, model_name=name)


async def test_fallback_exhausted_is_the_same_error_in_a_run_and_a_direct_request() -> None:
    direct = FallbackModel(failing("a"), failing("b"))
    with pytest.raises(FallbackExhaustedError) as raised:
        await direct.request([ModelRequest.user("hi")], None, ModelRequestParams())
    events = await collect(
        Agent(model=FallbackModel(failing("a"), failing("b")), retry=None).run_stream("hi")
    )
    result = events[-1].result  # type: ignore[attr-defined]
    assert result.status is RunStatus.FAILED
    assert result.error.type == "FallbackExhaustedError"
    exc = result.exception
    assert isinstance(exc, FallbackExhaustedError)
    assert [(type(e), str(e)) for e in exc.errors] == [
        (type(e), str(e)) for e in raised.value.errors
    ]
    assert exc.model_names == raised.value.model_names == ["a", "b"]
    assert str(exc) == str(raised.value)
    assert [e.type for e in events].count("model.fallback") == 1


async def test_fallback_covers_invalid_output_and_emits_its_event() -> None:
    from pydantic import BaseModel

    class City(BaseModel):
        name: str
        population: int

    def bad(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        return text('{"name": "Paris"}')

    def good(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        return text('{"name": "Paris", "population": 2100000}')

    model = FallbackModel(
        FunctionModel(bad, model_name="bad"),
        FunctionModel(good, model_name="good"),
        fallback_on=(OutputValidationError,),
    )
    agent = Agent(model=model, output_type=City, output_mode="prompted", output_retries=0)
    events = await collect(agent.run_stream("city?"))
    result = events[-1].result  # type: ignore[attr-defined]
    assert result.status is RunStatus.COMPLETED
    assert result.output == City(name="Paris", population=2100000)
    fallbacks = [e for e in events if isinstance(e, ev.ModelFallback)]
    assert [(f.from_model, f.to_model) for f in fallbacks] == [("bad", "good")]

    both_bad = FallbackModel(
        FunctionModel(bad, model_name="bad"),
        FunctionModel(bad, model_name="worse"),
        fallback_on=(OutputValidationError,),
    )
    failed = await Agent(
        model=both_bad, output_type=City, output_mode="prompted", output_retries=0
    ).run("city?")
    assert isinstance(failed.exception, FallbackExhaustedError)
    assert [type(e) for e in failed.exception.errors] == [OutputValidationError] * 2


# --- 8. sessions and runs are saved when the run starts ---------------------------------------


async def test_session_and_run_are_saved_before_any_model_work() -> None:
    store = InMemoryStore()
    scope = Scope(user_id="u")
    seen: dict[str, Any] = {}

    async def look(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        seen["session"] = await store.get_session(scope, "fresh")
        seen["run"] = await store.get_run(scope, "r-start")
        return text("ok")

    agent = Agent(model=FunctionModel(look), store=store, name="a")
    result = await agent.run(
        "hello", session_id="fresh", user_id="u", run_id="r-start", state={"lang": "fr"}
    )
    assert result.status is RunStatus.COMPLETED
    session = seen["session"]
    assert session is not None and session.state == {"lang": "fr"}
    run = seen["run"]
    assert run is not None and run.input == "hello" and run.session_id == "fresh"
    # 10. A running run has not finished.
    assert run.status is RunStatus.RUNNING and run.finished_at is None
    stored = await store.get_run(scope, "r-start")
    assert stored is not None and stored.finished_at is not None


async def test_a_session_the_store_refuses_fails_the_run_before_the_model() -> None:
    store = InMemoryStore()
    called: list[int] = []

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        called.append(1)
        return text("ok")

    agent = Agent(model=FunctionModel(model), store=store)
    with pytest.raises(InvalidInputError):
        await agent.run("hi", session_id="bad\x00id", user_id="u")
    assert called == []
    # Another user's id is another session (ids are namespaced per user): nothing is refused,
    # nothing is shared.
    await agent.run("mine", session_id="owned", user_id="alice", state={"k": "alice"})
    other = await agent.run("yours?", session_id="owned", user_id="mallory")
    assert other.status is RunStatus.COMPLETED
    assert other.all_messages()[0].parts[-1].content == "yours?"
    alice = await store.get_session(Scope(user_id="alice"), "owned")
    mallory = await store.get_session(Scope(user_id="mallory"), "owned")
    assert alice is not None and alice.state == {"k": "alice"}
    assert mallory is not None and mallory.state == {}


# --- 10. a run stopped with an error lists the tool calls it made -----------------------------


async def test_a_run_stopped_with_an_error_lists_its_tool_calls_in_flight() -> None:
    store = InMemoryStore()
    started = anyio.Event()

    def quick() -> str:
        return "fast"

    async def slow() -> str:
        started.set()
        await anyio.sleep(30)
        return "late"

    def plan(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[call("quick", {}, "q")])
        return ModelResponse(parts=[call("slow", {}, "s")])

    agent = Agent(model=FunctionModel(plan), tools=[quick, slow], store=store)
    results: list[Any] = []

    async def consume() -> None:
        results.append(await agent.run("go", run_id="timed"))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await started.wait()
            assert await agent.cancel("timed", error=RunTimeout("run_timeout of 1 s", timeout=1))
    [result] = results
    assert result.status is RunStatus.FAILED
    calls = {c.tool_call_id: c for c in result.tool_calls}
    assert calls["q"].result == "fast" and calls["q"].error is None
    assert calls["s"].error is not None and "run_timeout of 1 s" in calls["s"].error
    stored = await store.get_run(Scope(), "timed")
    assert stored is not None
    assert [c.tool_call_id for c in stored.tool_calls] == ["q", "s"]
    assert stored.tool_calls[1].error == calls["s"].error


async def test_a_cancelled_run_lists_the_call_it_cancelled() -> None:
    started = anyio.Event()

    async def slow() -> str:
        started.set()
        await anyio.sleep(30)
        return "late"

    agent = Agent(model=TestModel(), tools=[slow])
    results: list[Any] = []

    async def consume() -> None:
        results.append(await agent.run("go", run_id="cancel-me"))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await started.wait()
            assert await agent.cancel("cancel-me")
    [result] = results
    assert result.status is RunStatus.CANCELLED
    [record] = result.tool_calls
    assert record.tool_name == "slow" and record.error is not None
    assert "cancelled" in record.error.lower()
