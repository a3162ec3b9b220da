"""What the approvals tests serve, in-thread and in server subprocesses
(`agents = "approvals_agents:registry"`): an agent whose one call needs approval, one that makes
two such calls at once, a team whose member's call needs it, and a workflow whose step's does."""

from __future__ import annotations

from runtime_agents import _last_returns, _prompt, delete_file  # pyright: ignore[reportPrivateUsage]
from runtime_teams import approver, delegate_to, publish

from covey.core import Agent, Step, Team, Workflow
from covey.core.testing import AgentInfo, FunctionModel
from covey.runtime import Registry
from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart

Messages = list[ModelRequest | ModelResponse]


def two_calls(messages: Messages, info: AgentInfo) -> ModelResponse:
    """Deletes two files at once; then reports what each call returned (or why it did not run)."""
    returns = _last_returns(messages)
    if returns:
        said = "; ".join(str(r.content) for r in sorted(returns, key=lambda r: r.tool_call_id))
        return ModelResponse(parts=[TextPart(content=said)])
    path = _prompt(messages)
    return ModelResponse(
        parts=[
            ToolCallPart(tool_name="delete_file", args={"path": f"{path}/a"}, tool_call_id="d1"),
            ToolCallPart(tool_name="delete_file", args={"path": f"{path}/b"}, tool_call_id="d2"),
        ]
    )


def build() -> Registry:
    return Registry(
        [
            approver,
            Agent(name="pair", model=FunctionModel(two_calls), tools=[delete_file]),
            Team(name="hitl", members=[approver], model=FunctionModel(delegate_to("approver"))),
            Workflow(name="signoff", steps=[Step(approver, name="approve"), publish]),
        ],
        notice="approvals test agents",
    )


registry = build()
