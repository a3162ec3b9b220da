"""`Agent(tools=["shell"])`: the entry point and the safe default it gives."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
from shell_helpers import run

from covey.spec.errors import ApprovalRequired, ConfigurationError
from covey.tools.shell import ShellToolset, from_reference


def test_the_entry_point_is_from_reference() -> None:
    [entry] = entry_points(group="covey.tools", name="shell")
    assert entry.load() is from_reference


def test_the_default_is_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shell = from_reference(None)
    assert isinstance(shell, ShellToolset) and shell.id == "shell"
    assert shell.cwd == tmp_path.resolve()


async def test_the_default_allows_nothing(tmp_path: Path) -> None:
    shell = from_reference(str(tmp_path))
    assert shell.policy.allow == ()
    with pytest.raises(ApprovalRequired):
        await run(shell, "echo", "hi")


def test_the_argument_is_the_working_directory(tmp_path: Path) -> None:
    assert from_reference(str(tmp_path)).cwd == tmp_path.resolve()
    with pytest.raises(ConfigurationError, match="does not exist"):
        from_reference(str(tmp_path / "missing"))


def test_resolve_toolset_finds_the_plugin(tmp_path: Path) -> None:
    from covey.spec.plugins import resolve_toolset

    shell = resolve_toolset(f"shell:{tmp_path}")
    assert isinstance(shell, ShellToolset) and shell.cwd == tmp_path.resolve()
    assert shell.policy.allow == ()


async def test_an_agent_given_the_name_pauses_on_every_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from covey.core import Agent, RunStatus
    from covey.core.testing import AgentInfo, FunctionModel
    from covey.spec.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            call = ToolCallPart(
                tool_name="run_command", args={"command": ["echo", "hi"]}, tool_call_id="c1"
            )
            return ModelResponse(parts=[call])
        return ModelResponse(parts=[TextPart(content="done")])

    monkeypatch.chdir(tmp_path)
    agent = Agent(model=FunctionModel(model), tools=["shell"])
    paused = await agent.run("say hi")
    assert paused.status is RunStatus.PAUSED
    [requirement] = paused.requirements
    assert requirement.tool_name == "run_command" and requirement.kind == "approval"
    assert requirement.description == "`echo hi` needs approval: it is not on the allow-list."
    done = await agent.resume(paused.run_id, approvals={requirement.tool_call_id: True})
    assert done.status is RunStatus.COMPLETED
    assert done.tool_calls[-1].result == {
        "exit_code": 0,
        "output": "hi\n",
        "truncated": False,
        "timed_out": False,
    }
