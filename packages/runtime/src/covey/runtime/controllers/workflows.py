"""`/v1/workflows`: the workflows served, and starting their runs.

A workflow run is a run like an agent's: read, follow, cancel and resume it at
`/v1/runs/{run_id}`; its step runs are listed at `/v1/runs/{run_id}/children`. Listing and
describing needs the `agents:read` scope, running `agents:run`, as for agents.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from covey.runtime import composites
from covey.runtime.auth import Principal
from covey.runtime.controllers._responses import (
    TREE_RUN_DESCRIPTION,
    TREE_RUN_RESPONSES,
    start_tree_run,
)
from covey.runtime.dto import RunOut, WorkflowList, WorkflowOut, WorkflowRunRequest
from covey.runtime.guards import require_scope
from covey.runtime.problems import problem_responses
from covey.runtime.state import RuntimeState

__all__ = ["WorkflowController"]


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
        responses=TREE_RUN_RESPONSES,
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
        return await start_tree_run(runtime, principal, request, "workflow", workflow_id, data)
