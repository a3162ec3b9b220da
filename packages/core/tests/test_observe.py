"""Run observers see every event of every run (agents, workflows, background learning) with
the run's scope, and a failing observer never fails a run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from covey.core import Agent, RunStatus, Step, Workflow
from covey.core.observe import add_observer, observers, remove_observer
from covey.core.testing import TestModel
from covey.spec import events as ev
from covey.spec.store import Scope


@pytest.fixture
def seen() -> Iterator[list[tuple[str, Scope]]]:
    got: list[tuple[str, Scope]] = []

    def observer(event: ev.BaseEvent, scope: Scope) -> None:
        got.append((event.type, scope))

    add_observer(observer)
    add_observer(observer)  # once only
    assert observers().count(observer) == 1
    yield got
    remove_observer(observer)
    assert observer not in observers()


def tool() -> str:
    """A tool."""
    return "ok"


async def test_every_event_of_a_run_reaches_observers_with_its_scope(
    seen: list[tuple[str, Scope]],
) -> None:
    agent = Agent(model=TestModel(), tools=[tool])
    result = await agent.run("hi", user_id="ann", tenant_id="acme")
    types = [t for t, _ in seen]
    assert types[0] == "run.started" and types[-1] == "run.completed"
    assert "tool_call.completed" in types and "model_request.completed" in types
    assert {s for _, s in seen} == {Scope("acme", "ann")}
    assert result.status is RunStatus.COMPLETED


async def test_workflow_events_are_observed(seen: list[tuple[str, Scope]]) -> None:
    flow = Workflow(name="flow", steps=[Step(lambda s: "x", name="double")])
    await flow.run("go")
    assert "step.completed" in [t for t, _ in seen]


async def test_a_failing_observer_fails_no_run(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: ev.BaseEvent, scope: Scope) -> None:
        raise RuntimeError("observer bug")

    add_observer(broken)
    try:
        first = await Agent(model=TestModel()).run("hi")
        second = await Agent(model=TestModel()).run("again")
    finally:
        remove_observer(broken)
    assert first.status is RunStatus.COMPLETED and second.status is RunStatus.COMPLETED
    assert [r.message for r in caplog.records].count(
        "run observer failed (logged once per observer)"
    ) == 1
