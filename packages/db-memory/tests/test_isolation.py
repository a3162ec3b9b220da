"""No caller can change a stored row through an object it passed in or got back."""

from __future__ import annotations

from typing import Any

from covey.db.memory import MemoryStore
from covey.spec.events import RunCompleted, ToolCallStarted
from covey.spec.messages import ModelRequest, ModelResponse, ToolCallPart, UserPart
from covey.spec.runs import RunResult, RunStatus, ToolCallRecord
from covey.spec.store import Approval, Memory, Run, Scope, Session

SCOPE = Scope("t", "alice")


def _run() -> Run:
    return Run(
        id="r",
        session_id="s",
        status=RunStatus.COMPLETED,
        input={"prompt": ["hi"]},
        output={"answer": {"parts": [1]}},
        messages=[
            ModelRequest(parts=[UserPart(content="hi")]),
            ModelResponse(
                parts=[
                    ToolCallPart(
                        tool_name="t",
                        tool_call_id="c",
                        args={"q": [1]},
                        provider_details={"x": [1]},
                    )
                ]
            ),
        ],
        tool_calls=[ToolCallRecord(tool_call_id="c", tool_name="t", args={"q": [1]})],
        metadata={"tags": ["a"]},
    )


def _scribble(run: Run) -> None:
    run.input["prompt"].append("x")
    run.output["answer"]["parts"].append(2)
    run.messages.append(ModelRequest(parts=[UserPart(content="extra")]))
    response = run.messages[1]
    assert isinstance(response, ModelResponse)
    part = response.parts[0]
    assert isinstance(part, ToolCallPart) and isinstance(part.args, dict)
    part.args["q"].append(2)
    assert part.provider_details is not None
    part.provider_details["x"].append(2)
    part.tool_name = "changed"
    run.tool_calls[0].args["q"].append(2)
    run.usage.details["n"] = 1
    run.metadata["tags"].append("b")
    run.status = RunStatus.FAILED


async def test_runs_given_and_returned_are_not_the_stored_row() -> None:
    store = MemoryStore()
    given = _run()
    saved = await store.save_run(SCOPE, given)
    reference = saved.model_dump()
    _scribble(given)
    _scribble(saved)
    got = await store.get_run(SCOPE, "r")
    assert got is not None
    _scribble(got)
    for listed in (await store.list_runs(SCOPE, session_id="s")).items:
        _scribble(listed)
    again = await store.get_run(SCOPE, "r")
    assert again is not None
    assert again.model_dump() == reference


async def test_sessions_and_other_rows_are_copied() -> None:
    store = MemoryStore()
    session = Session(id="s", state={"cart": [{"sku": "A"}]}, metadata={"m": {}})
    saved = await store.save_session(SCOPE, session, expected_version=0)
    session.state["cart"][0]["sku"] = "B"
    saved.state["cart"].append({"sku": "C"})
    saved.metadata["m"]["k"] = 1
    listed = (await store.list_sessions(SCOPE)).items[0]
    listed.state.clear()
    got = await store.get_session(SCOPE, "s")
    assert got is not None
    assert (got.state, got.metadata) == ({"cart": [{"sku": "A"}]}, {"m": {}})

    memory = await store.add_memory(
        SCOPE, Memory(id="m", user_id="alice", memory="x", topics=["a"])
    )
    memory.topics.append("b")
    approval = await store.save_approval(
        SCOPE, Approval(id="a", run_id="r", tool_call_id="c", tool_name="t", args={"n": [1]})
    )
    approval.args["n"].append(2)
    stored_memory = await store.get_memory(SCOPE, "m")
    stored_approval = await store.get_approval(SCOPE, "a")
    assert stored_memory is not None and stored_memory.topics == ["a"]
    assert stored_approval is not None and stored_approval.args == {"n": [1]}


async def test_events_with_mutable_fields_are_copied() -> None:
    store = MemoryStore()
    await store.save_run(SCOPE, Run(id="r"))
    args: dict[str, Any] = {"q": [1]}
    result = RunResult[Any](run_id="r", status=RunStatus.COMPLETED, output={"a": [1]})
    await store.append_events(
        SCOPE,
        "r",
        [
            ToolCallStarted(run_id="r", seq=1, tool_call_id="c", tool_name="t", args=args),
            RunCompleted(run_id="r", seq=2, result=result),
        ],
    )
    args["q"].append(2)
    result.output["a"].append(2)
    first = await store.list_events(SCOPE, "r")
    started, completed = first
    assert isinstance(started, ToolCallStarted) and isinstance(completed, RunCompleted)
    started.args["q"].append(3)
    completed.result.output["a"].append(3)
    again = await store.list_events(SCOPE, "r")
    assert isinstance(again[0], ToolCallStarted) and again[0].args == {"q": [1]}
    assert isinstance(again[1], RunCompleted) and again[1].result.output == {"a": [1]}


async def test_run_outputs_are_stored_as_json_data() -> None:
    """As a database store would: a model in `output` comes back as a dict."""
    store = MemoryStore()
    output = ToolCallRecord(tool_call_id="c", tool_name="t")
    await store.save_run(SCOPE, Run(id="r", output=output))
    got = await store.get_run(SCOPE, "r")
    assert got is not None
    assert got.output == output.model_dump(mode="json")
