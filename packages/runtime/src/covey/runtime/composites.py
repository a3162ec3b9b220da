"""Serving teams and workflows: finding one, describing it, starting its runs.

Resuming, cancelling and following their runs is the agents' code (`RuntimeState.resume`,
`.cancel`, `RunManager.follow`): those dispatch on the stored run's `agent_id`, whatever ran it.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from covey.runtime.auth import Principal
from covey.runtime.dto import RunRequest, StepOut, TeamMemberOut, TeamOut, WorkflowOut
from covey.runtime.live import LiveRun
from covey.runtime.problems import ApiError
from covey.runtime.run_manager import ShuttingDown
from covey.runtime.runnables import Kind, Runnable, check_ready, kind_of
from covey.runtime.state import RuntimeState
from covey.runtime.tree import TreeLiveRun
from covey.spec.store import new_id

__all__ = ["describe_team", "describe_workflow", "find", "start_run"]

log = logging.getLogger("covey.runtime")

_LISTS = {"team": "GET /v1/teams", "workflow": "GET /v1/workflows", "agent": "GET /v1/agents"}


def find(runtime: RuntimeState, kind: Kind, runnable_id: str) -> Runnable:
    """The `kind` named `runnable_id`, or a 404 problem."""
    found = runtime.registry.of_kind(kind, runnable_id)
    if found is None:
        raise ApiError(404, "not-found", f"No {kind} {runnable_id!r}; {_LISTS[kind]} lists them")
    return found


def start_run(
    runtime: RuntimeState,
    runnable: Runnable,
    body: RunRequest,
    principal: Principal,
    *,
    deltas: bool,
) -> LiveRun:
    """Start a run of a team or workflow for `principal` in the run manager.

    Like `RuntimeState.start_run` for agents: `deltas` says whether someone may read the run's
    deltas, and only then are models asked for streamed responses.
    """
    check_ready(runnable)
    run_id = new_id()
    session_id = body.session_id or new_id()
    live = TreeLiveRun(
        run_id=run_id,
        agent_id=runnable.name or "",
        session_id=session_id,
        scope=principal.write_scope,
    )
    store = runtime.store

    def events() -> Any:
        return runnable.run_stream(
            body.input,
            session_id=session_id,
            user_id=principal.user_id,
            tenant_id=principal.tenant_id,
            state=body.state,
            store=store,
            run_id=run_id,
            stream_model=deltas,
        )

    try:
        return runtime.manager.start(live, events)
    except ShuttingDown as exc:
        raise ApiError(503, "shutting-down", str(exc), headers={"Retry-After": "1"}) from None


# --- describing ------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _model_name(runnable: Any) -> str | None:
    model = getattr(runnable, "model", None)
    if model is None:
        return None
    if isinstance(model, str):
        return model
    provider = getattr(model, "provider", None)
    name = getattr(model, "model_name", None)
    return f"{provider}:{name}" if provider and name else type(model).__name__


def _member(member: Any, depth: int) -> TeamMemberOut:
    kind = kind_of(member) or type(member).__name__.lower()
    nested = getattr(member, "members", ()) if kind == "team" and depth < 16 else ()
    return TeamMemberOut(
        name=getattr(member, "name", None) or "",
        kind=kind,
        description=_text(getattr(member, "description", None)),
        model=_model_name(member),
        members=[_member(m, depth + 1) for m in nested],
    )


def describe_team(team: Runnable) -> TeamOut:
    """A team's public description: its mode, leader model and members, nested teams too."""
    name = team.name or ""
    mode = getattr(team, "mode", None)
    return TeamOut(
        team_id=name,
        name=name,
        description=_text(team.description),
        mode=str(mode) if mode is not None else None,
        model=_model_name(team),
        members=[_member(m, 1) for m in getattr(team, "members", ())],
    )


_CHILDREN = ("steps", "choices")
"""Attributes of a workflow construct that hold its nested steps: a group's, a branch's, a
loop's body, a router's choices."""


def _runs(target: Any) -> str | None:
    if target is None:
        return None
    kind = kind_of(target)
    if kind is not None:
        return f"{kind}:{getattr(target, 'name', None) or ''}"
    if callable(target):
        return f"function:{getattr(target, '__name__', type(target).__name__)}"
    return None


def _target_name(target: Any) -> str | None:
    return _text(getattr(target, "name", None)) or _text(getattr(target, "__name__", None))


def _step(node: Any, depth: int) -> StepOut:
    """One node of the step tree: a `Step`, a bare agent/team/workflow/function, or a
    construct (`Steps`, `Parallel`, `Condition`, `Loop`, `Router`) with its nested steps."""
    if kind_of(node) is not None or (callable(node) and not hasattr(node, "steps")):
        return StepOut(kind="step", name=_target_name(node), runs=_runs(node))
    target = getattr(node, "target", None)
    if target is not None:
        return StepOut(
            kind="step",
            name=_text(getattr(node, "name", None)) or _target_name(target),
            description=_text(getattr(node, "description", None)),
            runs=_runs(target),
        )
    children: list[Any] = []
    if depth < 32:
        for attribute in _CHILDREN:
            value = getattr(node, attribute, None)
            if isinstance(value, list | tuple):
                children.extend(cast("list[Any]", value))
    limit = getattr(node, "max_iterations", None)
    return StepOut(
        kind=type(node).__name__.lower(),
        name=_text(getattr(node, "name", None)),
        max_iterations=limit if isinstance(limit, int) else None,
        steps=[_step(child, depth + 1) for child in children],
    )


def _merged(described: dict[str, Any], walked: StepOut) -> StepOut:
    """A node of `Workflow.describe_steps()` (the names and kinds step events use) with what
    the runtime's own walk adds: what a step runs, a loop's limit."""
    nested: list[Any] = described.get("steps") or []
    pairs = zip(nested, walked.steps, strict=False) if len(nested) == len(walked.steps) else ()
    return StepOut(
        kind=str(described.get("type") or walked.kind),
        name=_text(described.get("name")) or walked.name,
        description=_text(described.get("description")) or walked.description,
        runs=walked.runs,
        max_iterations=walked.max_iterations,
        steps=[_merged(d, w) for d, w in pairs] or [_merged(d, StepOut(kind="")) for d in nested],
    )


def _steps_of(workflow: Runnable) -> list[StepOut]:
    walked = [_step(s, 1) for s in getattr(workflow, "steps", ())]
    describe: Any = getattr(workflow, "describe_steps", None)
    if describe is None:
        return walked
    described: list[dict[str, Any]] = list(describe())
    if len(described) != len(walked):
        return [_merged(d, StepOut(kind="")) for d in described]
    return [_merged(d, w) for d, w in zip(described, walked, strict=True)]


def describe_workflow(workflow: Runnable) -> WorkflowOut:
    """A workflow's public description: its step tree and its Mermaid drawing."""
    name = workflow.name or ""
    mermaid: str | None = None
    draw: Any = getattr(workflow, "to_mermaid", None)
    if draw is not None:
        try:
            mermaid = str(draw())
        except Exception:
            log.exception("could not draw workflow %s", name)
    return WorkflowOut(
        workflow_id=name,
        name=name,
        description=_text(workflow.description),
        steps=_steps_of(workflow),
        mermaid=mermaid,
    )
