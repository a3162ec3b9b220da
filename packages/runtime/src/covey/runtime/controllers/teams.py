"""`/v1/teams` and `/v1/workflows`: the teams and workflows served, and starting their runs.

Their runs are runs like an agent's: read, follow, cancel and resume them at `/v1/runs/{run_id}`;
their member and step runs are listed at `/v1/runs/{run_id}/children`. Listing and describing
needs the `agents:read` scope, running `agents:run`, as for agents.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from covey.runtime import composites
from covey.runtime.auth import Principal
from covey.runtime.controllers._responses import (
    RUN_DESCRIPTION,
    run_response,
    wants_deltas,
    wants_stream,
)
from covey.runtime.dto import (
    RunAccepted,
    RunOut,
    RunRequest,
    TeamList,
    TeamOut,
    WorkflowList,
    WorkflowOut,
    WorkflowRunRequest,
)
from covey.runtime.guards import require_scope
from covey.runtime.problems import problem_responses
from covey.runtime.runnables import Kind
from covey.runtime.state import RuntimeState

__all__ = ["TeamController", "WorkflowController"]

TREE_RUN_DESCRIPTION = (
    RUN_DESCRIPTION
    + " The stream carries the member (step) runs' events too, in order: each has its own "
    "`run_id`, `parent_run_id` and `seq`, and is sent without an `id:` line, so `Last-Event-ID` "
    "is always a `seq` of this run."
)

_RUN_RESPONSES: dict[int, ResponseSpec] = {
    **problem_responses(401, 403, 404, 413, 415, 503),
    202: ResponseSpec(RunAccepted, description="A background run started"),
}


async def _start(
    runtime: RuntimeState,
    principal: Principal,
    request: Request[Any, Any, Any],
    kind: Kind,
    runnable_id: str,
    data: RunRequest,
) -> Response[RunOut]:
    stream = wants_stream(request, data.stream)
    live = composites.start_run(
        runtime,
        composites.find(runtime, kind, runnable_id),
        data,
        principal,
        deltas=wants_deltas(stream, data.background),
    )
    return await run_response(live, stream=stream, background=data.background)


class TeamController(Controller):
    """List teams, describe one, run one."""

    path = "/v1/teams"
    tags = ["teams"]  # noqa: RUF012 - Litestar reads these class attributes
    guards = [require_scope]  # noqa: RUF012

    @get(
        "/",
        opt={"scope": "agents:read"},
        summary="List teams",
        responses=problem_responses(401, 403),
    )
    async def list_teams(self, runtime: NamedDependency[RuntimeState]) -> TeamList:
        """Every team this server serves."""
        return TeamList(items=[composites.describe_team(t) for t in runtime.registry.items("team")])

    @get(
        "/{team_id:str}",
        opt={"scope": "agents:read"},
        summary="Describe a team",
        responses=problem_responses(401, 403, 404),
    )
    async def get_team(
        self, runtime: NamedDependency[RuntimeState], team_id: FromPath[str]
    ) -> TeamOut:
        """A team's name, description, mode, leader model and members (nested teams too)."""
        return composites.describe_team(composites.find(runtime, "team", team_id))

    @post(
        "/{team_id:str}/runs",
        opt={"scope": "agents:run"},
        status_code=200,
        summary="Run a team",
        description=TREE_RUN_DESCRIPTION,
        responses=_RUN_RESPONSES,
    )
    async def create_run(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
        team_id: FromPath[str],
        data: JSONBody[RunRequest],
    ) -> Response[RunOut]:
        """Start a team run; answer with the run, its event stream, or 202 (background)."""
        return await _start(runtime, principal, request, "team", team_id, data)


class WorkflowController(Controller):
    """List workflows, describe one, run one."""

    path = "/v1/workflows"
    tags = ["workflows"]  # noqa: RUF012 - Litestar reads these class attributes
    guards = [require_scope]  # noqa: RUF012

    @get(
        "/",
        opt={"scope": "agents:read"},
        summary="List workflows",
        responses=problem_responses(401, 403),
    )
    async def list_workflows(self, runtime: NamedDependency[RuntimeState]) -> WorkflowList:
        """Every workflow this server serves."""
        return WorkflowList(
            items=[composites.describe_workflow(w) for w in runtime.registry.items("workflow")]
        )

    @get(
        "/{workflow_id:str}",
        opt={"scope": "agents:read"},
        summary="Describe a workflow",
        responses=problem_responses(401, 403, 404),
    )
    async def get_workflow(
        self, runtime: NamedDependency[RuntimeState], workflow_id: FromPath[str]
    ) -> WorkflowOut:
        """A workflow's name, description, step tree and Mermaid drawing (`mermaid`)."""
        return composites.describe_workflow(composites.find(runtime, "workflow", workflow_id))

    @post(
        "/{workflow_id:str}/runs",
        opt={"scope": "agents:run"},
        status_code=200,
        summary="Run a workflow",
        description=TREE_RUN_DESCRIPTION,
        responses=_RUN_RESPONSES,
    )
    async def create_run(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
        workflow_id: FromPath[str],
        data: JSONBody[WorkflowRunRequest],
    ) -> Response[RunOut]:
        """Start a workflow run; answer with the run, its event stream, or 202 (background)."""
        return await _start(runtime, principal, request, "workflow", workflow_id, data)
