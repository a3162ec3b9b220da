"""Agent construction, basic runs, tools, concurrency and isolation."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from core_helpers import call, collect, last_request, text

from covey.core import Agent, RunContext, RunStatus, UsageLimits
from covey.core.testing import AgentInfo, FunctionModel, TestModel
from covey.spec import ModelRequest, ModelResponse, RetryPart, ToolReturnPart, UserPart
from covey.spec import events as ev
from covey.spec.errors import GuardrailTripped, ModelRetry, PluginNotFoundError


def get_weather(city: str) -> str:
    """Get the weather.

    Args:
        city: The city to look up.
    """
    return f"sunny in {city}"


def test_construction_does_no_work() -> None:
    agent = Agent(model="no-such-provider:model", tools=[get_weather], output_type=int)
    assert agent._cache.model is None
    assert agent._cache.toolsets is None
    assert agent._cache.output_spec is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        agent.name = "x"  # type: ignore[misc]
    assert not hasattr(agent, "__dict__")


async def test_unknown_model_string_fails_the_run_with_install_line() -> None:
    agent = Agent(model="no-such-provider:model")
    with pytest.raises(PluginNotFoundError, match="pip install covey-models-no-such-provider"):
        await agent.run("hi")


async def test_model_string_resolves_through_plugins() -> None:
    agent = Agent(model="test:anything")
    result = await agent.run("hello")
    assert result.status is RunStatus.COMPLETED
    assert isinstance(result.output, str) and result.output


async def test_test_model_calls_every_tool_then_answers() -> None:
    agent = Agent(model=TestModel(), tools=[get_weather])
    result = await agent.run("Weather?")
    assert result.status is RunStatus.COMPLETED
    assert [c.tool_name for c in result.tool_calls] == ["get_weather"]
    assert result.tool_calls[0].result.startswith("sunny in")
    assert result.usage.requests == 2
    assert result.usage.tool_calls == 1
    kinds = [type(m).__name__ for m in result.messages]
    assert kinds == ["ModelRequest", "ModelResponse", "ModelRequest", "ModelResponse"]


def test_run_sync_and_refusal_inside_a_loop() -> None:
    agent = Agent(model=TestModel(custom_output_text="done"))
    assert agent.run_sync("x").output == "done"

    async def inside() -> None:
        with pytest.raises(RuntimeError, match="running event loop"):
            agent.run_sync("x")

    anyio.run(inside)


async def test_tool_schemas_are_built_once_per_agent() -> None:
    agent = Agent(model=TestModel(), tools=[get_weather])
    await agent.run("a")
    toolsets = agent.toolsets()
    await agent.run("b")
    assert agent.toolsets() is toolsets


async def test_tool_calls_of_one_response_run_concurrently() -> None:
    a_started = anyio.Event()
    b_started = anyio.Event()

    async def tool_a() -> str:
        a_started.set()
        with anyio.fail_after(5):
            await b_started.wait()
        return "a"

    async def tool_b() -> str:
        b_started.set()
        with anyio.fail_after(5):
            await a_started.wait()
        return "b"

    agent = Agent(model=TestModel(), tools=[tool_a, tool_b])
    result = await agent.run("both")
    assert result.status is RunStatus.COMPLETED, result.error
    assert sorted(c.result for c in result.tool_calls) == ["a", "b"]


async def test_sync_tools_run_in_worker_threads() -> None:
    seen: list[int] = []

    def blocking() -> str:
        seen.append(threading.get_ident())
        return "ok"

    agent = Agent(model=TestModel(), tools=[blocking])
    await agent.run("go")
    assert seen and seen[0] != threading.get_ident()


async def test_tool_error_goes_back_to_the_model() -> None:
    def broken() -> str:
        raise RuntimeError("database down")

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[call("broken", {})])
        returned = last_request(messages).parts[0]
        assert isinstance(returned, ToolReturnPart) and returned.is_error
        return text(f"saw: {returned.content}")

    result = await Agent(model=FunctionModel(model), tools=[broken]).run("x")
    assert result.status is RunStatus.COMPLETED
    assert "database down" in result.output
    assert result.tool_calls[0].error and "database down" in result.tool_calls[0].error


async def test_tool_error_policy_raise_fails_the_run() -> None:
    def broken() -> str:
        raise RuntimeError("database down")

    agent = Agent(model=TestModel(), tools=[broken], tool_errors="raise")
    result = await agent.run("x")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and result.error.type == "RuntimeError"


async def test_model_retry_asks_the_model_again() -> None:
    attempts: list[int] = []

    def picky(n: int) -> str:
        attempts.append(n)
        if n < 2:
            raise ModelRetry("n must be at least 2")
        return "fine"

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        last = last_request(messages).parts[-1]
        if isinstance(last, UserPart):
            return ModelResponse(parts=[call("picky", {"n": 1})])
        if isinstance(last, RetryPart):
            assert "at least 2" in last.message()
            return ModelResponse(parts=[call("picky", {"n": 2}, "c2")])
        return text("done")

    result = await Agent(model=FunctionModel(model), tools=[picky]).run("x")
    assert result.status is RunStatus.COMPLETED
    assert attempts == [1, 2]


async def test_invalid_arguments_become_a_retry_not_a_crash() -> None:
    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        last = last_request(messages).parts[-1]
        if isinstance(last, UserPart):
            return ModelResponse(parts=[call("get_weather", {"city": 12})])
        if isinstance(last, RetryPart):
            return ModelResponse(parts=[call("get_weather", {"city": "Oslo"}, "c2")])
        return text("ok")

    result = await Agent(model=FunctionModel(model), tools=[get_weather]).run("x")
    assert result.status is RunStatus.COMPLETED
    assert result.tool_calls[-1].result == "sunny in Oslo"


async def test_tool_retries_are_limited() -> None:
    def always_retry() -> str:
        raise ModelRetry("again")

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[call("always_retry", {}, f"c{len(messages)}")])

    agent = Agent(model=FunctionModel(model), tools=[always_retry], tool_retries=2)
    result = await agent.run("x")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and result.error.type == "UnexpectedModelBehavior"


async def test_per_tool_timeout_is_enforced() -> None:
    async def slow() -> str:
        await anyio.sleep(30)
        return "late"

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[call("slow", {})])
        part = last_request(messages).parts[0]
        assert isinstance(part, ToolReturnPart)
        return text(str(part.content))

    with anyio.fail_after(10):
        result = await Agent(model=FunctionModel(model), tools=[slow], tool_timeout=0.05).run("x")
    assert "timed out" in result.output


async def test_tool_middleware_wraps_every_call() -> None:
    seen: list[str] = []

    async def audit(ctx: RunContext[Any], tool_call: Any, call_next: Any) -> Any:
        seen.append(f"before {tool_call.tool_name}")
        args = dict(tool_call.args)
        args["city"] = args["city"].upper()
        result = await call_next(args)
        seen.append(f"after {result.content}")
        return result

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[call("get_weather", {"city": "oslo"})])
        return text("ok")

    result = await Agent(model=FunctionModel(model), tools=[get_weather], hooks=[audit]).run("x")
    assert seen == ["before get_weather", "after sunny in OSLO"]
    assert result.tool_calls[0].result == "sunny in OSLO"


async def test_guardrail_pre_hook_stops_the_run_with_a_typed_error() -> None:
    calls: list[Any] = []

    def no_secrets(ctx: RunContext[Any], prompt: Any) -> None:
        if "password" in str(prompt):
            raise GuardrailTripped("prompt contains a password", guardrail="pii")

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        calls.append(messages)
        return text("never")

    agent = Agent(model=FunctionModel(model), pre_hooks=[no_secrets])
    result = await agent.run("my password is hunter2")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and result.error.type == "GuardrailTripped"
    assert isinstance(result.exception, GuardrailTripped)
    assert calls == []
    assert (await agent.run("hello")).output == "never"


async def test_post_hook_sees_the_result() -> None:
    seen: list[Any] = []

    async def after(ctx: RunContext[Any], result: Any) -> None:
        seen.append(result.output)

    agent = Agent(model=TestModel(custom_output_text="answer"), post_hooks=[after])
    await agent.run("x")
    assert seen == ["answer"]


@dataclass
class Deps:
    name: str


async def test_hundreds_of_concurrent_runs_share_one_agent_without_leaks() -> None:
    def whoami(ctx: RunContext[Deps]) -> str:
        ctx.state["seen"] = ctx.deps.name
        return ctx.deps.name

    async def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        await anyio.lowlevel.checkpoint()
        if len(messages) == 1:
            return ModelResponse(parts=[call("whoami", {})])
        part = last_request(messages).parts[0]
        assert isinstance(part, ToolReturnPart)
        return text(f"I am {part.content}")

    agent = Agent(model=FunctionModel(model), tools=[whoami], instructions="User {user}")
    results: dict[int, Any] = {}

    async def one(i: int) -> None:
        results[i] = await agent.run(
            "who?", deps=Deps(f"user-{i}"), user_id=f"u{i}", state={"user": f"n{i}"}
        )

    async with anyio.create_task_group() as tg:
        for i in range(300):
            tg.start_soon(one, i)
    for i, result in results.items():
        assert result.output == f"I am user-{i}"
        assert result.user_id == f"u{i}"
        first = result.messages[0]
        assert isinstance(first, ModelRequest)
        assert first.parts[0].content == f"User n{i}"
    assert len({r.run_id for r in results.values()}) == 300


async def test_usage_limit_stops_before_the_next_request() -> None:
    requests: list[int] = []

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        requests.append(1)
        return ModelResponse(parts=[call("get_weather", {"city": "x"}, f"c{len(messages)}")])

    agent = Agent(
        model=FunctionModel(model), tools=[get_weather], usage_limits=UsageLimits(request_limit=3)
    )
    result = await agent.run("loop forever")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and result.error.type == "UsageLimitExceeded"
    assert result.error.details["limit"] == "request_limit"
    assert len(requests) == 3


async def test_tool_call_limit_stops_before_running_tools() -> None:
    ran: list[str] = []

    def work(n: int) -> int:
        ran.append(str(n))
        return n

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        return ModelResponse(
            parts=[call("work", {"n": i}, f"c{len(messages)}-{i}") for i in range(3)]
        )

    agent = Agent(
        model=FunctionModel(model), tools=[work], usage_limits=UsageLimits(tool_calls_limit=4)
    )
    result = await agent.run("x")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and result.error.details["limit"] == "tool_calls_limit"
    assert len(ran) == 3


async def test_token_limit() -> None:
    agent = Agent(
        model=TestModel(custom_output_text="many words " * 50),
        usage_limits=UsageLimits(output_tokens_limit=5),
    )
    result = await agent.run("x")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and result.error.details["limit"] == "output_tokens_limit"


async def test_forced_tool_choice_applies_to_the_first_request_only() -> None:
    choices: list[str] = []

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        choices.append(str(info.tool_choice))
        if len(messages) == 1:
            return ModelResponse(parts=[call("get_weather", {"city": "x"})])
        return text("ok")

    agent = Agent(model=FunctionModel(model), tools=[get_weather], tool_choice="required")
    await agent.run("x")
    assert choices == ["required", "auto"]


async def test_agent_as_a_tool_of_another_carries_parent_run_id() -> None:
    seen: list[str | None] = []

    def inner_model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        return text("inner answer")

    async def record(ctx: RunContext[Any], result: Any) -> None:
        seen.append(result.parent_run_id)

    inner = Agent(model=FunctionModel(inner_model), name="researcher", post_hooks=[record])
    outer = Agent(model=TestModel(), tools=[inner.as_tool()])
    result = await outer.run("delegate")
    assert result.tool_calls[0].tool_name == "researcher"
    assert result.tool_calls[0].result == "inner answer"
    assert seen == [result.run_id]


async def test_stream_yields_text_deltas_and_the_result() -> None:
    agent = Agent(model=TestModel(custom_output_text="one two three four"))
    events = await collect(agent.run_stream("x"))
    deltas = "".join(e.delta for e in events if isinstance(e, ev.TextDelta))
    assert deltas == "one two three four"
    assert len([e for e in events if isinstance(e, ev.TextDelta)]) > 1
    final = events[-1]
    assert isinstance(final, ev.RunCompleted)
    assert final.result.output == "one two three four"
