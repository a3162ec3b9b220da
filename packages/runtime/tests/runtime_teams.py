"""The teams and workflows (and their agents) the runtime tests serve, in-thread and in server
subprocesses (`agents = "runtime_teams:registry"`).

Every model is a `FunctionModel`, so what each member was asked and what the leader saw is
decided here. `slow` delegates to a member whose tool waits for a gate file (see
`runtime_agents.gate`), so a test controls when a member run may finish; so does the workflow
`waiting`'s first step.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from runtime_agents import (
    _prompt,
    approval_model,
    delete_file,
    echo_model,
    gate,
    gated_model,
)

from covey.core import Agent, Condition, Loop, Parallel, Router, Step, StepInput, Team, Workflow
from covey.core.testing import AgentInfo, FunctionModel
from covey.runtime import Registry
from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart

Messages = list[ModelRequest | ModelResponse]


def _writer(messages: Messages, info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[TextPart(content=f"draft of {_prompt(messages)}")])


def _critic(messages: Messages, info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[TextPart(content=f"critique of {_prompt(messages)}")])


def _returns(messages: Messages) -> list[Any]:
    """Every tool result the leader has seen so far, oldest first."""
    return [
        part.content
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if part.kind == "tool-return"
    ]


def _call(tool: str, call_id: str, **args: Any) -> ModelResponse:
    return ModelResponse(parts=[ToolCallPart(tool_name=tool, args=args, tool_call_id=call_id)])


def coordinator(messages: Messages, info: AgentInfo) -> ModelResponse:
    """Delegates the prompt to the writer, then the writer's draft to the critic, then answers
    with both results."""
    seen = _returns(messages)
    if not seen:
        return _call("delegate_task", "c1", member="writer", task=_prompt(messages))
    if len(seen) == 1:
        return _call("delegate_task", "c2", member="critic", task=str(seen[0]))
    return ModelResponse(parts=[TextPart(content=f"team: {seen[0]} | {seen[1]}")])


def delegate_to(member: str) -> Any:
    """A leader that hands the prompt to `member`, then answers with what it said."""

    def leader(messages: Messages, info: AgentInfo) -> ModelResponse:
        seen = _returns(messages)
        if not seen:
            return _call("delegate_task", "d1-" + member, member=member, task=_prompt(messages))
        return ModelResponse(parts=[TextPart(content=f"{member} said: {seen[-1]}")])

    return leader


def router(messages: Messages, info: AgentInfo) -> ModelResponse:
    return _call("route_to_member", "r1", member="writer", task=_prompt(messages))


writer = Agent(name="writer", model=FunctionModel(_writer), description="Writes drafts.")
critic = Agent(name="critic", model=FunctionModel(_critic), description="Criticises drafts.")
approver = Agent(name="approver", model=FunctionModel(approval_model), tools=[delete_file])
gated = Agent(name="gated", model=FunctionModel(gated_model), tools=[gate], tool_timeout=None)
echo = Agent(name="echo", model=FunctionModel(echo_model))


def outline(step: StepInput) -> str:
    return f"outline of {step.input}"


def shout(step: StepInput) -> str:
    return str(step.previous).upper()


def publish(step: StepInput) -> str:
    return f"published: {step.previous}"


class Order(BaseModel):
    item: str
    qty: int


def price(order: Order) -> str:
    return f"{order.qty} x {order.item} = {order.qty * 3}"


def build() -> Registry:
    desk = Team(
        name="desk",
        members=[writer, critic],
        mode="coordinate",
        model=FunctionModel(coordinator),
        description="Writes, then criticises.",
    )
    return Registry(
        [
            echo,
            desk,
            Team(
                name="router", members=[writer, critic], mode="route", model=FunctionModel(router)
            ),
            Team(name="hitl", members=[approver], model=FunctionModel(delegate_to("approver"))),
            Team(name="slow", members=[gated], model=FunctionModel(delegate_to("gated"))),
            Team(
                name="outer",
                members=[desk, echo],
                model=FunctionModel(delegate_to("desk")),
                description="Asks the desk.",
            ),
            Workflow(
                name="pipeline",
                description="Outline, write, review and shout at once, publish.",
                steps=[
                    outline,
                    Step(writer, name="write", description="The writer drafts."),
                    Parallel(Step(critic, name="review"), shout, name="fan_out"),
                    publish,
                ],
            ),
            Workflow(name="signoff", steps=[Step(approver, name="approve"), publish]),
            Workflow(name="waiting", steps=[Step(gated, name="wait"), publish]),
            Workflow(name="ordering", steps=[price]),
            Workflow(  # described, never run
                name="branches",
                steps=[
                    Condition(lambda step: True, [shout], name="maybe"),
                    Loop([Step(critic, name="recheck")], max_iterations=2, name="again"),
                    Router(
                        lambda step: "publish", [publish, Step(shout, name="loud")], name="pick"
                    ),
                ],
            ),
        ],
        notice="test teams",
    )


registry = build()
