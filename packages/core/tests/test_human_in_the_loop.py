"""Approvals, user input and external tools: pause, persist, resume (also from a new agent)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from core_helpers import call, collect, last_request, text

from covey.core import Agent, RunStatus
from covey.core.testing import AgentInfo, FunctionModel
from covey.spec import (
    ModelRequest,
    ModelResponse,
    RunResult,
    ToolDefinition,
    ToolResult,
    ToolReturnPart,
    tool,
)
from covey.spec import events as ev
from covey.spec.errors import ConfigurationError, ConflictError
from covey.spec.store import Run, Scope
from covey.spec.tools import Toolset
from covey.testing import InMemoryStore

deleted: list[str] = []


@tool(requires_approval=True)
def delete_file(path: str) -> str:
    """Delete a file."""
    deleted.append(path)
    return f"deleted {path}"


def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    if len(messages) == 1:
        return ModelResponse(
            parts=[
                call("delete_file", {"path": "/tmp/a"}, "a"),
                call("delete_file", {"path": "/tmp/b"}, "b"),
            ]
        )
    returns = [p for p in last_request(messages).parts if isinstance(p, ToolReturnPart)]
    return text(" / ".join(str(p.content) for p in returns))


async def test_approval_pauses_then_resumes_in_a_new_agent_sharing_the_store() -> None:
    deleted.clear()
    store = InMemoryStore()
    agent = Agent(model=FunctionModel(model), tools=[delete_file], store=store, name="files")
    events = await collect(agent.run_stream("clean up", session_id="s", user_id="u"))
    paused = events[-1]
    assert isinstance(paused, ev.RunPaused)
    result = paused.result
    assert result.status is RunStatus.PAUSED
    assert [(r.tool_call_id, r.kind, r.args) for r in result.requirements] == [
        ("a", "approval", {"path": "/tmp/a"}),
        ("b", "approval", {"path": "/tmp/b"}),
    ]
    assert deleted == []
    stored = await store.get_run(Scope(user_id="u"), result.run_id)
    assert stored is not None and stored.status is RunStatus.PAUSED

    # A different agent object (as in another process) with the same store resumes it.
    again = Agent(model=FunctionModel(model), tools=[delete_file], store=store, name="files")
    resumed_events = await collect(
        again.resume_stream(
            result.run_id,
            approvals={"a": True, "b": {"approved": False, "note": "keep b"}},
            user_id="u",
        )
    )
    final = resumed_events[-1]
    assert isinstance(final, ev.RunCompleted)
    assert final.result.output == "deleted /tmp/a / The user rejected this tool call. Note: keep b"
    assert deleted == ["/tmp/a"]
    assert resumed_events[0].seq == events[-1].seq + 1
    log = await store.list_events(Scope(user_id="u"), result.run_id)
    check = [e.seq for e in log]
    assert check == sorted(set(check))


async def test_resume_without_a_store_in_the_same_process() -> None:
    deleted.clear()
    agent = Agent(model=FunctionModel(model), tools=[delete_file])
    result = await agent.run("x")
    assert result.status is RunStatus.PAUSED
    with pytest.raises(ConfigurationError, match="no decision given for b"):
        await agent.resume(result.run_id, approvals={"a": True})
    resumed = await agent.resume(result.run_id, approvals={"a": True, "b": True})
    assert resumed.status is RunStatus.COMPLETED
    assert sorted(deleted) == ["/tmp/a", "/tmp/b"]


async def test_user_input_and_external_tools() -> None:
    @tool(input_fields=("recipient",))
    def send_email(subject: str, recipient: str) -> str:
        """Send an email."""
        return f"sent {subject!r} to {recipient}"

    class Browser(Toolset):
        async def list_tools(self, ctx: Any) -> list[ToolDefinition]:
            return [ToolDefinition(name="open_page", kind="external")]

        async def call_tool(self, name: str, args: dict[str, Any], ctx: Any) -> ToolResult:
            raise AssertionError("external tools are never called by the run")

    def m(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(
                parts=[call("send_email", {"subject": "hi"}, "e"), call("open_page", {}, "p")]
            )
        return text(" / ".join(str(p.content) for p in last_request(messages).parts))

    agent = Agent(model=FunctionModel(m), tools=[send_email, Browser()])
    result = await agent.run("x")
    kinds = {r.tool_call_id: (r.kind, r.input_fields) for r in result.requirements}
    assert kinds == {"e": ("input", ["recipient"]), "p": ("external", [])}
    resumed = await agent.resume(
        result.run_id, inputs={"e": {"recipient": "ada@example.com"}}, results={"p": "<html>"}
    )
    assert resumed.output == "sent 'hi' to ada@example.com / <html>"


class _BothRead(InMemoryStore):
    """A store where, once armed, `get_run` waits until two callers have read: both resumes
    below see the run paused before either claims it, the race a shared store allows."""

    def __init__(self) -> None:
        super().__init__()
        self.readers: int | None = None
        self.both = anyio.Event()

    async def get_run(self, scope: Scope, run_id: str) -> Run | None:
        run = await super().get_run(scope, run_id)
        if self.readers is not None:
            self.readers += 1
            if self.readers == 2:
                self.both.set()
            await self.both.wait()
        return run


async def test_two_concurrent_resumes_of_one_paused_run_run_it_once() -> None:
    deleted.clear()
    store = _BothRead()
    agent = Agent(model=FunctionModel(model), tools=[delete_file], store=store, name="files")
    paused = await agent.run("clean up", user_id="u")
    assert paused.status is RunStatus.PAUSED
    store.readers = 0
    outcomes: list[RunResult[Any] | ConflictError] = []

    async def resume() -> None:
        # Two agent objects, as two processes sharing the store would have.
        again = Agent(model=FunctionModel(model), tools=[delete_file], store=store, name="files")
        try:
            outcomes.append(
                await again.resume(paused.run_id, approvals={"a": True, "b": True}, user_id="u")
            )
        except ConflictError as exc:
            outcomes.append(exc)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(resume)
            tg.start_soon(resume)
    assert store.readers == 2
    done = [o for o in outcomes if isinstance(o, RunResult)]
    refused = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(done) == 1 and len(refused) == 1
    assert done[0].status is RunStatus.COMPLETED
    assert "resumed or cancelled by another caller" in str(refused[0])
    assert sorted(deleted) == ["/tmp/a", "/tmp/b"]  # each approved tool ran once
    scope = Scope(user_id="u")
    log = await store.list_events(scope, paused.run_id)
    assert [e.seq for e in log] == list(range(1, len(log) + 1))
    assert [e.type for e in log].count("run.started") == 2
    stored = await store.get_run(scope, paused.run_id)
    assert stored is not None and stored.status is RunStatus.COMPLETED
