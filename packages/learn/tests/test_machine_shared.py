"""The learning machine with its tenant-shared stores: entity memory extracted in the same one
request as the user's profile, learned knowledge kept by the agent's tools, both read by another
user of the tenant and by nobody in another tenant; `forget_user` keeps what is shared."""

from __future__ import annotations

from typing import Any

import pytest

from covey.core import Agent
from covey.core.testing import AgentInfo
from covey.learn import LearningMachine
from covey.spec import events as ev
from covey.spec.errors import ConfigurationError
from covey.spec.store import Scope, Store

from .machine_helpers import ChatModel, LearnModel


def _decide(text: str, info: AgentInfo) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    if "Acme renews" in text:
        answer["entity"] = [
            {
                "op": "add",
                "entity": "Acme Corp",
                "entity_type": "company",
                "fact": "Renews its contract every March",
            }
        ]
        answer["profile"] = {"role": "account manager"}
    return answer


async def test_entities_ride_the_same_extraction_and_reach_the_tenant_only(store: Store) -> None:
    learner = LearnModel(_decide)
    machine = LearningMachine(
        learner.model,
        store=store,
        user_memory=None,
        entity_memory="always",
        learned_knowledge="agentic",
        background=False,
    )
    chat = ChatModel()
    agent = Agent(model=chat.model, learning=machine)
    events = [
        e
        async for e in agent.run_stream(
            "I manage Acme. Acme renews every March.", user_id="ann", tenant_id="t1"
        )
    ]
    changes = {
        (e.change.kind, e.change.action) for e in events if isinstance(e, ev.LearningChanged)
    }
    assert changes == {("entity", "created"), ("profile", "created")}
    assert learner.calls == 1
    # The entity schema and the profile schema are fields of the one request.
    [output_tool] = learner.infos[0].output_tools
    assert {"entity", "profile"} <= set(output_tool.parameters_json_schema["properties"])

    await agent.run("When does Acme renew?", user_id="bob", tenant_id="t1")
    assert "Renews its contract every March" in chat.systems[-1]
    assert "account manager" not in chat.systems[-1]  # ann's profile stays ann's
    await agent.run("When does Acme renew?", user_id="bob", tenant_id="t2")
    assert "March" not in chat.systems[-1]


async def test_learned_knowledge_tools_and_forget_user(store: Store) -> None:
    machine = LearningMachine(
        LearnModel(lambda text, info: {}).model,
        store=store,
        user_profile=None,
        user_memory=None,
        entity_memory="agentic",
        learned_knowledge="agentic",
        background=False,
    )
    insight = "Users asking about refunds usually need the invoice number first"
    chat = ChatModel("save_insight", {"insight": insight, "topics": ["refunds"]})
    agent = Agent(model=chat.model, learning=machine)
    events = [e async for e in agent.run_stream("Refund please", user_id="ann", tenant_id="t1")]
    assert {"save_insight", "save_entity_fact"} <= chat.tool_names[0]
    [changed] = [e for e in events if isinstance(e, ev.LearningChanged)]
    assert changed.change.kind == "knowledge" and changed.change.content == insight
    ann = Scope("t1", "ann")
    assert [r.content for r in (await store.list_learnings(ann, "knowledge")).items] == [insight]

    await machine.forget_user(ann)
    assert (await store.list_learnings(ann, "knowledge")).items == []


async def test_a_machine_without_a_store_uses_each_runs_store(store: Store) -> None:
    learner = LearnModel(_decide)
    machine = LearningMachine(
        learner.model, user_memory=None, entity_memory="always", background=False
    )
    agent = Agent(model=ChatModel().model, learning=machine, store=store)
    await agent.run("Acme renews every March.", user_id="ann", tenant_id="t1")
    rows = (await store.list_learnings(Scope("t1"), "entities")).items
    assert [r.content for r in rows] == ["Renews its contract every March"]
    loose = Agent(model=ChatModel().model, learning=machine)
    events = [e async for e in loose.run_stream("Acme renews", user_id="ann", tenant_id="t1")]
    [failed] = [e for e in events if isinstance(e, ev.LearningFailed)]
    assert failed.error.startswith("NoStore")
    with pytest.raises(ConfigurationError, match="need store="):
        LearningMachine(learner.model, user_memory="agentic")
    with pytest.raises(ConfigurationError, match="has no store"):
        await machine.forget_user(Scope("t1", "ann"))
