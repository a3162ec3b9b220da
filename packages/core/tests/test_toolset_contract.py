"""What the run loop does for toolsets: approval asked by a call (`ApprovalRequired`), name
clashes resolved by the toolsets' ids, `PrefixedToolset`, and tool plugin references."""

from __future__ import annotations

from typing import Any

import pytest
from core_helpers import call, collect, last_request, text

from covey.core import Agent, RunStatus
from covey.core.testing import AgentInfo, FunctionModel
from covey.spec import (
    ModelRequest,
    ModelResponse,
    PrefixedToolset,
    RunContext,
    ToolDefinition,
    ToolResult,
    ToolReturnPart,
)
from covey.spec import events as ev
from covey.spec.errors import ApprovalRequired, ConfigurationError, PluginNotFoundError
from covey.spec.store import Scope
from covey.spec.tools import Toolset
from covey.testing import InMemoryStore


class Commands(Toolset):
    """Runs `echo` at once; anything else only once a person approved this very call."""

    def __init__(self) -> None:
        self.ran: list[list[str]] = []
        self.contexts: list[bool] = []

    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        schema = {
            "type": "object",
            "properties": {"argv": {"type": "array", "items": {"type": "string"}}},
            "required": ["argv"],
        }
        return [ToolDefinition(name="run", parameters_json_schema=schema)]

    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        argv: list[str] = args["argv"]
        self.contexts.append(ctx.tool_call_approved)
        if argv[0] != "echo" and not ctx.tool_call_approved:
            raise ApprovalRequired(f"{argv[0]!r} is not on the allow-list")
        self.ran.append(argv)
        return ToolResult(content=f"ran {' '.join(argv)}")


def commands_model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    if len(messages) == 1:
        return ModelResponse(
            parts=[
                call("run", {"argv": ["echo", "hi"]}, "safe"),
                call("run", {"argv": ["rm", "-rf", "build"]}, "risky"),
            ]
        )
    returns = [p for p in last_request(messages).parts if isinstance(p, ToolReturnPart)]
    return text(" / ".join(str(p.content) for p in returns))


async def test_a_call_that_asks_for_approval_pauses_the_run_and_runs_once_approved() -> None:
    tools = Commands()
    store = InMemoryStore()
    agent = Agent(model=FunctionModel(commands_model), tools=[tools], store=store, name="ops")
    events = await collect(agent.run_stream("tidy up", user_id="u"))
    paused = events[-1]
    assert isinstance(paused, ev.RunPaused)
    result = paused.result
    assert result.status is RunStatus.PAUSED
    # The allowed call ran; the other waits for a person, with the toolset's reason.
    assert tools.ran == [["echo", "hi"]]
    [requirement] = result.requirements
    assert requirement.tool_call_id == "risky"
    assert requirement.kind == "approval"
    assert requirement.args == {"argv": ["rm", "-rf", "build"]}
    assert requirement.description == "'rm' is not on the allow-list"
    assert any(isinstance(e, ev.ToolCallPaused) and e.tool_call_id == "risky" for e in events)

    resumed = await agent.resume(result.run_id, approvals={"risky": True}, user_id="u")
    assert resumed.status is RunStatus.COMPLETED
    assert tools.ran == [["echo", "hi"], ["rm", "-rf", "build"]]
    assert resumed.output == "ran echo hi / ran rm -rf build"
    # Only the call a person approved ran with `tool_call_approved`.
    assert tools.contexts == [False, False, True]
    stored = await store.get_run(Scope(user_id="u"), result.run_id)
    assert stored is not None and stored.status is RunStatus.COMPLETED


async def test_a_rejected_call_never_runs_and_the_model_is_told() -> None:
    tools = Commands()
    agent = Agent(model=FunctionModel(commands_model), tools=[tools])
    result = await agent.run("tidy up")
    resumed = await agent.resume(
        result.run_id, approvals={"risky": {"approved": False, "note": "not on prod"}}
    )
    assert resumed.status is RunStatus.COMPLETED
    assert tools.ran == [["echo", "hi"]]
    assert resumed.output == "ran echo hi / The user rejected this tool call. Note: not on prod"


async def test_a_toolset_asking_again_after_approval_fails_the_call_not_the_run() -> None:
    class Stubborn(Commands):
        async def call_tool(
            self, name: str, args: dict[str, Any], ctx: RunContext[Any]
        ) -> ToolResult:
            raise ApprovalRequired("always")

    agent = Agent(model=FunctionModel(commands_model), tools=[Stubborn()])
    result = await agent.run("x")
    assert {r.tool_call_id for r in result.requirements} == {"safe", "risky"}
    resumed = await agent.resume(result.run_id, approvals={"safe": True, "risky": True})
    assert resumed.status is RunStatus.COMPLETED
    assert resumed.output == " / ".join(["The tool failed: ApprovalRequired: always"] * 2)


class Named(Toolset):
    def __init__(self, id: str | None, answer: str, names: tuple[str, ...] = ("lookup",)) -> None:
        self.id = id
        self.answer = answer
        self.names = names
        self.calls: list[str] = []

    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        return [ToolDefinition(name=n, description=f"{n} in {self.answer}") for n in self.names]

    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        self.calls.append(name)
        return ToolResult(content=f"{self.answer}:{name}")


async def test_clashing_tool_names_are_prefixed_with_each_toolset_id() -> None:
    seen: list[list[str]] = []

    def m(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            seen.append(sorted(t.name for t in info.function_tools))
            return ModelResponse(
                parts=[
                    call("github_lookup", {}, "1"),
                    call("jira_lookup", {}, "2"),
                    call("only_here", {}, "3"),
                ]
            )
        return text(" ".join(str(p.content) for p in last_request(messages).parts))

    github = Named("github", "gh", ("lookup", "only_here"))
    jira = Named("jira", "jr")
    result = await Agent(model=FunctionModel(m), tools=[github, jira]).run("x")
    # Only the clashing name is prefixed; each toolset is called with its own name.
    assert seen == [["github_lookup", "jira_lookup", "only_here"]]
    assert result.output == "gh:lookup jr:lookup gh:only_here"
    assert github.calls == ["lookup", "only_here"]
    assert jira.calls == ["lookup"]
    assert [c.tool_name for c in result.tool_calls] == ["github_lookup", "jira_lookup", "only_here"]


async def test_a_clash_without_ids_fails_the_run_with_a_configuration_error() -> None:
    agent = Agent(model=FunctionModel(commands_model), tools=[Named(None, "a"), Named("b", "b")])
    result = await agent.run("x")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and result.error.type == "ConfigurationError"
    assert "offered by several toolsets (Named, b)" in result.error.message
    assert "give each toolset a distinct `id`" in result.error.message
    same = Agent(model=FunctionModel(commands_model), tools=[Named("x", "a"), Named("x", "b")])
    result = await same.run("x")
    assert result.error is not None
    assert "offered by several toolsets (x, x)" in result.error.message


async def test_prefixed_toolset_renames_every_tool_and_refuses_unprefixed_names() -> None:
    inner = Named("inner", "in", ("a", "b"))
    prefixed = PrefixedToolset(inner, "docs")
    ctx = RunContext[None](run_id="r")
    async with prefixed:
        assert [t.name for t in await prefixed.list_tools(ctx)] == ["docs_a", "docs_b"]
        assert (await prefixed.call_tool("docs_b", {}, ctx)).content == "in:b"
        with pytest.raises(Exception, match="every tool of this toolset starts with 'docs_'"):
            await prefixed.call_tool("b", {}, ctx)
    assert inner.calls == ["b"]
    assert prefixed.id == "docs"


def test_a_tool_reference_to_a_missing_plugin_says_what_to_install() -> None:
    agent = Agent(model=FunctionModel(commands_model), tools=["nonexistent-kit"])
    with pytest.raises(PluginNotFoundError, match="pip install covey-tools-nonexistent-kit"):
        agent.toolsets()
    with pytest.raises(ConfigurationError, match="expected '<plugin>'"):
        Agent(model=FunctionModel(commands_model), tools=[":x"]).toolsets()


def test_one_reference_is_one_toolset_per_process_and_directory(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails if two agents naming the same tool plugin get two toolsets (two MCP server
    processes), or if a relative reference resolved in one directory is reused in another."""
    from pathlib import Path

    fixtures = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "plugin-fixture"
    from covey.spec import plugins

    monkeypatch.syspath_prepend(str(fixtures / "src"))
    plugins.refresh()
    try:
        first = Agent(model=FunctionModel(commands_model), tools=["fixture-tools:hi"])
        second = Agent(model=FunctionModel(commands_model), tools=["fixture-tools:hi"])
        other = Agent(model=FunctionModel(commands_model), tools=["fixture-tools:bye"])
        assert first.toolsets()[0] is second.toolsets()[0]
        assert other.toolsets()[0] is not first.toolsets()[0]
        monkeypatch.chdir(tmp_path)
        moved = Agent(model=FunctionModel(commands_model), tools=["fixture-tools:hi"])
        assert moved.toolsets()[0] is not first.toolsets()[0]
    finally:
        monkeypatch.undo()
        plugins.refresh()
