"""`LearningMachine` in `agentic` and `propose` modes: the stores' tools in one `learning`
toolset, each change a `learning.changed` event of its run; in propose mode a write waits for a
person (the run pauses; approved → kept, rejected → nothing kept)."""

from __future__ import annotations

from typing import Any

import pytest

from covey.conformance import ToolsetSuite
from covey.core import Agent, RunStatus, wait_for_learning
from covey.learn import DecisionLog, LearningMachine, LearningToolset, UserProfile
from covey.spec import RunContext
from covey.spec import events as ev
from covey.spec.store import Scope, Store
from covey.testing import InMemoryStore

from .machine_helpers import ChatModel, LearnModel

ANN = Scope("acme", "ann")


def idle() -> LearnModel:
    return LearnModel(lambda text, info: {})


def tools_of(learning: LearningMachine) -> LearningToolset:
    [toolset] = learning.toolsets()
    assert isinstance(toolset, LearningToolset)
    return toolset


async def names(learning: LearningMachine) -> set[str]:
    ctx = RunContext[Any](run_id="r", user_id="ann", tenant_id="acme")
    return {t.name for t in await tools_of(learning).list_tools(ctx)}


async def test_agentic_stores_share_one_learning_toolset(store: Store) -> None:
    learning = LearningMachine(
        idle().model,
        store=store,
        user_profile="agentic",
        user_memory="agentic",
        session_context="agentic",
        decision_log="agentic",
    )
    assert tools_of(learning).id == "learning"
    assert await names(learning) == {
        "get_profile",
        "update_profile",
        "remember",
        "update_memory",
        "forget",
        "recall_memories",
        "get_session_context",
        "update_session_context",
        "log_decision",
        "recent_decisions",
    }
    always = LearningMachine(idle().model, store=store)
    assert always.toolsets() == ()


@pytest.mark.parametrize(
    ("options", "tool", "args", "kind", "content"),
    [
        (
            {"user_profile": "agentic"},
            "update_profile",
            {"field": "city", "value": "Lyon"},
            "profile",
            "city: Lyon",
        ),
        (
            {"user_memory": "agentic"},
            "remember",
            {"memory": "The user likes tea."},
            "memory",
            "The user likes tea.",
        ),
        (
            {"session_context": "agentic"},
            "update_session_context",
            {"goal": "Plan a trip"},
            "session_context",
            "Goal: Plan a trip",
        ),
        (
            {"decision_log": "agentic"},
            "log_decision",
            {"decision": "Use the train", "reason": "Cheaper"},
            "decision",
            "Decided: Use the train Why: Cheaper",
        ),
    ],
)
async def test_each_store_in_agentic_mode(
    store: Store, options: dict[str, Any], tool: str, args: dict[str, Any], kind: str, content: str
) -> None:
    values: dict[str, Any] = {"user_profile": None, "user_memory": None, **options}
    extractor = idle()
    learning = LearningMachine(extractor.model, store=store, background=False, **values)
    chat = ChatModel(tool, args)
    agent = Agent(model=chat.model, learning=learning, store=store)
    events = [
        e async for e in agent.run_stream("hi", user_id="ann", tenant_id="acme", session_id="s1")
    ]
    assert events[-1].type == "run.completed"
    assert extractor.calls == 0  # no always store: no extraction
    [changed] = [e for e in events if isinstance(e, ev.LearningChanged)]
    assert changed.change.kind == kind and changed.change.content == content
    assert changed.run_id == events[-1].run_id and changed.change.user_id == "ann"
    # What the tool saved is in the next run's system prompt.
    await agent.run("again", user_id="ann", tenant_id="acme", session_id="s1")
    assert content.split(": ")[-1] in chat.systems[-1]


async def test_agentic_tools_refuse_runs_without_a_user_and_secrets(store: Store) -> None:
    learning = LearningMachine(idle().model, store=store, user_profile="agentic", user_memory=None)
    toolset = tools_of(learning)
    anonymous = RunContext[Any](run_id="r", tenant_id="acme")
    result = await toolset.call_tool("update_profile", {"field": "city", "value": "x"}, anonymous)
    assert result.is_error and "no user" in str(result.content)
    ann = RunContext[Any](run_id="r", user_id="ann", tenant_id="acme")
    secret = {"field": "note", "value": "my password is hunter2!"}
    result = await toolset.call_tool("update_profile", secret, ann)
    assert result.is_error and "secret" in str(result.content)
    assert await store.get_user_profile(ANN, "ann") is None


async def test_a_schema_profile_tool_checks_the_field(store: Store) -> None:
    from pydantic import BaseModel

    class Trip(BaseModel):
        budget_eur: int | None = None

    learning = LearningMachine(
        idle().model,
        store=store,
        user_profile=UserProfile("agentic", schema=Trip),
        user_memory=None,
    )
    toolset = tools_of(learning)
    ann = RunContext[Any](run_id="r", user_id="ann", tenant_id="acme")
    unknown = await toolset.call_tool("update_profile", {"field": "city", "value": "x"}, ann)
    assert unknown.is_error and "budget_eur" in str(unknown.content)
    bad = await toolset.call_tool("update_profile", {"field": "budget_eur", "value": "lots"}, ann)
    assert bad.is_error
    good = await toolset.call_tool("update_profile", {"field": "budget_eur", "value": "900"}, ann)
    assert not good.is_error and good.content == {"profile": {"budget_eur": 900}}


# --- propose mode ----------------------------------------------------------------------------


def proposing(store: Store, **options: Any) -> tuple[Agent, ChatModel]:
    learning = LearningMachine(
        idle().model, store=store, user_profile="propose", user_memory=None, **options
    )
    chat = ChatModel("update_profile", {"field": "city", "value": "Lyon"})
    return Agent(model=chat.model, learning=learning, store=store, name="assistant"), chat


async def test_a_proposal_pauses_the_run_and_nothing_is_saved(store: Store) -> None:
    agent, _ = proposing(store)
    result = await agent.run("I moved to Lyon", user_id="ann", tenant_id="acme")
    assert result.status is RunStatus.PAUSED
    [requirement] = result.requirements
    assert requirement.kind == "approval" and requirement.tool_name == "update_profile"
    assert requirement.description == "Save to the user's profile: city = 'Lyon'"
    assert await store.get_user_profile(ANN, "ann") is None


async def test_an_approved_proposal_is_saved_and_reported(store: Store) -> None:
    agent, _ = proposing(store)
    paused = await agent.run("I moved to Lyon", user_id="ann", tenant_id="acme")
    [requirement] = paused.requirements
    events = [
        e
        async for e in agent.resume_stream(
            paused.run_id,
            approvals={requirement.tool_call_id: True},
            user_id="ann",
            tenant_id="acme",
        )
    ]
    assert events[-1].type == "run.completed"
    assert await wait_for_learning() == 0
    profile = await store.get_user_profile(ANN, "ann")
    assert profile is not None and profile.data == {"city": "Lyon"}
    log = await store.list_events(ANN, paused.run_id)
    changed = [e for e in log if isinstance(e, ev.LearningChanged)]
    assert [(c.change.kind, c.change.content) for c in changed] == [("profile", "city: Lyon")]


async def test_a_rejected_proposal_is_not_saved(store: Store) -> None:
    agent, _ = proposing(store)
    paused = await agent.run("I moved to Lyon", user_id="ann", tenant_id="acme")
    [requirement] = paused.requirements
    resumed = await agent.resume(
        paused.run_id, approvals={requirement.tool_call_id: False}, user_id="ann", tenant_id="acme"
    )
    assert resumed.status is RunStatus.COMPLETED
    assert await wait_for_learning() == 0
    assert await store.get_user_profile(ANN, "ann") is None
    log = await store.list_events(ANN, paused.run_id)
    assert not [e for e in log if isinstance(e, ev.LearningChanged)]


async def test_reading_tools_of_a_propose_store_need_no_approval(store: Store) -> None:
    learning = LearningMachine(
        idle().model, store=store, user_profile="propose", decision_log=DecisionLog("propose")
    )
    toolset = tools_of(learning)
    ann = RunContext[Any](run_id="r", user_id="ann", tenant_id="acme")
    assert not (await toolset.call_tool("get_profile", {}, ann)).is_error
    assert not (await toolset.call_tool("recent_decisions", {}, ann)).is_error
    from covey.spec.errors import ApprovalRequired

    with pytest.raises(ApprovalRequired, match="Log the decision 'x'"):
        await toolset.call_tool("log_decision", {"decision": "x", "reason": "y"}, ann)
    assert (await store.list_learnings(ANN, "decisions")).items == []


class TestLearningToolsetConformance(ToolsetSuite):
    @pytest.fixture
    def toolset(self) -> LearningToolset:
        learning = LearningMachine(
            idle().model,
            store=InMemoryStore(),
            user_profile="agentic",
            user_memory="agentic",
            session_context="agentic",
            decision_log="agentic",
        )
        return tools_of(learning)

    @pytest.fixture
    def run_context(self) -> RunContext[Any]:
        return RunContext[Any](run_id="r", user_id="ann", tenant_id="acme", session_id="s1")

    @pytest.fixture
    def toolset_calls(self) -> dict[str, dict[str, Any]]:
        return {
            "update_profile": {"field": "city", "value": "Lyon"},
            "remember": {"memory": "The user likes tea."},
            "log_decision": {"decision": "Use the train", "reason": "Cheaper"},
            "update_session_context": {"goal": "Plan a trip"},
        }


async def test_a_proposal_holding_a_credential_is_refused_not_shown_to_a_person(
    store: Store,
) -> None:
    learning = LearningMachine(idle().model, store=store, user_profile="propose", user_memory=None)
    leak = {"field": "note", "value": "api key: sk-live-abcdefghijklmnop1234"}
    agent = Agent(model=ChatModel("update_profile", leak).model, learning=learning, store=store)
    result = await agent.run("remember my key", user_id="ann", tenant_id="acme")
    assert result.status is RunStatus.COMPLETED and result.requirements == []
    assert "secret" in str(result.output)
    assert await store.get_user_profile(ANN, "ann") is None
    log = await store.list_events(ANN, result.run_id)
    assert "sk-live-abcdefghijklmnop1234" not in "".join(
        e.model_dump_json() for e in log if e.type.startswith("learning")
    )
