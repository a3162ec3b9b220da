"""`TeamToolset`: the leader's tools for its mode, each a delegation to members.

One `delegate_task(member, task, expected_output)` tool rather than one tool per member: the
tool list stays the same size whatever the team's size, the members' names are an `enum` in
its schema (an unknown name is a retry, never a run), and a leader delegating to several
members at once makes several calls in one turn, which run concurrently.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio

from covey.core.run.relay import ResumedCall, RunRelay, current_relay
from covey.core.team.members import MemberOutcome, run_member
from covey.core.team.prompt import member_input
from covey.core.team.tasks import TaskList
from covey.core.tool_calls import CallPaused, EndRun
from covey.spec import RunContext, RunStatus, ToolDefinition, ToolResult, Toolset
from covey.spec.errors import ModelRetry, ToolNotFoundError
from covey.spec.tools import ToolArgumentsError

if TYPE_CHECKING:
    from covey.core.team.definition import Team

__all__ = ["TeamToolset"]


def _string(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


class TeamToolset(Toolset):
    """The tools of one team's leader (see the module docstring)."""

    def __init__(self, team: Team[Any, Any]) -> None:
        self.team = team
        self.id = f"team:{team.name}"
        self._definitions: list[ToolDefinition] | None = None

    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        if self._definitions is None:
            self._definitions = self._build()
        return self._definitions

    def _build(self) -> list[ToolDefinition]:
        names = list(self.team.roster())
        member = {"type": "string", "enum": names, "description": "The member's name."}
        task = _string("What the member should do, with everything it needs to know.")

        def define(
            name: str, description: str, properties: dict[str, Any], *required: str
        ) -> ToolDefinition:
            schema = {
                "type": "object",
                "properties": properties,
                "required": list(required),
                "additionalProperties": False,
            }
            return ToolDefinition(name=name, description=description, parameters_json_schema=schema)

        mode = self.team.mode
        if mode == "coordinate":
            return [
                define(
                    "delegate_task",
                    "Give a member a task and get its answer.",
                    {
                        "member": member,
                        "task": task,
                        "expected_output": _string("What a good answer looks like (optional)."),
                    },
                    "member",
                    "task",
                )
            ]
        if mode == "route":
            return [
                define(
                    "route_to_member",
                    "Hand the request to one member; its answer is the team's answer.",
                    {"member": member, "task": task},
                    "member",
                    "task",
                )
            ]
        if mode == "broadcast":
            return [
                define(
                    "delegate_task_to_all_members",
                    "Give every member the same task at once and get all their answers.",
                    {"task": task},
                    "task",
                )
            ]
        return TaskList.definitions(names, define)

    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        relay = current_relay()
        if relay is None:
            raise RuntimeError("a team's tools run only inside the team's run")
        resumed = relay.resumed.pop(ctx.tool_call_id or "", None)
        if name == "delegate_task" and self.team.mode == "coordinate":
            return await self._delegate(args, ctx, relay, resumed, final=False)
        if name == "route_to_member" and self.team.mode == "route":
            return await self._delegate(args, ctx, relay, resumed, final=True)
        if name == "delegate_task_to_all_members" and self.team.mode == "broadcast":
            return await self._broadcast(args, ctx, relay, resumed)
        if self.team.mode == "tasks" and name in TaskList.TOOLS:
            tasks = TaskList(self, ctx, relay)
            return await tasks.call(name, args, resumed)
        raise ToolNotFoundError(f"Team {self.team.name!r} has no tool {name!r}", tool_name=name)

    async def _delegate(
        self,
        args: dict[str, Any],
        ctx: RunContext[Any],
        relay: RunRelay,
        resumed: ResumedCall | None,
        *,
        final: bool,
    ) -> ToolResult:
        tool = "route_to_member" if final else "delegate_task"
        name = self.member_arg(tool, args)
        task = text_arg(tool, args, "task")
        expected = args.get("expected_output")
        outcome = await self.run(
            name,
            task,
            ctx,
            relay,
            expected_output=expected if isinstance(expected, str) else None,
            resumed=resumed,
        )
        if outcome.status is RunStatus.PAUSED:
            raise CallPaused(outcome.requirements, {"runs": {name: outcome.run_id}})
        if final and outcome.status is RunStatus.COMPLETED:
            raise EndRun(outcome.output)
        return ToolResult(
            content=outcome.text(), is_error=outcome.status is not RunStatus.COMPLETED
        )

    async def _broadcast(
        self,
        args: dict[str, Any],
        ctx: RunContext[Any],
        relay: RunRelay,
        resumed: ResumedCall | None,
    ) -> ToolResult:
        task = text_arg("delegate_task_to_all_members", args, "task")
        done: dict[str, Any] = dict(resumed.token.get("done", {})) if resumed else {}
        outcomes: dict[str, MemberOutcome] = {}

        async def one(name: str) -> None:
            outcomes[name] = await self.run(name, task, ctx, relay, resumed=resumed)

        async with anyio.create_task_group() as group:
            for name in self.team.roster():
                if name not in done:
                    group.start_soon(one, name)
        paused = {n: o for n, o in outcomes.items() if o.status is RunStatus.PAUSED}
        answers = {n: done.get(n) for n in self.team.roster() if n in done}
        answers.update({n: o.text() for n, o in outcomes.items() if n not in paused})
        if paused:
            requirements = [r for o in paused.values() for r in o.requirements]
            token = {"runs": {n: o.run_id for n, o in paused.items()}, "done": answers}
            raise CallPaused(requirements, token)
        ordered = {n: answers[n] for n in self.team.roster()}
        completed = len(done) + sum(o.status is RunStatus.COMPLETED for o in outcomes.values())
        return ToolResult(content=ordered, is_error=completed == 0)

    async def run(
        self,
        name: str,
        task: str,
        ctx: RunContext[Any],
        relay: RunRelay,
        *,
        expected_output: str | None = None,
        resumed: ResumedCall | None = None,
    ) -> MemberOutcome:
        """Run member `name` on `task`, or resume its paused run when this call paused on it."""
        resume_run_id = None
        if resumed is not None:
            resume_run_id = resumed.token.get("runs", {}).get(name)
        earlier: list[dict[str, str]] | None = None
        if self.team.share_member_interactions:
            earlier = relay.metadata.setdefault(
                "interactions", list(ctx.metadata.get("interactions") or [])
            )
        outcome = await run_member(
            self.team,
            name,
            member_input(task, expected_output, list(earlier or [])),
            ctx,
            relay,
            resume_run_id=resume_run_id,
            decisions=resumed,
        )
        if earlier is not None and outcome.status is RunStatus.COMPLETED:
            earlier.append({"member": name, "task": task, "output": str(outcome.text())})
        return outcome

    def member_arg(self, tool: str, args: dict[str, Any], key: str = "member") -> str:
        """A member's name argument, checked against the roster (a wrong name is a retry)."""
        name = text_arg(tool, args, key)
        if name not in self.team.roster():
            known = ", ".join(self.team.roster())
            raise ModelRetry(f"There is no member {name!r} in this team. Members: {known}.")
        return name


def text_arg(tool: str, args: dict[str, Any], key: str) -> str:
    """A required non-empty string argument (its absence is a retry with the reason)."""
    value = args.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ToolArgumentsError(
            tool, [{"loc": (key,), "msg": "a non-empty string is required", "type": "missing"}]
        )
    return value
