"""`MemoryToolset`: the conformance suite, scoping attacks, and a real `Agent` run."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from covey.conformance import ToolsetSuite
from covey.core import Agent
from covey.core.testing import AgentInfo, FunctionModel
from covey.db.memory import MemoryStore
from covey.db.sql import SqlStore
from covey.learn import MemoryToolset
from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.spec.store import Memory, Scope, Store

ALICE = Scope("acme", "alice")


def ctx(user: str | None = "alice", tenant: str | None = "acme") -> RunContext[Any]:
    return RunContext(run_id="run-1", user_id=user, tenant_id=tenant)


class TestMemoryToolsetConformance(ToolsetSuite):
    @pytest.fixture
    async def store(self) -> AsyncIterator[Store]:
        async with MemoryStore() as store:
            yield store

    @pytest.fixture
    def toolset(self, store: Store) -> MemoryToolset:
        return MemoryToolset(store)

    @pytest.fixture
    def run_context(self) -> RunContext[Any]:
        return ctx()

    @pytest.fixture
    async def toolset_calls(self, store: Store) -> Mapping[str, dict[str, Any]]:
        keep = await store.add_memory(ALICE, Memory(user_id="alice", memory="Likes tea"))
        drop = await store.add_memory(ALICE, Memory(user_id="alice", memory="Likes coffee"))
        return {
            "remember": {"memory": "The user is vegetarian", "topics": ["food"]},
            "update_memory": {"id": keep.id, "memory": "Likes green tea"},
            "forget": {"id": drop.id},
            "recall_memories": {"query": "tea"},
        }


async def test_the_tools_keep_the_run_users_memories() -> None:
    async with MemoryStore() as store:
        tools = MemoryToolset(store)
        saved = await tools.call_tool(
            "remember", {"memory": "The user is vegetarian", "topics": ["Food"]}, ctx()
        )
        assert not saved.is_error
        memory_id = saved.content["saved"]["id"]
        stored = await store.get_memory(ALICE, memory_id)
        assert stored is not None and stored.topics == ["food"]
        assert stored.metadata == {"run_id": "run-1", "history": ["run-1"], "source": "agent"}

        later = RunContext(run_id="run-2", user_id="alice", tenant_id="acme")
        updated = await tools.call_tool(
            "update_memory", {"id": memory_id, "memory": "The user is vegan"}, later
        )
        assert updated.content["updated"]["memory"] == "The user is vegan"
        stored = await store.get_memory(ALICE, memory_id)
        assert stored is not None and stored.metadata["history"] == ["run-1", "run-2"]
        assert stored.topics == ["food"]

        found = await tools.call_tool("recall_memories", {"query": "food"}, later)
        assert [m["id"] for m in found.content["memories"]] == [memory_id]

        gone = await tools.call_tool("forget", {"id": memory_id}, later)
        assert gone.content == {"forgotten": memory_id}
        assert await store.get_memory(ALICE, memory_id) is None


async def test_no_user_is_an_error_result_and_nothing_is_written() -> None:
    async with MemoryStore() as store:
        tools = MemoryToolset(store)
        for name, args in [
            ("remember", {"memory": "x"}),
            ("recall_memories", {"query": ""}),
            ("forget", {"id": "x"}),
            ("update_memory", {"id": "x", "memory": "y"}),
        ]:
            result = await tools.call_tool(name, args, ctx(user=None))
            assert result.is_error and "no user" in result.content
        assert (await store.list_memories(Scope("acme"))).items == []
        assert (await store.list_memories(Scope("default"))).items == []


async def test_another_users_or_tenants_memory_cannot_be_read_changed_or_forgotten() -> None:
    async with MemoryStore() as store:
        bobs = await store.add_memory(
            Scope("acme", "bob"), Memory(user_id="bob", memory="Bob's PIN hint")
        )
        globex = await store.add_memory(
            Scope("globex", "alice"), Memory(user_id="alice", memory="Globex Alice")
        )
        tools = MemoryToolset(store)
        for target in (bobs, globex):
            upd = await tools.call_tool(
                "update_memory", {"id": target.id, "memory": "owned"}, ctx()
            )
            assert upd.is_error and "No memory of this user" in upd.content
            gone = await tools.call_tool("forget", {"id": target.id}, ctx())
            assert gone.is_error
        found = await tools.call_tool("recall_memories", {"query": "PIN hint Globex"}, ctx())
        assert found.content == {"memories": []}
        assert await store.get_memory(Scope("acme", "bob"), bobs.id) == bobs
        assert await store.get_memory(Scope("globex", "alice"), globex.id) == globex
        # Malformed ids are an error result, not an exception.
        bad = await tools.call_tool("forget", {"id": "a\x00b"}, ctx())
        assert bad.is_error


async def test_limits_are_error_results_the_model_can_act_on() -> None:
    async with MemoryStore() as store:
        tools = MemoryToolset(store, max_memories_per_user=2)
        for text in ("one", "two"):
            assert not (await tools.call_tool("remember", {"memory": text}, ctx())).is_error
        full = await tools.call_tool("remember", {"memory": "three"}, ctx())
        assert full.is_error and "limit" in full.content
        long = await tools.call_tool("update_memory", {"id": "x", "memory": "y" * 5000}, ctx())
        assert long.is_error and "Invalid memory" in long.content
        empty = await tools.call_tool("remember", {"memory": "   "}, ctx())
        assert empty.is_error
    with pytest.raises(ConfigurationError):
        MemoryToolset(store, max_memories_per_user=0)


def returns(messages: list[ModelRequest | ModelResponse]) -> list[ToolReturnPart]:
    return [
        part
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, ToolReturnPart)
    ]


def agentic(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    """Run 1 remembers the diet; run 2 recalls it and answers with it."""
    done = returns(messages)
    asked = str(messages[-1].parts[-1].content) if not done else ""
    if not done and "vegetarian" in asked:
        call = ToolCallPart(
            tool_name="remember",
            args={"memory": "The user is vegetarian", "topics": ["food"]},
            tool_call_id="r1",
        )
        return ModelResponse(parts=[call])
    if not done:
        call = ToolCallPart(
            tool_name="recall_memories", args={"query": "food dinner"}, tool_call_id="q1"
        )
        return ModelResponse(parts=[call])
    last = done[-1]
    if last.is_error:
        return ModelResponse(parts=[TextPart(content=f"error: {last.content}")])
    if last.tool_name == "remember":
        return ModelResponse(parts=[TextPart(content="I'll remember that.")])
    found = [m["memory"] for m in last.content["memories"]]
    return ModelResponse(parts=[TextPart(content="You told me: " + "; ".join(found))])


async def test_an_agent_remembers_in_one_run_and_recalls_in_the_next(tmp_path: Any) -> None:
    async with SqlStore(f"sqlite:///{tmp_path}/covey.db") as store:
        agent = Agent(name="chef", model=FunctionModel(agentic), tools=[MemoryToolset(store)])
        first = await agent.run(
            "I'm vegetarian.", session_id="s1", tenant_id="acme", user_id="alice", store=store
        )
        assert first.output == "I'll remember that."
        memories = (await store.list_memories(ALICE)).items
        assert [(m.memory, m.metadata["run_id"]) for m in memories] == [
            ("The user is vegetarian", first.run_id)
        ]

        second = await agent.run(
            "What should I cook?", session_id="s2", tenant_id="acme", user_id="alice", store=store
        )
        assert second.output == "You told me: The user is vegetarian"

        # Bob, in the same tenant, gets nothing of Alice's.
        bob = await agent.run(
            "What should I cook?", session_id="s3", tenant_id="acme", user_id="bob", store=store
        )
        assert bob.output == "You told me: "

        # A run without a user is told so, and the run still completes.
        anonymous = await agent.run("What should I cook?", session_id="s4", store=store)
        assert anonymous.output is not None and anonymous.output.startswith("error: ")
        assert "no user" in anonymous.output
