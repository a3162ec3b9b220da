"""The registry of agents, teams and workflows, and how a parent run's stream carries its
children's events (the live buffer and the SSE framing), without a server."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from covey.core import Agent
from covey.core.testing import TestModel
from covey.runtime import Registry, load_registry
from covey.runtime.sse import sse_response
from covey.runtime.tree import TreeLiveRun
from covey.spec import RunResult, RunStatus
from covey.spec import events as ev
from covey.spec.errors import ConfigurationError
from covey.spec.store import Scope, Store


class RunnableDouble:
    """A test double with the run API of `Agent` (what the registry takes as a team or a
    workflow): it is never run here, only registered."""

    def __init__(self, name: str | None) -> None:
        self.name = name
        self.description = "a double"

    async def run_stream(self, input: Any = None, **options: Any) -> AsyncIterator[ev.BaseEvent]:
        raise NotImplementedError
        yield  # pragma: no cover

    async def resume_stream(
        self,
        run_id: str,
        *,
        approvals: dict[str, Any] | None = None,
        inputs: dict[str, dict[str, Any]] | None = None,
        results: dict[str, Any] | None = None,
        store: Store | None = None,
        user_id: str | None = None,
        tenant_id: str | None = None,
        stream_model: bool = True,
    ) -> AsyncIterator[ev.BaseEvent]:
        raise NotImplementedError
        yield  # pragma: no cover

    async def cancel(
        self,
        run_id: str,
        *,
        store: Store | None = None,
        user_id: str | None = None,
        tenant_id: str | None = None,
    ) -> bool:
        return False


def _agent(name: str) -> Agent:
    return Agent(name=name, model=TestModel())


def test_the_registry_sorts_items_by_kind_and_keeps_agent_lookups_to_agents() -> None:
    team, flow = RunnableDouble("crew"), RunnableDouble("pipeline")
    registry = Registry([_agent("a"), _agent("b")], teams=[team], workflows=[flow])
    assert [a.name for a in registry] == ["a", "b"]
    assert len(registry) == 2
    assert registry.get("crew") is None  # GET /v1/agents/crew is a 404
    assert registry.find("crew") is team
    assert registry.find("a") is registry.get("a")
    assert (registry.kind("a"), registry.kind("crew"), registry.kind("pipeline")) == (
        "agent",
        "team",
        "workflow",
    )
    assert registry.kind("nobody") is None
    assert registry.of_kind("team", "pipeline") is None
    assert registry.items("workflow") == [flow]
    assert registry.names("agent") == ["a", "b"]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: Registry([_agent("x")], teams=[RunnableDouble("x")]),
            "Two definitions are named 'x' (an agent and a team)",
        ),
        (
            lambda: Registry(teams=[RunnableDouble("x")], workflows=[RunnableDouble("x")]),
            "(a team and a workflow); names are API ids and must be unique across agents, teams",
        ),
        (lambda: Registry(teams=[RunnableDouble(None)]), "Every team the runtime serves needs"),
        (lambda: Registry([RunnableDouble("x")]), "not an Agent, Team or Workflow"),
        (lambda: Registry(teams=[_agent("x")]), "teams=[...] holds Agent, not a Team"),
        (lambda: Registry(workflows=[object()]), "workflows=[...] holds object"),
    ],
)
def test_a_bad_registry_says_what_is_wrong(build: Any, message: str) -> None:
    """Fails if two definitions may share an id (a stored run names what ran it by name only,
    so resume and cancel would pick the wrong one) or a wrong item is accepted."""
    with pytest.raises(ConfigurationError) as caught:
        build()
    assert message in str(caught.value)


def test_load_registry_takes_agents_teams_and_workflows_alone_or_mixed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "reg_mod.py").write_text(
        "from covey.core import Agent, Team, Workflow\n"
        "from covey.core.testing import TestModel\n"
        "one = Agent(name='solo', model=TestModel())\n"
        "crew = Team(name='crew', members=[one], model=TestModel())\n"
        "flow = Workflow(name='flow', steps=[one])\n"
        "mixed = [one, crew, flow, Agent(name='other', model=TestModel())]\n"
        "clash = [one, Team(name='solo', members=[one], model=TestModel())]\n"
        "def make():\n    return mixed\n"
    )
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert load_registry("reg_mod:one", python_path=[tmp_path]).names("agent") == ["solo"]
    assert load_registry("reg_mod:crew").names("team") == ["crew"]
    assert load_registry("reg_mod:flow").names("workflow") == ["flow"]
    for path in ("reg_mod:mixed", "reg_mod:make"):
        loaded = load_registry(path)
        assert [loaded.names(k) for k in ("agent", "team", "workflow")] == [
            ["other", "solo"],
            ["crew"],
            ["flow"],
        ]
    with pytest.raises(ConfigurationError, match=r"named 'solo' \(an agent and a team\)"):
        load_registry("reg_mod:clash")


def _final(run_id: str, output: str, parent: str | None = None) -> ev.RunCompleted:
    result: RunResult[Any] = RunResult(
        run_id=run_id, parent_run_id=parent, status=RunStatus.COMPLETED, output=output
    )
    return ev.RunCompleted(run_id=run_id, parent_run_id=parent, seq=9, result=result)


def _tree_events() -> list[ev.BaseEvent]:
    return [
        ev.RunStarted(run_id="team", seq=1),
        ev.ToolCallStarted(run_id="team", seq=2, tool_call_id="c1", tool_name="ask", args={}),
        ev.RunStarted(run_id="member", parent_run_id="team", seq=1),
        ev.TextDelta(run_id="member", parent_run_id="team", seq=2, delta="hi"),
        _final("member", "member answer", parent="team"),
        ev.ToolCallCompleted(
            run_id="team", seq=3, tool_call_id="c1", tool_name="ask", result="member answer"
        ),
        _final("team", "team answer").model_copy(update={"seq": 4}),
    ]


def test_a_tree_live_run_counts_only_its_own_events_and_replays_after_its_own_seq() -> None:
    """Fails if a member's final event becomes the team's result, if a member's `seq` moves the
    team's position, or if re-attaching after a team event loses (or repeats) what followed."""

    async def main() -> None:
        live = TreeLiveRun(run_id="team", agent_id="crew", session_id=None, scope=Scope())
        events = _tree_events()
        for event in events[:5]:
            live.publish(event)
        assert live.result is None  # the member's run.completed is not the team's
        assert live.last_seq == 2
        for event in events[5:]:
            live.publish(event)
        live.finish()
        assert live.result is not None and live.result.output == "team answer"
        assert live.last_seq == 4

        async def seen(after: int) -> list[tuple[str, int]]:
            return [(e.run_id, e.seq) async for e in live.follow(after) if e is not None]

        assert await seen(0) == [(e.run_id, e.seq) for e in events]
        assert await seen(2) == [
            ("member", 1),
            ("member", 2),
            ("member", 9),
            ("team", 3),
            ("team", 4),
        ]
        assert await seen(3) == [("team", 4)]
        assert await seen(4) == []

    anyio.run(main)


def test_sse_gives_ids_to_the_followed_runs_events_only() -> None:
    """Fails if a child's event carries an `id:` (a client would send it back as
    `Last-Event-ID`, a `seq` of another run's log)."""

    async def main() -> list[bytes]:
        async def events() -> AsyncIterator[ev.BaseEvent | None]:
            for event in _tree_events():
                yield event
            yield None

        response = sse_response(events(), run_id="team")
        iterator: Any = response.iterator
        return [chunk async for chunk in iterator]

    frames = anyio.run(main)
    ids = [f.split(b"\n")[0] for f in frames if f.startswith(b"id:")]
    assert ids == [b"id: 1", b"id: 2", b"id: 3", b"id: 4"]
    children = [f for f in frames if b'"run_id":"member"' in f]
    assert len(children) == 3
    assert all(f.startswith(b"event: ") for f in children)
    assert frames[-1] == b": keepalive\n\n"


def test_a_registry_of_teams_only_is_not_empty() -> None:
    """Fails if `registry or default` drops a registry that serves no agent but a team."""
    assert Registry(teams=[RunnableDouble("crew")])
    assert not Registry()
    assert len(Registry(teams=[RunnableDouble("crew")])) == 0  # len() counts agents
