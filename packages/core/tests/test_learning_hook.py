"""The learning hook of the run engine: learners' context in the system prompt, their tools,
their `learn` after completed runs (foreground before the final event, background after it,
appended to the stored log), and a learner never failing a run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from core_helpers import collect

from covey.core import Agent, RunStatus, Team, pending_learning, wait_for_learning
from covey.core.testing import AgentInfo, FunctionModel, TestModel
from covey.db.memory import MemoryStore
from covey.spec import ModelMessage, ModelResponse, RunResult, SystemPart, TextPart, Toolset
from covey.spec import events as ev
from covey.spec.errors import ConfigurationError
from covey.spec.function_toolset import FunctionToolset
from covey.spec.learning import LearningChange, LearningRun, LearnReport
from covey.spec.store import Scope


@dataclass
class NoteTaker:
    """A learner that remembers each completed run's input for its user."""

    name: str = "notes"
    background: bool = True
    fail: bool = False
    slow: anyio.Event | None = None
    notes: dict[tuple[str, str | None], list[str]] = field(default_factory=dict)
    seen: list[LearningRun] = field(default_factory=list[LearningRun])

    def toolsets(self) -> Sequence[Toolset]:
        return ()

    async def context(self, run: LearningRun, query: str) -> str:
        known = self.notes.get((run.scope.tenant_id, run.scope.user_id), [])
        return "Known about the user: " + "; ".join(known) if known else ""

    async def learn(self, run: LearningRun, result: RunResult[Any]) -> LearnReport:
        self.seen.append(run)
        if self.slow is not None:
            await self.slow.wait()
        if self.fail:
            raise RuntimeError("memory model down: key sk-secret-123")
        if run.scope.user_id is None:
            return LearnReport()
        text = str(result.messages[0].parts[-1].content)  # type: ignore[union-attr]
        self.notes.setdefault((run.scope.tenant_id, run.scope.user_id), []).append(text)
        change = LearningChange(kind="memory", action="created", content=text)
        return LearnReport(changes=[change])


def _echo_system(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    system = [p.content for m in messages for p in m.parts if isinstance(p, SystemPart)]
    return ModelResponse(parts=[TextPart(content=" | ".join(system) or "none")])


async def test_foreground_learning_events_come_before_the_final_event() -> None:
    notes = NoteTaker(background=False)
    agent = Agent(model=FunctionModel(_echo_system), learning=notes)
    events = await collect(agent.run_stream("I like tea", user_id="ann"))
    types = [e.type for e in events]
    assert types[-3:] == ["learning.changed", "learning.completed", "run.completed"]
    changed = next(e for e in events if isinstance(e, ev.LearningChanged))
    assert changed.learner == "notes" and changed.change.content == "I like tea"
    again = await agent.run("what do I like?", user_id="ann")
    assert again.output == "Known about the user: I like tea"
    other = await agent.run("what do I like?", user_id="bob")
    assert other.output == "none"


async def test_background_learning_does_not_hold_the_answer_and_is_stored() -> None:
    store = MemoryStore()
    gate = anyio.Event()
    notes = NoteTaker(slow=gate)
    agent = Agent(model=TestModel(custom_output_text="ok"), learning=notes, store=store)
    events = await collect(agent.run_stream("I like tea", user_id="ann", tenant_id="acme"))
    assert events[-1].type == "run.completed"
    assert not any(e.type.startswith("learning.") for e in events)
    assert pending_learning() == 1
    gate.set()
    assert await wait_for_learning() == 0
    log = await store.list_events(Scope("acme", "ann"), events[-1].run_id)
    assert [e.type for e in log[-3:]] == ["run.completed", "learning.changed", "learning.completed"]
    assert [e.seq for e in log] == list(range(1, len(log) + 1))
    assert notes.notes == {("acme", "ann"): ["I like tea"]}


async def test_a_failing_learner_never_fails_the_run_nor_leaks_its_error() -> None:
    store = MemoryStore()
    agent = Agent(model=TestModel(), learning=NoteTaker(fail=True, background=False), store=store)
    events = await collect(agent.run_stream("hi", user_id="ann"))
    assert events[-1].result.status is RunStatus.COMPLETED  # type: ignore[attr-defined]
    failed = next(e for e in events if isinstance(e, ev.LearningFailed))
    assert failed.error == "RuntimeError"
    assert "sk-secret" not in str([e.model_dump() for e in events])


async def test_failed_and_paused_runs_teach_nothing() -> None:
    notes = NoteTaker(background=False)

    def boom(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        raise RuntimeError("model down")

    agent = Agent(model=FunctionModel(boom), learning=notes, retry=None)
    result = await agent.run("hi", user_id="ann")
    assert result.status is RunStatus.FAILED
    assert notes.seen == []


async def test_waiting_cancels_learning_past_its_time_with_a_failed_event() -> None:
    store = MemoryStore()
    notes = NoteTaker(slow=anyio.Event())
    agent = Agent(model=TestModel(), learning=notes, store=store)
    result = await agent.run("hi", user_id="ann")
    assert await wait_for_learning(within=0.05) == 1
    log = await store.list_events(Scope(user_id="ann"), result.run_id)
    assert log[-1].type == "learning.failed" and log[-1].error == "Cancelled"  # type: ignore[attr-defined]


def test_run_sync_waits_for_background_learning() -> None:
    notes = NoteTaker()
    agent = Agent(model=TestModel(), learning=notes)
    agent.run_sync("remember this", user_id="ann")
    assert notes.notes == {("default", "ann"): ["remember this"]}


async def test_learner_tools_are_offered_to_the_model() -> None:
    def remember(fact: str) -> str:
        """Remember a fact."""
        return "ok"

    @dataclass
    class Agentic(NoteTaker):
        def toolsets(self) -> Sequence[Toolset]:
            return (FunctionToolset([remember], id="memory"),)

    agent = Agent(model=TestModel(), learning=Agentic(background=False))
    result = await agent.run("hi", user_id="ann")
    assert [c.tool_name for c in result.tool_calls] == ["remember"]


async def test_teams_learn_from_their_runs() -> None:
    notes = NoteTaker(background=False)
    member = Agent(name="writer", model=TestModel(custom_output_text="draft"))
    team = Team(name="desk", members=[member], model=FunctionModel(_echo_system), learning=notes)
    await team.run("I like tea", user_id="ann")
    result = await team.run("again", user_id="ann")
    assert "Known about the user: I like tea" in str(result.output)


def test_learning_takes_only_learners_with_unique_names() -> None:
    with pytest.raises(ConfigurationError, match="learning= takes learners"):
        Agent(model=TestModel(), learning=object()).plan()  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="Two learners are named 'notes'"):
        Agent(model=TestModel(), learning=[NoteTaker(), NoteTaker()]).plan()
