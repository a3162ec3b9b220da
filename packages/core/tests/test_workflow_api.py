"""Workflows: shared state, definitions (names, frozen, options), the Mermaid drawing,
print_response and as_tool, odd outputs, and any runnable as a step."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from core_helpers import call, collect, last_request, text
from workflow_helpers import echo_agent, prompt_of

from covey.core import (
    Agent,
    Condition,
    Loop,
    Parallel,
    Router,
    RunStatus,
    Step,
    StepInput,
    Workflow,
)
from covey.core.testing import AgentInfo, FunctionModel, TestModel
from covey.spec import ModelRequest, ModelResponse, RunContext
from covey.spec import events as ev
from covey.spec.errors import ConfigurationError
from covey.spec.store import Scope
from covey.testing import InMemoryStore

# --- state ---------------------------------------------------------------------------------------


def remember(ctx: RunContext[Any], note: str) -> str:
    """Remember a note.

    Args:
        note: The note.
    """
    ctx.state.setdefault("notes", []).append(note)
    return "ok"


async def test_state_is_shared_by_steps_and_saved_with_the_session() -> None:
    store = InMemoryStore()

    def count(step: StepInput[Any]) -> int:
        step.state["runs"] = step.state.get("runs", 0) + 1
        return step.state["runs"]

    def notes_model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[call("remember", {"note": prompt_of(messages)})])
        return text("noted")

    noter = Agent(
        model=FunctionModel(notes_model), tools=[remember], name="noter", history_tokens=0
    )

    def read(step: StepInput[Any]) -> Any:
        return dict(step.state)

    flow = Workflow(name="stateful", steps=[count, Step(noter, input="run {previous}"), read])
    first = await flow.run("x", store=store, session_id="s", user_id="u", state={"owner": "u"})
    assert first.output == {"owner": "u", "runs": 1, "notes": ["run 1"]}
    second = await flow.run("x", store=store, session_id="s", user_id="u")
    assert second.output == {"owner": "u", "runs": 2, "notes": ["run 1", "run 2"]}
    session = await store.get_session(Scope(user_id="u"), "s")
    assert session is not None
    assert session.state == {"owner": "u", "runs": 2, "notes": ["run 1", "run 2"]}


async def test_without_a_session_state_is_the_runs_own() -> None:
    def bump(step: StepInput[Any]) -> int:
        step.state["n"] = step.state.get("n", 0) + 1
        return step.state["n"]

    flow = Workflow(name="local", steps=[bump, Step(bump, name="bump_again")])
    assert (await flow.run(None, state={"n": 10})).output == 12
    assert (await flow.run(None)).output == 2


# --- definitions ---------------------------------------------------------------------------------


def test_step_names_are_unique_in_a_workflow() -> None:
    def fetch() -> int:
        return 1

    with pytest.raises(ConfigurationError, match="'fetch' is used in"):
        Workflow(name="w", steps=[fetch, Parallel(fetch, Step(lambda: 2, name="two"))])
    with pytest.raises(ConfigurationError, match="'fetch' is used in"):
        Workflow(name="w", steps=[fetch, Loop(Step(lambda: 2, name="fetch"))])
    agent = echo_agent("writer", "")
    with pytest.raises(ConfigurationError, match="'writer'"):
        Workflow(name="w", steps=[agent, agent])
    with pytest.raises(ConfigurationError, match="no name"):
        Workflow(name="w", steps=[lambda: 1])
    with pytest.raises(ConfigurationError, match="no name"):
        Workflow(name="w", steps=[Agent(model=TestModel())])
    with pytest.raises(ConfigurationError, match="may not contain"):
        Workflow(name="w", steps=[Step(fetch, name="a.b")])
    with pytest.raises(ConfigurationError, match="must be an agent"):
        Workflow(name="w", steps=[42])
    with pytest.raises(ConfigurationError, match="no steps"):
        Workflow(name="w", steps=[])
    # The same agent twice, told apart by name; unnamed constructs get positional names.
    ok = Workflow(
        name="w", steps=[Step(agent, name="first"), Step(agent, name="second"), Parallel(fetch)]
    )
    assert "parallel3" in ok.to_mermaid()


def test_a_workflow_is_frozen_and_keeps_nothing_per_run() -> None:
    flow = Workflow(name="w", steps=[Step(lambda: 1, name="one")])
    with pytest.raises(dataclasses.FrozenInstanceError):
        flow.name = "other"  # type: ignore[misc]
    before = {s: getattr(flow, s) for s in ("name", "steps", "description", "store")}
    flow.run_sync(None)
    assert {s: getattr(flow, s) for s in before} == before


async def test_run_options_are_checked() -> None:
    flow = Workflow(name="w", steps=[Step(lambda: 1, name="one")])
    with pytest.raises(TypeError, match="sesion_id"):
        await flow.run(None, sesion_id="s")  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="no model of its own"):
        await flow.run(None, model=TestModel())


def test_run_sync_outside_an_event_loop() -> None:
    flow = Workflow(name="w", steps=[Step(lambda s: s.previous * 2, name="double")])
    assert flow.run_sync(21).output == 42


def test_mermaid_draws_every_construct() -> None:
    def fetch() -> str:
        return ""

    def publish() -> str:
        return ""

    writer = echo_agent("writer", "")
    flow = Workflow(
        name="report",
        steps=[
            fetch,
            Parallel(Step(lambda: 1, name="legal"), writer, name="checks"),
            Condition(lambda s: True, Step(lambda: 1, name="fix"), name="needs_fix"),
            Loop(Step(lambda: 1, name="polish"), max_iterations=2, name="refine"),
            Router(lambda s: "publish", [publish, Step(lambda: 1, name="archive")], name="route"),
        ],
    )
    assert flow.to_mermaid() == (
        "flowchart TD\n"
        '    start(["report"])\n'
        '    s1["fetch"]\n'
        "    start --> s1\n"
        '    s2{{"checks"}}\n'
        "    s1 --> s2\n"
        '    s3["legal"]\n'
        "    s2 --> s3\n"
        '    s4[["writer"]]\n'
        "    s2 --> s4\n"
        '    s5(("join"))\n'
        "    s3 --> s5\n"
        "    s4 --> s5\n"
        '    s6{"needs_fix"}\n'
        "    s5 --> s6\n"
        '    s7["fix"]\n'
        '    s6 -->|"yes"| s7\n'
        '    s8["polish"]\n'
        "    s7 --> s8\n"
        '    s6 -->|"no"| s8\n'
        '    s8 -.->|"refine: again, at most 2x"| s8\n'
        '    s9{"route"}\n'
        "    s8 --> s9\n"
        '    s10["publish"]\n'
        '    s9 -->|"publish"| s10\n'
        '    s11["archive"]\n'
        '    s9 -->|"archive"| s11\n'
        '    finish(["end"])\n'
        "    s10 --> finish\n"
        "    s11 --> finish\n"
    )


async def test_print_response_and_as_tool() -> None:
    import io

    flow = Workflow(name="upper", steps=[Step(lambda s: str(s.previous).upper(), name="up")])
    out = io.StringIO()
    result = await flow.print_response("hi", file=out)
    assert result.output == "HI"
    assert "[step up]" in out.getvalue() and "HI" in out.getvalue()

    def use_tool(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[call("upper", {"request": "shout this"})])
        return text(str(last_request(messages).parts[0].content))  # type: ignore[union-attr]

    agent = Agent(model=FunctionModel(use_tool), tools=[flow.as_tool()])
    assert (await agent.run("go")).output == "SHOUT THIS"


async def test_an_agent_tool_changing_nested_state_in_place_is_saved() -> None:
    """A tool appending to a list in the session state: the change reaches the session (it
    was lost when the run compared against the same list it changed)."""
    store = InMemoryStore()

    def notes_model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[call("remember", {"note": prompt_of(messages)})])
        return text("noted")

    agent = Agent(model=FunctionModel(notes_model), tools=[remember], store=store, history_tokens=0)
    await agent.run("one", session_id="s")
    await agent.run("two", session_id="s")
    session = await store.get_session(Scope(), "s")
    assert session is not None
    assert session.state == {"notes": ["one", "two"]}


async def test_a_local_step_function_with_string_annotations_gets_its_step_input() -> None:
    """Under `from __future__ import annotations` a function defined where `StepInput` is
    not a module global has annotations get_type_hints cannot resolve."""
    namespace: dict[str, Any] = {}
    exec(
        "from __future__ import annotations\n"
        "def make():\n"
        "    from covey.core import StepInput\n"
        "    def add_one(step: StepInput[int]) -> int:\n"
        "        return step.previous + 1\n"
        "    return add_one\n",
        namespace,
    )
    flow = Workflow(name="local", steps=[namespace["make"]()])
    assert (await flow.run(1)).output == 2


class _Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


async def test_a_step_output_json_cannot_hold_is_shown_by_repr_and_refused_by_a_store() -> None:
    flow = Workflow(
        name="opaque",
        steps=[Step(lambda: _Opaque(), name="make"), Step(lambda s: s.previous, name="keep")],
    )
    events = await collect(flow.run_stream(None))
    done = [e.output for e in events if isinstance(e, ev.StepCompleted)]
    assert done == ["<opaque>", "<opaque>"]
    assert isinstance(events[-1].result.output, _Opaque)  # type: ignore[attr-defined]
    stored = await flow.run(None, store=InMemoryStore())
    assert stored.status is RunStatus.FAILED  # a durable step's output must be storable
    assert stored.error is not None and "_Opaque" in stored.error.message


class Relay:
    """Anything with the agent's run API is a step (a team is one): here, an agent behind a
    wrapper the workflow knows nothing about."""

    def __init__(self, agent: Agent[Any, Any], name: str) -> None:
        self.agent, self.name = agent, name

    def run_stream(self, input: Any = None, **options: Any) -> Any:
        return self.agent.run_stream(input, **options)

    def resume_stream(self, run_id: str, **options: Any) -> Any:
        return self.agent.resume_stream(run_id, **options)


async def test_any_runnable_with_the_agent_run_api_is_a_step() -> None:
    store = InMemoryStore()
    flow = Workflow(name="relay", steps=[Relay(echo_agent("inner", "via relay: "), "relay")])
    result = await flow.run("hello", store=store)
    assert result.output == "via relay: hello"
    [child] = (await store.list_runs(Scope(), parent_run_id=result.run_id)).items
    assert (child.agent_id, child.metadata["step_path"]) == ("inner", "relay")


def test_describe_steps_lists_the_tree() -> None:
    writer = Agent(model=TestModel(), name="writer", description="Writes the text.")
    flow = Workflow(
        name="w",
        steps=[
            Step(lambda: 1, name="fetch", description="Fetch the data."),
            Parallel(writer, Step(lambda: 2, name="check"), name="fan"),
        ],
    )
    assert flow.describe_steps() == [
        {"name": "fetch", "type": "function", "description": "Fetch the data."},
        {
            "name": "fan",
            "type": "parallel",
            "steps": [
                {"name": "writer", "type": "agent", "description": "Writes the text."},
                {"name": "check", "type": "function"},
            ],
        },
    ]
