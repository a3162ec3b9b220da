"""`/v1/agents`: the agents served, and starting runs."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from covey.runtime.auth import Principal
from covey.runtime.controllers._responses import (
    RUN_DESCRIPTION,
    run_response,
    wants_deltas,
    wants_stream,
)
from covey.runtime.dto import AgentList, AgentOut, RunAccepted, RunOut, RunRequest
from covey.runtime.guards import require_scope
from covey.runtime.problems import problem_responses
from covey.runtime.state import RuntimeState

__all__ = ["AgentController"]


class AgentController(Controller):
    """List agents, describe one, run one."""

    path = "/v1/agents"
    tags = ["agents"]  # noqa: RUF012 - Litestar reads these class attributes
    guards = [require_scope]  # noqa: RUF012

    @get(
        "/",
        opt={"scope": "agents:read"},
        summary="List agents",
        responses=problem_responses(401, 403),
    )
    async def list_agents(self, runtime: NamedDependency[RuntimeState]) -> AgentList:
        """Every agent this server serves."""
        items = [await runtime.describe(agent) for agent in runtime.registry]
        return AgentList(items=items, notice=runtime.registry.notice)

    @get(
        "/{agent_id:str}",
        opt={"scope": "agents:read"},
        summary="Describe an agent",
        responses=problem_responses(401, 403, 404),
    )
    async def get_agent(
        self, runtime: NamedDependency[RuntimeState], agent_id: FromPath[str]
    ) -> AgentOut:
        """An agent's name, description, tools and output schema."""
        return await runtime.describe(runtime.agent(agent_id))

    @post(
        "/{agent_id:str}/runs",
        opt={"scope": "agents:run"},
        status_code=200,
        summary="Run an agent",
        description=RUN_DESCRIPTION,
        responses={
            **problem_responses(401, 403, 404, 413, 415, 503),
            202: ResponseSpec(RunAccepted, description="A background run started"),
        },
    )
    async def create_run(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
        agent_id: FromPath[str],
        data: JSONBody[RunRequest],
    ) -> Response[RunOut]:
        """Start a run; answer with the run, its event stream, or 202 (background)."""
        stream = wants_stream(request, data.stream)
        live = runtime.start_run(
            runtime.agent(agent_id),
            data,
            principal,
            deltas=wants_deltas(stream, data.background),
        )
        return await run_response(live, stream=stream, background=data.background)
