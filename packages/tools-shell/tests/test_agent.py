"""A real `covey.core.Agent` run: an unlisted command pauses the run for approval; approved, it
runs; rejected, it never does. The model is covey-core's `FunctionModel`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from covey.core import Agent
from covey.core.testing import AgentInfo, FunctionModel
from covey.spec.messages import (
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from covey.spec.runs import RunStatus
from covey.tools.shell import ShellToolset

Messages = list[ModelRequest | ModelResponse]


def scripted(*commands: list[str]) -> FunctionModel:
    """A model that calls `run_command` with each command in turn, then reports the returns."""

    def model(messages: Messages, info: AgentInfo) -> ModelResponse:
        returns = [
            part
            for message in messages
            if isinstance(message, ModelRequest)
            for part in message.parts
            if isinstance(part, ToolReturnPart)
        ]
        if len(returns) < len(commands):
            i = len(returns)
            return ModelResponse(
                parts=[
                    ToolCallPart(
                        tool_name="run_command",
                        args={"command": commands[i]},
                        tool_call_id=f"call-{i}",
                    )
                ]
            )
        seen = " | ".join(str(r.content) for r in returns)
        return ModelResponse(parts=[TextPart(content=f"saw: {seen}")])

    return FunctionModel(model)


def agent(tmp_path: Path, *commands: list[str]) -> Agent[Any, str]:
    shell = ShellToolset(allow=["echo"], cwd=tmp_path)
    return Agent(model=scripted(*commands), tools=[shell], name="operator")


async def test_an_allowed_command_runs_without_pausing(tmp_path: Path) -> None:
    result = await agent(tmp_path, ["echo", "hello; touch canary"]).run("go")
    assert result.status is RunStatus.COMPLETED, result.error
    assert "hello; touch canary" in result.output
    assert not (tmp_path / "canary").exists()


async def test_an_unlisted_command_pauses_then_runs_once_approved(tmp_path: Path) -> None:
    operator = agent(tmp_path, ["touch", "approved-file"])
    paused = await operator.run("make the file")
    assert paused.status is RunStatus.PAUSED
    [requirement] = paused.requirements
    assert requirement.kind == "approval"
    assert requirement.tool_name == "run_command"
    assert requirement.args == {"command": ["touch", "approved-file"]}
    assert requirement.description and "not on the allow-list" in requirement.description
    assert not (tmp_path / "approved-file").exists()  # nothing ran while it waited

    resumed = await operator.resume(paused.run_id, approvals={requirement.tool_call_id: True})
    assert resumed.status is RunStatus.COMPLETED, resumed.error
    assert (tmp_path / "approved-file").exists()
    assert "'exit_code': 0" in resumed.output


async def test_a_rejected_command_never_runs(tmp_path: Path) -> None:
    operator = agent(tmp_path, ["touch", "rejected-file"])
    paused = await operator.run("make the file")
    [requirement] = paused.requirements
    resumed = await operator.resume(
        paused.run_id,
        approvals={requirement.tool_call_id: {"approved": False, "note": "not today"}},
    )
    assert resumed.status is RunStatus.COMPLETED, resumed.error
    assert not (tmp_path / "rejected-file").exists()
    assert "rejected" in resumed.output and "not today" in resumed.output


async def test_a_risky_option_of_an_allowed_program_pauses_too(tmp_path: Path) -> None:
    shell = ShellToolset(allow=["find"], cwd=tmp_path)
    operator = Agent(model=scripted(["find", ".", "-exec", "touch", "canary", ";"]), tools=[shell])
    paused = await operator.run("look around")
    assert paused.status is RunStatus.PAUSED
    [requirement] = paused.requirements
    assert requirement.description and "'-exec'" in requirement.description
    assert not (tmp_path / "canary").exists()
