"""`tasks` mode: the leader's task list — tasks with an assignee and dependencies, run by
members, marked done or failed — kept with the team run (its stored metadata, `tasks`), so it
survives a pause and is there to read after the run."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from covey.core.run.relay import ResumedCall, RunRelay
from covey.core.tool_calls import CallPaused
from covey.spec import RunContext, RunStatus, ToolDefinition, ToolResult
from covey.spec.errors import ModelRetry

if TYPE_CHECKING:
    from covey.core.team.toolset import TeamToolset

__all__ = ["TaskList"]

Define = Callable[..., ToolDefinition]
_STATUSES = ("pending", "done", "failed")


class TaskList:
    """One team run's task list, as one tool call sees it."""

    TOOLS = frozenset({"create_task", "run_task", "update_task", "list_tasks"})

    def __init__(self, toolset: TeamToolset, ctx: RunContext[Any], relay: RunRelay) -> None:
        self.toolset = toolset
        self.ctx = ctx
        self.relay = relay
        tasks = relay.metadata.get("tasks")
        if tasks is None:
            kept: list[dict[str, Any]] = ctx.metadata.get("tasks") or []
            tasks = relay.metadata["tasks"] = [dict(t) for t in kept]
        self.tasks: list[dict[str, Any]] = tasks

    @staticmethod
    def definitions(names: list[str], define: Define) -> list[ToolDefinition]:
        """The four tools of the task list."""
        member = {"type": "string", "enum": names, "description": "The member's name."}
        task_id = {"type": "string", "description": "The task's id, as create_task returned it."}
        return [
            define(
                "create_task",
                "Add a task to the team's task list.",
                {
                    "title": {"type": "string", "description": "What to do, in one line."},
                    "description": {"type": "string", "description": "Details (optional)."},
                    "assignee": member,
                    "depends_on": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "Ids of tasks that must be done first.",
                    },
                },
                "title",
            ),
            define(
                "run_task",
                "Have a member do a task (its assignee, or `member`); the task is marked done "
                "or failed by the outcome. Tasks whose dependencies are done can run at once.",
                {"task_id": task_id, "member": member},
                "task_id",
            ),
            define(
                "update_task",
                "Mark a task done, failed or pending again, with an optional note.",
                {
                    "task_id": task_id,
                    "status": {"type": "string", "enum": list(_STATUSES)},
                    "note": {"type": "string", "description": "Why (optional)."},
                },
                "task_id",
                "status",
            ),
            define("list_tasks", "The task list with each task's status and result.", {}),
        ]

    async def call(
        self, name: str, args: dict[str, Any], resumed: ResumedCall | None
    ) -> ToolResult:
        """Run task-list tool `name`."""
        if name == "create_task":
            return self.create(args)
        if name == "run_task":
            return await self.run(args, resumed)
        if name == "update_task":
            return self.update(args)
        return ToolResult(content=json.dumps(self.tasks))

    def create(self, args: dict[str, Any]) -> ToolResult:
        from covey.core.team.toolset import text_arg

        title = text_arg("create_task", args, "title")
        limit = self.toolset.team.max_tasks
        if len(self.tasks) >= limit:
            return ToolResult(
                content=f"The task list is full ({limit} tasks, the team's max_tasks): run or "
                "finish the tasks you have, then answer.",
                is_error=True,
            )
        given: list[Any] = args.get("depends_on") or []
        depends_on = [str(d) for d in given]
        unknown = [d for d in depends_on if self.find(d) is None]
        if unknown:
            raise ModelRetry(f"No tasks {unknown} to depend on; create them first.")
        assignee = args.get("assignee")
        if assignee is not None:
            assignee = self.toolset.member_arg("create_task", args, "assignee")
        task = {
            "id": f"t{len(self.tasks) + 1}",
            "title": title,
            "description": str(args.get("description") or ""),
            "assignee": assignee,
            "depends_on": depends_on,
            "status": "pending",
            "result": None,
        }
        self.tasks.append(task)
        return ToolResult(content={"task_id": task["id"]})

    async def run(self, args: dict[str, Any], resumed: ResumedCall | None) -> ToolResult:
        task = self.get(args)
        if args.get("member") is not None:
            task["assignee"] = self.toolset.member_arg("run_task", args)
        if task["status"] == "done" and resumed is None:
            return ToolResult(content=f"Task {task['id']} is already done.", is_error=True)
        if not task["assignee"]:
            raise ModelRetry(f"Task {task['id']} has no assignee: pass member=...")
        waiting = [d for d in task["depends_on"] if (self.find(d) or {}).get("status") != "done"]
        if waiting:
            return ToolResult(
                content=f"Task {task['id']} waits for {', '.join(waiting)}: run those first.",
                is_error=True,
            )
        earlier = [self.find(d) for d in task["depends_on"]]
        brief = task["title"] + (f"\n\n{task['description']}" if task["description"] else "")
        if earlier:
            results = "\n".join(f"- {t['title']}: {t['result']}" for t in earlier if t)
            brief += f"\n\nResults of the tasks this one builds on:\n{results}"
        task["status"] = "running"
        outcome = await self.toolset.run(
            task["assignee"], brief, self.ctx, self.relay, resumed=resumed
        )
        if outcome.status is RunStatus.PAUSED:
            task["status"] = "paused"
            raise CallPaused(outcome.requirements, {"runs": {task["assignee"]: outcome.run_id}})
        task["status"] = "done" if outcome.status is RunStatus.COMPLETED else "failed"
        task["result"] = outcome.text()
        return ToolResult(content=task["result"], is_error=task["status"] == "failed")

    def update(self, args: dict[str, Any]) -> ToolResult:
        task = self.get(args)
        status = args.get("status")
        if status not in _STATUSES:
            raise ModelRetry(f"status must be one of {', '.join(_STATUSES)}")
        task["status"] = status
        if args.get("note"):
            task["result"] = str(args["note"])
        return ToolResult(content=f"Task {task['id']} is {status}.")

    def find(self, task_id: str) -> dict[str, Any] | None:
        return next((t for t in self.tasks if t["id"] == task_id), None)

    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        task = self.find(str(args.get("task_id")))
        if task is None:
            known = ", ".join(t["id"] for t in self.tasks) or "none yet"
            raise ModelRetry(f"No task {args.get('task_id')!r}. Tasks: {known}.")
        return task
