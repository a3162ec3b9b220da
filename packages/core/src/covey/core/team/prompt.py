"""What the leader is told about its team: the members and how its mode works."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from covey.core.team.definition import Team

__all__ = ["member_input", "team_context"]

_GUIDE = {
    "coordinate": (
        "Delegate sub-tasks to the members with `delegate_task` (several calls in one turn run "
        "at the same time), then compose the final answer from their results."
    ),
    "route": (
        "Hand the request to the one member best suited to it with `route_to_member`; that "
        "member's answer goes back to the user as it is. Answer yourself only if no member fits."
    ),
    "broadcast": (
        "Give the task to every member at once with `delegate_task_to_all_members`, then "
        "synthesise one answer from theirs."
    ),
    "tasks": (
        "Break the goal into tasks with `create_task` (assign each to a member; `depends_on` "
        "orders them), run them with `run_task`, mark a task done or failed yourself with "
        "`update_task`, check progress with `list_tasks`, and answer once the goal is met."
    ),
}


def team_context(team: Team[Any, Any]) -> str:
    """The roster and the mode's way of working, added to the leader's system prompt."""
    lines = [f"You lead the team {team.name!r}. Its members:"]
    for name, member in team.roster().items():
        about = member.description or "no description"
        lines.append(f"- {name}: {about}")
    lines.append("")
    lines.append(_GUIDE[team.mode])
    return "\n".join(lines)


def member_input(
    task: str, expected_output: str | None = None, earlier: list[dict[str, str]] | None = None
) -> str:
    """What a member is asked: the task, what is expected, and (when the team shares member
    interactions) what earlier members were asked and answered in this team run."""
    parts: list[str] = []
    if earlier:
        shared = "\n".join(
            f"- {i['member']} was asked: {i['task']}\n  and answered: {i['output']}"
            for i in earlier
        )
        parts.append(f"Earlier in this team run:\n{shared}")
    parts.append(task)
    if expected_output:
        parts.append(f"Expected output: {expected_output}")
    return "\n\n".join(parts)
