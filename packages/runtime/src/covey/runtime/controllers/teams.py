"""`/v1/teams`: the teams served, and starting their runs.

A team run is a run like an agent's: read, follow, cancel and resume it at `/v1/runs/{run_id}`;
its member runs are listed at `/v1/runs/{run_id}/children`. Listing and describing needs the
`agents:read` scope, running `agents:run`, as for agents.
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
from covey.runtime.dto import RunOut, RunRequest, TeamList, TeamOut
from covey.runtime.guards import require_scope
from covey.runtime.problems import problem_responses
from covey.runtime.state import RuntimeState

__all__ = ["TeamController"]


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
        responses=TREE_RUN_RESPONSES,
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
        return await start_tree_run(runtime, principal, request, "team", team_id, data)
