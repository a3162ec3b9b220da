"""`Workflow(learning=...)`: learners read each completed workflow run as its input and final
output, with the engine's rules — foreground before the final event, background after it and
appended to the stored log, nothing for a run that did not complete, never failing the run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from core_helpers import collect

from covey.core import Agent, RunStatus, Step, StepInput, Workflow, wait_for_learning
from covey.core.testing import TestModel
from covey.db.memory import MemoryStore
from covey.spec import ModelRequest, ModelResponse, RunResult, TextPart, Toolset, UserPart
from covey.spec.errors import ConfigurationError
from covey.spec.learning import LearningChange, LearningRun, LearnReport
from covey.spec.store import Scope


@dataclass
class Reader:
    """A learner keeping what each run it sees asked and answered."""

    name: str = "reader"
    background: bool = False
    fail: bool = False
    runs: list[LearningRun] = field(default_factory=list[LearningRun])
    exchanges: list[tuple[str, str]] = field(default_factory=list[tuple[str, str]])
    contexts: int = 0

    def toolsets(self) -> Sequence[Toolset]:
        return ()

    async def context(self, run: LearningRun, query: str) -> str:
        self.contexts += 1
        return "never shown"

    async def learn(self, run: LearningRun, result: RunResult[Any]) -> LearnReport:
        if self.fail:
            raise RuntimeError("learner down")
        self.runs.append(run)
        asked = [
            str(p.content)
            for m in result.messages
            if isinstance(m, ModelRequest)
            for p in m.parts
            if isinstance(p, UserPart)
        ]
        answered = [
            p.content
            for m in result.messages
            if isinstance(m, ModelResponse)
            for p in m.parts
            if isinstance(p, TextPart)
        ]
        self.exchanges.append((asked[0], answered[-1]))
        change = LearningChange(kind="note", action="created", content=answered[-1])
        return LearnReport(changes=[change])


def shout(step: StepInput[Any]) -> str:
    return f"{step.input}!".upper()


def flow(learning: Any, *, steps: Sequence[Any] = (shout,)) -> Workflow:
    return Workflow(name="shouter", steps=list(steps), learning=learning)


async def test_foreground_learners_read_the_run_before_its_final_event() -> None:
    reader = Reader()
    store = MemoryStore()
    events = await collect(flow(reader).run_stream("hi", user_id="ann", store=store))
    assert [e.type for e in events][-3:] == [
        "learning.changed",
        "learning.completed",
        "run.completed",
    ]
    assert reader.exchanges == [("hi", "HI!")]
    [run] = reader.runs
    assert (run.scope, run.agent_name, run.run_id) == (
        Scope(user_id="ann"),
        "shouter",
        events[-1].run_id,
    )
    assert run.store is store
    assert reader.contexts == 0  # a workflow has no system prompt to put context into
    log = await store.list_events(Scope(user_id="ann"), events[-1].run_id)
    assert [e.type for e in log][-3:] == ["learning.changed", "learning.completed", "run.completed"]
    assert [e.seq for e in log] == list(range(1, len(log) + 1))


async def test_background_learning_is_appended_after_the_final_event() -> None:
    reader = Reader(background=True)
    store = MemoryStore()
    result = await flow(reader).run({"city": "Lyon"}, user_id="ann", store=store)
    assert result.status is RunStatus.COMPLETED
    assert await wait_for_learning() == 0
    assert reader.exchanges == [('{"city": "Lyon"}', "{'CITY': 'LYON'}!".upper())]
    log = await store.list_events(Scope(user_id="ann"), result.run_id)
    assert [e.type for e in log][-3:] == ["run.completed", "learning.changed", "learning.completed"]
    assert [e.seq for e in log] == list(range(1, len(log) + 1))


async def test_a_structured_output_is_shown_as_json() -> None:
    reader = Reader()

    def facts(step: StepInput[Any]) -> dict[str, Any]:
        return {"city": "Lyon", "n": 2}

    await flow(reader, steps=[facts]).run("where?")
    assert reader.exchanges == [("where?", '{"city": "Lyon", "n": 2}')]


async def test_an_agent_step_learns_with_its_own_learner_and_the_workflow_with_its() -> None:
    own = Reader(name="agent-notes")
    outer = Reader()
    agent = Agent(name="writer", model=TestModel(custom_output_text="draft"), learning=own)
    await flow(outer, steps=[Step(agent, name="write")]).run("topic", user_id="ann")
    assert own.exchanges[0][1] == "draft"
    assert outer.exchanges == [("topic", "draft")]
    assert own.runs[0].parent_run_id == outer.runs[0].run_id


async def test_failed_runs_are_not_learned_from_and_a_failing_learner_fails_nothing() -> None:
    reader = Reader()

    def boom(step: StepInput[Any]) -> str:
        raise ValueError("step broke")

    failed = await flow(reader, steps=[boom]).run("x")
    assert failed.status is RunStatus.FAILED
    assert reader.runs == []
    events = await collect(flow(Reader(fail=True)).run_stream("x"))
    assert events[-1].type == "run.completed"
    assert [(e.type, getattr(e, "error", None)) for e in events[-2:-1]] == [
        ("learning.failed", "RuntimeError")
    ]


def test_run_sync_waits_for_background_learning() -> None:
    # Without the wait, the loop of run_sync would close before the learning task ran.
    reader = Reader(background=True)
    result = flow(reader).run_sync("late")
    assert result.status is RunStatus.COMPLETED
    assert reader.exchanges == [("late", "LATE!")]


def test_learning_must_be_learners() -> None:
    with pytest.raises(ConfigurationError, match="learning= takes learners"):
        flow(object())
