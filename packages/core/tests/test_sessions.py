"""History and state through a store; token budgets; repaired history."""

from __future__ import annotations

from typing import Any

from covey.core import Agent, RunStatus
from covey.core.history import repair_history, trim_to_budget
from covey.core.testing import AgentInfo, FunctionModel
from covey.spec import (
    ModelRequest,
    ModelResponse,
    RunContext,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPart,
)
from covey.spec.store import Scope
from covey.testing import InMemoryStore


def echo_history(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    users = [
        p.content
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, UserPart)
    ]
    return ModelResponse(parts=[TextPart(content=" | ".join(str(u) for u in users))])


async def test_history_and_state_persist_across_runs_of_a_session() -> None:
    store = InMemoryStore()

    agent = Agent(model=FunctionModel(echo_history), store=store)
    first = await agent.run("first", session_id="s1", user_id="u1", state={"theme": "dark"})
    second = await agent.run("second", session_id="s1", user_id="u1")
    assert first.output == "first"
    assert second.output == "first | second"
    assert [type(m).__name__ for m in second.all_messages()][:2] == [
        "ModelRequest",
        "ModelResponse",
    ]
    session = await store.get_session(Scope(user_id="u1"), "s1")
    assert session is not None and session.state["theme"] == "dark"
    # Another user's "s1" is another session: no history or state of u1's reaches it.
    other = await agent.run("alone", session_id="s1", user_id="u2")
    assert other.status is RunStatus.COMPLETED
    assert other.output == "alone"
    kept = await store.get_session(Scope(user_id="u1"), "s1")
    assert kept is not None and kept.user_id == "u1" and kept.state == {"theme": "dark"}


async def test_history_is_limited_by_a_token_budget() -> None:
    store = InMemoryStore()
    seen: list[str] = []

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        seen[:] = [echo_history(messages, info).text()]
        return ModelResponse(parts=[TextPart(content="ok")])

    agent = Agent(model=FunctionModel(model), store=store, history_tokens=100)
    for i in range(10):
        await agent.run(f"message number {i} " + "padding " * 10, session_id="s")
    await agent.run("last", session_id="s")
    assert "message number 9" in seen[0]
    assert "message number 0" not in seen[0]


def test_trim_keeps_whole_turns() -> None:
    turns: list[ModelRequest | ModelResponse] = []
    for i in range(5):
        turns.append(ModelRequest(parts=[UserPart(content=f"q{i} " * 20)]))
        turns.append(ModelResponse(parts=[TextPart(content=f"a{i} " * 20)]))
    kept = trim_to_budget(turns, 70)
    assert isinstance(kept[0], ModelRequest)
    assert len(kept) % 2 == 0 and 0 < len(kept) < len(turns)


def test_orphaned_tool_calls_and_results_are_repaired() -> None:
    messages: list[ModelRequest | ModelResponse] = [
        ModelResponse(parts=[TextPart(content="stray response first")]),
        ModelRequest(parts=[UserPart(content="q")]),
        ModelResponse(
            parts=[
                TextPart(content="calling"),
                ToolCallPart(tool_name="a", args={}, tool_call_id="answered"),
                ToolCallPart(tool_name="b", args={}, tool_call_id="never-answered"),
            ]
        ),
        ModelRequest(
            parts=[
                ToolReturnPart(tool_name="a", content=1, tool_call_id="answered"),
                ToolReturnPart(tool_name="z", content=2, tool_call_id="orphan"),
            ]
        ),
    ]
    repaired = repair_history(messages)
    assert isinstance(repaired[0], ModelRequest)
    calls = [p.tool_call_id for m in repaired for p in m.parts if isinstance(p, ToolCallPart)]
    returns = [p.tool_call_id for m in repaired for p in m.parts if isinstance(p, ToolReturnPart)]
    assert calls == ["answered"] and returns == ["answered"]


async def test_runs_and_events_are_stored() -> None:
    store = InMemoryStore()
    agent = Agent(model=FunctionModel(echo_history), store=store, name="echo")
    result = await agent.run("hi", session_id="s", user_id="u")
    scope = Scope(user_id="u")
    run = await store.get_run(scope, result.run_id)
    assert run is not None and run.status is RunStatus.COMPLETED and run.output == "hi"
    events = await store.list_events(scope, result.run_id)
    assert events[0].type == "run.started"
    assert events[-1].type == "run.completed"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))


async def test_events_in_flight_are_stored_before_the_wait() -> None:
    """Another process following the run sees a model request or a tool call while it runs."""
    store = InMemoryStore()
    scope = Scope(user_id="u")
    seen: dict[str, list[str]] = {}

    async def logged(run_id: str) -> list[str]:
        return [e.type for e in await store.list_events(scope, run_id)]

    async def answer(
        messages: list[ModelRequest | ModelResponse], info: AgentInfo
    ) -> ModelResponse:
        run_id = messages[0].run_id
        assert run_id is not None
        seen[f"request {len(messages)}"] = await logged(run_id)
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart(tool_name="look", args={}, tool_call_id="c")])
        return ModelResponse(parts=[TextPart(content="done")])

    async def look(ctx: RunContext[Any]) -> str:
        """Look around."""
        seen["tool"] = await logged(ctx.run_id)
        return "nothing"

    agent = Agent(model=FunctionModel(answer), tools=[look], store=store)
    result = await agent.run("hi", user_id="u")
    assert result.status is RunStatus.COMPLETED
    assert seen == {
        "request 1": ["run.started", "model_request.started"],
        "tool": [
            "run.started",
            "model_request.started",
            "model_request.completed",
            "tool_call.started",
        ],
        "request 3": [
            "run.started",
            "model_request.started",
            "model_request.completed",
            "tool_call.started",
            "tool_call.completed",
            "model_request.started",
        ],
    }


def test_media_in_a_tool_result_counts_as_media_not_as_its_base64() -> None:
    """Fails if a screenshot returned by a tool is budgeted as its base64 text (which the
    adapters never send): one image would then push every earlier turn out of the history."""
    import base64

    from covey.core.history import estimate_tokens
    from covey.spec import ImageContent, ModelRequest, TextContent, ToolReturnPart

    png = b"\x89PNG" + bytes(200_000)
    screenshot = [
        TextContent(text="the page"),
        ImageContent(data=png, media_type="image/png").model_dump(mode="json"),
    ]
    part = ToolReturnPart(tool_name="shot", tool_call_id="s", content=screenshot)
    tokens = estimate_tokens(ModelRequest(parts=[part]))
    assert len(base64.b64encode(png)) // 4 > 60_000  # what counting the base64 would give
    assert 200 < tokens < 400  # the placeholder text and one media item
    plain = ToolReturnPart(tool_name="t", tool_call_id="p", content={"rows": [1, 2, 3]})
    assert estimate_tokens(ModelRequest(parts=[plain])) == 4 + len(plain.content_as_text()) // 4
