"""`Agent(learning=MemoryManager(...))`: memories recalled into the system prompt, updated
after each completed run with a user, each change a `learning.changed` event of its run."""

from __future__ import annotations

from typing import Any

import pytest

from covey.core import Agent, RunStatus, wait_for_learning
from covey.core.testing import AgentInfo, FunctionModel
from covey.learn import MemoryManager
from covey.spec import ModelRequest, ModelResponse, SystemPart, TextPart
from covey.spec import events as ev
from covey.spec.store import Scope, Store

from .conftest import OpsModel


def _system(messages: list[ModelRequest | ModelResponse]) -> str:
    return "\n".join(str(p.content) for m in messages for p in m.parts if isinstance(p, SystemPart))


def _chat_model(seen: list[str]) -> FunctionModel:
    def answer(messages: list[Any], info: AgentInfo) -> ModelResponse:
        seen.append(_system(messages))
        return ModelResponse(parts=[TextPart(content="Noted.")])

    return FunctionModel(answer)


def _ops(text: str, info: AgentInfo) -> list[dict[str, Any]]:
    if "I live in Lyon" in text:
        return [{"op": "create", "memory": "The user lives in Lyon.", "topics": ["home"]}]
    return [{"op": "none"}]


async def test_a_memory_learned_in_one_session_is_recalled_in_the_next(store: Store) -> None:
    memory_model = OpsModel(_ops)
    manager = MemoryManager(memory_model.model, store=store, background=False)
    seen: list[str] = []
    agent = Agent(model=_chat_model(seen), learning=manager, store=store)
    events = [e async for e in agent.run_stream("I live in Lyon", user_id="ann", session_id="s1")]
    changed = [e for e in events if isinstance(e, ev.LearningChanged)]
    assert [(c.change.action, c.change.content) for c in changed] == [
        ("created", "The user lives in Lyon.")
    ]
    assert events[-1].type == "run.completed"
    await agent.run("Where should I eat?", user_id="ann", session_id="s2")
    assert "The user lives in Lyon." in seen[-1]
    await agent.run("Where should I eat?", user_id="bob", session_id="s3")
    assert "Lyon" not in seen[-1]
    [stored] = (await store.list_memories(Scope(user_id="ann"))).items
    assert stored.metadata["run_id"] == changed[0].run_id


async def test_background_memory_lands_after_the_answer(store: Store) -> None:
    memory_model = OpsModel(_ops)
    agent = Agent(
        model=_chat_model([]),
        learning=MemoryManager(memory_model.model, store=store),
        store=store,
    )
    result = await agent.run("I live in Lyon", user_id="ann")
    assert result.status is RunStatus.COMPLETED
    assert await wait_for_learning() == 0
    log = await store.list_events(Scope(user_id="ann"), result.run_id)
    assert [e.type for e in log[-3:]] == ["run.completed", "learning.changed", "learning.completed"]
    assert memory_model.calls == 1


async def test_runs_without_a_user_cost_no_memory_call(store: Store) -> None:
    memory_model = OpsModel(_ops)
    manager = MemoryManager(memory_model.model, store=store, background=False)
    agent = Agent(model=_chat_model([]), learning=manager)
    result = await agent.run("I live in Lyon")
    assert result.status is RunStatus.COMPLETED
    assert memory_model.calls == 0


async def test_a_failing_memory_model_does_not_fail_the_run(store: Store) -> None:
    def down(messages: list[Any], info: AgentInfo) -> ModelResponse:
        raise ConnectionError("memory model down")

    manager = MemoryManager(FunctionModel(down), store=store, background=False)
    agent = Agent(model=_chat_model([]), learning=manager, store=store)
    events = [e async for e in agent.run_stream("I live in Lyon", user_id="ann")]
    assert events[-1].type == "run.completed"
    failed = [e for e in events if isinstance(e, ev.LearningFailed)]
    assert [f.error for f in failed] == ["ConnectionError"]


async def test_agentic_mode_gives_the_agent_memory_tools(store: Store) -> None:
    manager = MemoryManager(OpsModel(_ops).model, store=store, mode="agentic")
    agent = Agent(model=_chat_model([]), learning=manager)
    names = {t.name for ts in agent.toolsets() for t in await ts.list_tools(None)}  # type: ignore[arg-type]
    assert {"remember", "forget"} <= names


async def test_a_manager_without_a_store_uses_each_runs_store(store: Store) -> None:
    memory_model = OpsModel(_ops)
    manager = MemoryManager(memory_model.model, background=False)
    seen: list[str] = []
    agent = Agent(model=_chat_model(seen), learning=manager)
    await agent.run("I live in Lyon", user_id="ann", store=store)
    [stored] = (await store.list_memories(Scope(user_id="ann"))).items
    assert stored.memory == "The user lives in Lyon."
    await agent.run("Where should I eat?", user_id="ann", store=store)
    assert "The user lives in Lyon." in seen[-1]
    # A run without any store learns nothing and says why; the run itself completes.
    events = [e async for e in agent.run_stream("I live in Lyon", user_id="ann")]
    assert events[-1].type == "run.completed"
    [failed] = [e for e in events if isinstance(e, ev.LearningFailed)]
    assert failed.error.startswith("NoStore")
    assert memory_model.calls == 2


def test_a_manager_without_a_store_refuses_direct_use_and_agentic_mode() -> None:
    from covey.spec.errors import ConfigurationError

    manager = MemoryManager(OpsModel(_ops).model)
    with pytest.raises(ConfigurationError, match="no store"):
        _ = manager.store
    with pytest.raises(ConfigurationError, match="needs store="):
        MemoryManager(OpsModel(_ops).model, mode="agentic")
