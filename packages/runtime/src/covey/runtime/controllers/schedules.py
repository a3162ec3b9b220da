"""`/v1/schedules`: run an agent, team or workflow on a cron expression or an interval."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from covey.runtime.auth import Principal
from covey.runtime.guards import require_scope
from covey.runtime.problems import ApiError, problem_responses
from covey.runtime.schedules import service
from covey.runtime.schedules.dto import (
    FiringPage,
    ScheduleIn,
    ScheduleOut,
    SchedulePage,
    SchedulePatch,
)
from covey.runtime.schedules.scheduler import HISTORY_LIMIT, Scheduler
from covey.runtime.state import RuntimeState
from covey.spec.store import MAX_PAGE_SIZE

__all__ = ["SCHEDULER_KEY", "ScheduleController"]

SCHEDULER_KEY = "covey.scheduler"
"""Where the app's `Scheduler` is kept in `app.state`."""

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, QueryParameter(max_length=4096)]


def _provide_scheduler(request: Request[Any, Any, Any]) -> Scheduler:
    return request.app.state[SCHEDULER_KEY]


class ScheduleController(Controller):
    """Create, list, change, pause, resume and delete schedules, and read their firings.

    A caller sees and changes its own schedules (an admin: the tenant's). Creating one also
    needs `agents:run`: its runs are the caller's runs.
    """

    path = "/v1/schedules"
    tags = ["schedules"]  # noqa: RUF012 - Litestar reads these class attributes
    guards = [require_scope]  # noqa: RUF012
    dependencies = {"scheduler": Provide(_provide_scheduler, sync_to_thread=False)}  # noqa: RUF012

    @post(
        "/",
        opt={"scope": "schedules:write"},
        status_code=201,
        summary="Create a schedule",
        responses=problem_responses(400, 401, 403),
    )
    async def create_schedule(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        scheduler: NamedDependency[Scheduler],
        data: JSONBody[ScheduleIn],
    ) -> ScheduleOut:
        """Store a schedule; its first firing is the first after now."""
        if not principal.allows("agents:run"):
            raise ApiError(403, "forbidden", "Creating a schedule needs the scope 'agents:run'")
        saved = await service.create_schedule(
            runtime.store, runtime.registry, principal.write_scope, data
        )
        scheduler.watch_tenant(principal.tenant_id)
        return ScheduleOut.from_schedule(saved)

    @get(
        "/",
        opt={"scope": "schedules:read"},
        summary="List schedules",
        responses=problem_responses(401, 403),
    )
    async def list_schedules(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        enabled: Annotated[bool | None, QueryParameter()] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> SchedulePage:
        """The caller's schedules by id; `enabled=false` lists the paused ones."""
        page = await runtime.store.list_schedules(
            principal.read_scope, enabled=enabled, limit=limit, cursor=cursor
        )
        return SchedulePage(
            items=[ScheduleOut.from_schedule(s) for s in page.items],
            next_cursor=page.next_cursor,
        )

    @get(
        "/{schedule_id:str}",
        opt={"scope": "schedules:read"},
        summary="Get a schedule",
        responses=problem_responses(401, 403, 404),
    )
    async def get_schedule(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        schedule_id: FromPath[str],
    ) -> ScheduleOut:
        """One schedule, with its next firing and counts."""
        found = await service.get_schedule(runtime.store, principal.read_scope, schedule_id)
        return ScheduleOut.from_schedule(found)

    @patch(
        "/{schedule_id:str}",
        opt={"scope": "schedules:write"},
        summary="Change a schedule",
        responses=problem_responses(400, 401, 403, 404, 409),
    )
    async def update_schedule(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        scheduler: NamedDependency[Scheduler],
        schedule_id: FromPath[str],
        data: JSONBody[SchedulePatch],
    ) -> ScheduleOut:
        """Change the fields given; `enabled` pauses (`false`) or resumes (`true`)."""
        saved = await service.update_schedule(
            runtime.store, runtime.registry, principal.read_scope, schedule_id, data
        )
        scheduler.wake()
        return ScheduleOut.from_schedule(saved)

    @post(
        "/{schedule_id:str}/pause",
        opt={"scope": "schedules:write"},
        status_code=200,
        summary="Pause a schedule",
        responses=problem_responses(401, 403, 404, 409),
    )
    async def pause_schedule(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        schedule_id: FromPath[str],
    ) -> ScheduleOut:
        """Stop firing until resumed; firings due meanwhile are not made up."""
        saved = await service.update_schedule(
            runtime.store,
            runtime.registry,
            principal.read_scope,
            schedule_id,
            SchedulePatch(enabled=False),
        )
        return ScheduleOut.from_schedule(saved)

    @post(
        "/{schedule_id:str}/resume",
        opt={"scope": "schedules:write"},
        status_code=200,
        summary="Resume a schedule",
        responses=problem_responses(401, 403, 404, 409),
    )
    async def resume_schedule(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        scheduler: NamedDependency[Scheduler],
        schedule_id: FromPath[str],
    ) -> ScheduleOut:
        """Fire again, from the next firing after now."""
        saved = await service.update_schedule(
            runtime.store,
            runtime.registry,
            principal.read_scope,
            schedule_id,
            SchedulePatch(enabled=True),
        )
        scheduler.wake()
        return ScheduleOut.from_schedule(saved)

    @delete(
        "/{schedule_id:str}",
        opt={"scope": "schedules:write"},
        summary="Delete a schedule",
        responses=problem_responses(401, 403, 404),
    )
    async def delete_schedule(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        schedule_id: FromPath[str],
    ) -> None:
        """Delete the schedule; its past runs stay."""
        await service.get_schedule(runtime.store, principal.read_scope, schedule_id)
        await runtime.store.delete_schedule(principal.read_scope, schedule_id)

    @get(
        "/{schedule_id:str}/runs",
        opt={"scope": "schedules:read"},
        summary="A schedule's firings",
        responses=problem_responses(401, 403, 404),
    )
    async def list_firings(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        schedule_id: FromPath[str],
        limit: Annotated[int, QueryParameter(ge=1, le=HISTORY_LIMIT)] = 20,
    ) -> FiringPage:
        """The most recent firings, newest first, each with its run's id and status (read the
        run at `GET /v1/runs/{run_id}`, cancel it at `POST /v1/runs/{run_id}/cancel`)."""
        scope = principal.read_scope
        found = await service.get_schedule(runtime.store, scope, schedule_id)
        return FiringPage(items=await service.firings(runtime.store, scope, found, limit))
