"""One set of run options for every entry point: each accepts each, and typos are refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from core_helpers import text

from covey.core import Agent, RunResult, RunStatus
from covey.core.run.options import RunKwargs
from covey.core.testing import AgentInfo, FunctionModel
from covey.spec import ModelRequest, ModelResponse, ModelSettings, RunContext, UserPart
from covey.spec.store import Scope
from covey.testing import InMemoryStore

Entry = Callable[[Agent[Any, Any], RunKwargs[Any]], Awaitable[RunResult[Any]]]


async def via_run(agent: Agent[Any, Any], options: RunKwargs[Any]) -> RunResult[Any]:
    return await agent.run("now", **options)


async def via_run_stream(agent: Agent[Any, Any], options: RunKwargs[Any]) -> RunResult[Any]:
    last: Any = None
    async for event in agent.run_stream("now", **options):
        last = event
    return last.result


async def via_iter(agent: Agent[Any, Any], options: RunKwargs[Any]) -> RunResult[Any]:
    async with agent.iter("now", **options) as run:
        async for _ in run:
            pass
    assert run.result is not None
    return run.result


async def via_run_sync(agent: Agent[Any, Any], options: RunKwargs[Any]) -> RunResult[Any]:
    return await anyio.to_thread.run_sync(lambda: agent.run_sync("now", **options))


ENTRIES: dict[str, Entry] = {
    "run": via_run,
    "run_stream": via_run_stream,
    "iter": via_iter,
    "run_sync": via_run_sync,
}


@pytest.mark.parametrize("entry", list(ENTRIES))
async def test_every_entry_point_accepts_every_option(entry: str) -> None:
    seen: dict[str, Any] = {}

    def answer(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        seen["prompts"] = [
            p.content
            for m in messages
            if isinstance(m, ModelRequest)
            for p in m.parts
            if isinstance(p, UserPart)
        ]
        seen["settings"] = info.model_settings
        return text("answered")

    def observe(ctx: RunContext[Any], value: Any) -> None:
        seen["deps"] = ctx.deps
        seen["state"] = dict(ctx.state)

    store = InMemoryStore()
    agent = Agent(model=FunctionModel(lambda m, i: text("wrong model")), pre_hooks=[observe])
    options: RunKwargs[Any] = {
        "session_id": "s",
        "user_id": "u",
        "tenant_id": "acme",
        "deps": {"db": "handle"},
        "state": {"lang": "fr"},
        "message_history": [ModelRequest.user("before"), text("earlier answer")],
        "model": FunctionModel(answer, model_name="override"),
        "model_settings": ModelSettings(temperature=0.5),
        "store": store,
        "run_id": f"run-{entry}",
        "parent_run_id": "parent",
        "metadata": {"source": entry},
        "stream_model": entry == "run_stream",
    }
    assert set(options) == set(RunKwargs.__annotations__), "every option is exercised"
    result = await ENTRIES[entry](agent, options)
    assert result.status is RunStatus.COMPLETED and result.output == "answered"
    assert (result.run_id, result.parent_run_id) == (f"run-{entry}", "parent")
    assert (result.session_id, result.user_id) == ("s", "u")
    assert seen["prompts"] == ["before", "now"]
    assert seen["settings"] == ModelSettings(temperature=0.5)
    assert seen["deps"] == {"db": "handle"}
    assert seen["state"] == {"lang": "fr"}
    scope = Scope(tenant_id="acme", user_id="u")
    stored = await store.get_run(scope, f"run-{entry}")
    assert stored is not None and stored.metadata["source"] == entry
    assert stored.parent_run_id == "parent"
    session = await store.get_session(scope, "s")
    assert session is not None and session.state == {"lang": "fr"}


@pytest.mark.parametrize("entry", list(ENTRIES))
@pytest.mark.parametrize("stream_model", [None, True, False])
async def test_the_model_streams_for_run_stream_or_when_asked(
    entry: str, stream_model: bool | None
) -> None:
    asked: list[str] = []

    def whole(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        asked.append("whole")
        return text("answered")

    async def streamed(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> Any:
        asked.append("streamed")
        yield "answered"

    agent = Agent(model=FunctionModel(whole, stream_function=streamed))
    options: RunKwargs[Any] = {} if stream_model is None else {"stream_model": stream_model}
    result = await ENTRIES[entry](agent, options)
    assert result.status is RunStatus.COMPLETED and result.output == "answered"
    wanted = entry == "run_stream" if stream_model is None else stream_model
    assert asked == ["streamed" if wanted else "whole"]


async def test_run_stream_without_model_streaming_has_the_same_events_but_deltas() -> None:
    agent = Agent(model=FunctionModel(lambda m, i: text("hello world")))
    streamed = [e.type async for e in agent.run_stream("hi")]
    whole = [e.type async for e in agent.run_stream("hi", stream_model=False)]
    assert "text.delta" in streamed
    assert whole == [t for t in streamed if t != "text.delta"]


@pytest.mark.parametrize("entry", list(ENTRIES))
async def test_an_unknown_option_is_a_clear_error(entry: str) -> None:
    agent = Agent(model=FunctionModel(lambda m, i: text("x")))
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) 'sesion_id'") as raised:
        await ENTRIES[entry](agent, {"sesion_id": "s"})  # type: ignore[typeddict-unknown-key]
    assert "session_id" in str(raised.value)
