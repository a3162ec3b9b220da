"""`/v1/runs`: a run, its event stream, its child runs, cancel and resume."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.response import Stream

from covey.runtime.auth import Principal
from covey.runtime.controllers._responses import (
    RUN_DESCRIPTION,
    run_response,
    wants_deltas,
    wants_stream,
)
from covey.runtime.dto import ResumeRequest, RunAccepted, RunOut, RunPage, public_events
from covey.runtime.guards import require_scope
from covey.runtime.problems import ApiError, problem_responses
from covey.runtime.sse import sse_response
from covey.runtime.state import RuntimeState
from covey.runtime.tree_follow import follow_tree
from covey.spec import RunStatus
from covey.spec.store import MAX_PAGE_SIZE, Run

__all__ = ["RunController"]


MAX_SEQ = 2**62
"""The largest event `seq` a client may name (stores keep `seq` in a signed 64-bit integer)."""


def _after(after: int | None, last_event_id: str | None) -> int:
    if last_event_id is not None and last_event_id.strip():
        text = last_event_id.strip()
        # Plain ASCII digits only: int() would also take "-1", "+5", "1_0" and other scripts' digits.
        if not (text.isascii() and text.isdigit()):
            raise ApiError(
                400,
                "validation-error",
                "Last-Event-ID must be the integer id of the last event received",
                errors=[
                    {"field": "Last-Event-ID", "message": "not an integer", "source": "header"}
                ],
            )
        value = int(text) if len(text) <= 20 else MAX_SEQ + 1
        if value > MAX_SEQ:
            raise ApiError(
                400,
                "validation-error",
                f"Last-Event-ID must be an event id from 0 to {MAX_SEQ}",
                errors=[{"field": "Last-Event-ID", "message": "out of range", "source": "header"}],
            )
        return max(value, after or 0)
    return after or 0


class RunController(Controller):
    """Read, follow, cancel and resume runs, from any server process."""

    path = "/v1/runs"
    tags = ["runs"]  # noqa: RUF012 - Litestar reads these class attributes
    guards = [require_scope]  # noqa: RUF012

    @get(
        "/",
        opt={"scope": "runs:read"},
        summary="List runs",
        responses=problem_responses(400, 401, 403),
        description="The caller's runs (admin: the tenant's), newest first. `agent_id` keeps one "
        "agent's, team's or workflow's runs and `top_level` the runs nobody started; the store "
        "filters, so every page but the last holds `limit` items.",
    )
    async def list_runs(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        status: Annotated[RunStatus | None, QueryParameter()] = None,
        agent_id: Annotated[str | None, QueryParameter(max_length=255)] = None,
        session_id: Annotated[str | None, QueryParameter(max_length=255)] = None,
        user_id: Annotated[str | None, QueryParameter(max_length=255)] = None,
        top_level: Annotated[bool, QueryParameter()] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=4096)] = None,
    ) -> RunPage:
        """Runs with their status, agent, user, times, usage and cost (`cost_usd`)."""
        scope = principal.read_scope
        if user_id is not None:
            if not principal.is_admin and user_id != principal.user_id:
                raise ApiError(403, "forbidden", "Only an admin lists another user's runs")
            scope = scope.for_user(user_id)

        page = await runtime.store.list_runs(
            scope,
            status=status,
            session_id=session_id,
            agent_id=agent_id,
            top_level=top_level,
            limit=limit,
            cursor=cursor,
            order="desc",
        )
        runs = page.items
        costs = await anyio.to_thread.run_sync(_costs, runs)
        items = [
            RunOut.from_run(run).model_copy(update={"cost_usd": cost})
            for run, cost in zip(runs, costs, strict=True)
        ]
        return RunPage(items=items, next_cursor=page.next_cursor)

    @get(
        "/{run_id:str}",
        opt={"scope": "runs:read"},
        summary="Get a run",
        responses=problem_responses(401, 403, 404),
    )
    async def get_run(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        run_id: FromPath[str],
    ) -> RunOut:
        """The run as it stands."""
        return await runtime.run_out(principal, run_id)

    @get(
        "/{run_id:str}/events",
        opt={"scope": "runs:read"},
        summary="Follow a run's events (SSE)",
        responses=problem_responses(401, 403, 404),
        media_type="text/event-stream",
        description="Replays the stored events after `Last-Event-ID` (or `?after=`), then "
        "follows live ones until the run stops running — wherever it runs.",
    )
    async def run_events(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        run_id: FromPath[str],
        after: Annotated[int | None, QueryParameter(ge=0, le=MAX_SEQ)] = None,
        last_event_id: Annotated[str | None, HeaderParameter(name="Last-Event-ID")] = None,
    ) -> Stream:
        """Server-Sent Events: `id:` event seq, `event:` type, `data:` JSON.

        A team's or workflow's run also streams its member and step runs' events, wherever it
        runs; those have no `id:` (their `seq` counts in their own run's log).
        """
        start = _after(after, last_event_id)
        scope = principal.read_scope
        run, live = await runtime.find_run(scope, run_id)
        # Only a team's or workflow's stream carries other runs' events (agents skip the check).
        agent_id = run.agent_id if run is not None else live.agent_id if live is not None else ""
        if runtime.registry.kind(agent_id or "") in (None, "agent"):
            return sse_response(public_events(runtime.manager.follow(scope, run_id, start)))
        events = follow_tree(runtime.manager, scope, run_id, start)
        return sse_response(public_events(events), run_id=run_id)

    @get(
        "/{run_id:str}/children",
        opt={"scope": "runs:read"},
        summary="List a run's member and step runs",
        responses=problem_responses(401, 403, 404),
        description="The runs whose `parent_run_id` is this run: a team run's member runs, a "
        "workflow run's step runs, oldest first; page with `cursor`. A child's own children "
        "are listed under it.",
    )
    async def list_children(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        run_id: FromPath[str],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=4096)] = None,
    ) -> RunPage:
        """The run's child runs, as the caller may see them."""
        scope = principal.read_scope
        await runtime.find_run(scope, run_id)
        page = await runtime.store.list_runs(
            scope, parent_run_id=run_id, limit=limit, cursor=cursor
        )
        return RunPage(items=[RunOut.from_run(r) for r in page.items], next_cursor=page.next_cursor)

    @post(
        "/{run_id:str}/cancel",
        opt={"scope": "runs:write"},
        status_code=200,
        summary="Cancel a run",
        responses={
            **problem_responses(401, 403, 404, 409, 415),
            202: ResponseSpec(
                RunOut, description="The run runs in another process; it stops there"
            ),
        },
    )
    async def cancel_run(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        run_id: FromPath[str],
    ) -> Response[RunOut]:
        """Cancel a running or paused run, in this process or any other sharing the store."""
        status, out = await runtime.cancel(principal, run_id)
        return Response(out, status_code=status)

    @post(
        "/{run_id:str}/resume",
        opt={"scope": "runs:write"},
        status_code=200,
        summary="Resume a paused run",
        description=RUN_DESCRIPTION,
        responses={
            **problem_responses(401, 403, 404, 409, 413, 415, 422, 503),
            202: ResponseSpec(RunAccepted, description="Resumed in the background"),
        },
    )
    async def resume_run(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
        run_id: FromPath[str],
        data: JSONBody[ResumeRequest],
    ) -> Response[RunOut]:
        """Approve or reject tool calls, give inputs or external results; the run goes on."""
        stream = wants_stream(request, data.stream)
        live = await runtime.resume(
            principal, run_id, data, deltas=wants_deltas(stream, data.background)
        )
        return await run_response(live, stream=stream, background=data.background)


def _costs(runs: list[Run]) -> list[float | None]:
    """Each run's own cost in USD (`None` when a request of it is unpriced), in a worker thread:
    the price table loads on first use."""
    from covey.runtime.costs import run_cost

    out: list[float | None] = []
    for run in runs:
        summary = run_cost([run])
        out.append(None if summary.unpriced_requests else float(summary.cost_usd))
    return out
