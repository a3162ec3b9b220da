"""The tool packages behind the runtime, over real HTTP, with a SQLite store.

Cross-package: covey-tools-shell's per-call approval (`ApprovalRequired`) pauses a served run,
and the runtime's resume endpoint runs the approved command or keeps a rejected one from
running; tool plugin references (`"files:<root>"`, `"calculator"`) resolve when the agent is
served, and clashing names from two file toolsets reach the model prefixed with their ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serving import serve_app

from covey.core import Agent
from covey.core.testing import AgentInfo, FunctionModel
from covey.db.sql import SqlStore
from covey.runtime import Registry, RuntimeSettings, create_app
from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from covey.tools.files import FileToolset
from covey.tools.shell import ShellToolset


def _last_returns(messages: list[ModelRequest | ModelResponse]) -> list[ToolReturnPart]:
    last = messages[-1]
    assert isinstance(last, ModelRequest)
    return [p for p in last.parts if isinstance(p, ToolReturnPart)]


def ops_model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    if len(messages) == 1:
        return ModelResponse(
            parts=[
                ToolCallPart(tool_name="run_command", args={"command": ["ls"]}, tool_call_id="ls"),
                ToolCallPart(
                    tool_name="run_command",
                    args={"command": ["touch", "created-by-the-agent"]},
                    tool_call_id="touch",
                ),
            ]
        )
    texts = [str(p.content) for p in _last_returns(messages)]
    return ModelResponse(parts=[TextPart(content=" | ".join(texts))])


def desk_model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    if len(messages) == 1:
        names = sorted(t.name for t in info.function_tools)
        calls = [
            ToolCallPart(tool_name="calculate", args={"expression": "2**10 + 1"}, tool_call_id="c"),
            ToolCallPart(tool_name="notes_read_file", args={"path": "a.txt"}, tool_call_id="n"),
            ToolCallPart(tool_name="files_read_file", args={"path": "b.txt"}, tool_call_id="f"),
        ]
        return ModelResponse(parts=[TextPart(content=",".join(names)), *calls])
    texts = [str(p.content) for p in _last_returns(messages)]
    return ModelResponse(parts=[TextPart(content=" | ".join(texts))])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[httpx.Client, Path]]:
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("x")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("from the notes")
    (work / "b.txt").write_text("from the work folder")
    ops = Agent(
        name="ops",
        model=FunctionModel(ops_model),
        tools=[ShellToolset(allow=["ls"], cwd=work)],
    )
    desk = Agent(
        name="desk",
        model=FunctionModel(desk_model),
        tools=["calculator", f"files:{work}", FileToolset(notes, id="notes")],
    )
    store = SqlStore(f"sqlite:///{tmp_path}/covey.db")
    app = create_app(RuntimeSettings(), registry=Registry([ops, desk]), store=store)
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client, work


def test_a_command_off_the_allow_list_waits_for_a_person_over_http(
    served: tuple[httpx.Client, Path],
) -> None:
    api, work = served
    paused = api.post("/v1/agents/ops/runs", json={"input": "tidy"}).json()
    assert paused["status"] == "paused"
    [requirement] = paused["requirements"]
    assert requirement["tool_call_id"] == "touch"
    assert requirement["kind"] == "approval"
    assert requirement["args"] == {"command": ["touch", "created-by-the-agent"]}
    assert "touch" in requirement["description"]
    assert not (work / "created-by-the-agent").exists()
    # The allowed command already ran; the stored run says so.
    stored = api.get(f"/v1/runs/{paused['run_id']}").json()
    assert [c["tool_call_id"] for c in stored["tool_calls"]] == ["ls"]
    assert "keep.txt" in stored["tool_calls"][0]["result"]["output"]

    done = api.post(
        f"/v1/runs/{paused['run_id']}/resume", json={"approvals": {"touch": True}}
    ).json()
    assert done["status"] == "completed"
    assert (work / "created-by-the-agent").exists()


def test_a_rejected_command_never_runs(served: tuple[httpx.Client, Path]) -> None:
    api, work = served
    paused = api.post("/v1/agents/ops/runs", json={"input": "tidy"}).json()
    done = api.post(
        f"/v1/runs/{paused['run_id']}/resume",
        json={"approvals": {"touch": {"approved": False, "note": "not today"}}},
    ).json()
    assert done["status"] == "completed"
    assert not (work / "created-by-the-agent").exists()
    assert done["output"].endswith("The user rejected this tool call. Note: not today")


def test_tool_references_and_prefixed_clashes_when_served(
    served: tuple[httpx.Client, Path],
) -> None:
    api, _ = served
    run = api.post("/v1/agents/desk/runs", json={"input": "look"}).json()
    assert run["status"] == "completed", run
    # Both file toolsets offer the same tools: each reaches the model under its own id.
    assert [(c["tool_name"], c["result"]) for c in run["tool_calls"]] == [
        ("calculate", "1025"),
        ("notes_read_file", "from the notes"),
        ("files_read_file", "from the work folder"),
    ]
    assert run["output"] == "1025 | from the notes | from the work folder"
