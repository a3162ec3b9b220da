"""`/v1/approvals`: the tool calls paused runs wait on a person for, and their decisions."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from covey.runtime.approvals import Approvals
from covey.runtime.approvals_dto import ApprovalOut, ApprovalPage, DecisionRequest
from covey.runtime.auth import Principal
from covey.runtime.guards import require_scope
from covey.runtime.problems import problem_responses
from covey.runtime.state import RuntimeState
from covey.spec.store import MAX_PAGE_SIZE, ApprovalStatus

__all__ = ["ApprovalController"]

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, QueryParameter(max_length=4096)]


class ApprovalController(Controller):
    """List the caller's approvals; approve or reject one, once."""

    path = "/v1/approvals"
    tags = ["approvals"]  # noqa: RUF012 - Litestar reads these class attributes
    guards = [require_scope]  # noqa: RUF012

    @get(
        "/",
        opt={"scope": "runs:read"},
        summary="List approvals",
        responses=problem_responses(401, 403),
        description="Every approval requirement of the caller's paused runs (their own tool "
        "calls, their team members' and workflow steps' calls, learning proposals), oldest "
        "first, with its context; `status=approved|rejected` lists decisions (the audit), "
        "`run_id` one run's. Admin tokens see the whole tenant.",
    )
    async def list_approvals(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        status: Annotated[ApprovalStatus | None, QueryParameter()] = "pending",
        run_id: Annotated[str | None, QueryParameter(min_length=1, max_length=255)] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> ApprovalPage:
        """A page of the caller's approvals."""
        return await Approvals(runtime).list_page(
            principal, status=status, run_id=run_id, limit=limit, cursor=cursor
        )

    @get(
        "/{approval_id:str}",
        opt={"scope": "runs:read"},
        summary="Get an approval",
        responses=problem_responses(401, 403, 404),
    )
    async def get_approval(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        approval_id: FromPath[str],
    ) -> ApprovalOut:
        """One approval, with who decided it and when."""
        return await Approvals(runtime).get(principal, approval_id)

    @post(
        "/{approval_id:str}",
        opt={"scope": "runs:write"},
        status_code=200,
        summary="Approve or reject",
        responses=problem_responses(401, 403, 404, 409, 413, 415),
        description="Decides one approval, once: of two deciders one wins, the other gets 409 "
        "`approval-decided`. Who decided, when and the note are kept. Once every approval of "
        "the run's pause is decided the run goes on in the background, as after "
        "`POST /v1/runs/{id}/resume` (`run_status: running`).",
    )
    async def decide(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        approval_id: FromPath[str],
        data: JSONBody[DecisionRequest],
    ) -> ApprovalOut:
        """Approve (`approved: true`) or reject, with an optional note."""
        return await Approvals(runtime).decide(
            principal, approval_id, approved=data.approved, note=data.note
        )
