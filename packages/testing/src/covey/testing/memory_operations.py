"""Approvals, schedules and trace spans of `InMemoryStore`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from covey.spec.errors import ConflictError, InvalidInputError, NotFoundError
from covey.spec.store import (
    Approval,
    ApprovalStatus,
    Page,
    Schedule,
    Scope,
    TraceSpan,
    check_id,
    check_limit,
    utc_now,
)
from covey.testing.memory_tables import (
    InMemoryTables,
    check_optional,
    copy_row,
    micros,
    page_of,
    stamp,
    visible,
    writable,
)

__all__ = ["InMemoryOperations"]


class InMemoryOperations(InMemoryTables):
    """The approvals, schedules and trace spans of `InMemoryStore`."""

    # --- approvals -------------------------------------------------------------------------------

    async def save_approval(
        self, scope: Scope, approval: Approval, *, create_only: bool = False
    ) -> Approval:
        """See `Store.save_approval`."""
        check_id(approval.id, "approval.id")
        check_id(approval.run_id, "approval.run_id")
        check_id(approval.tool_call_id, "approval.tool_call_id")
        check_optional(approval.resolved_by, "approval.resolved_by")
        user_id = stamp(scope, approval.user_id, "approval")
        async with self._lock:
            key = (scope.tenant_id, approval.id)
            existing = self._approvals.get(key)
            if existing is not None and create_only:
                if not visible(scope, existing.user_id):
                    raise ConflictError(f"Approval id {approval.id!r} is taken outside this scope")
                return copy_row(existing)
            if existing is not None and not writable(scope, existing.user_id):
                raise ConflictError(f"Approval id {approval.id!r} is taken outside this scope")
            stored = copy_row(approval).model_copy(
                update={
                    "user_id": user_id,
                    "created_at": existing.created_at if existing else approval.created_at,
                }
            )
            self._approvals[key] = stored
            return copy_row(stored)

    async def get_approval(self, scope: Scope, approval_id: str) -> Approval | None:
        """See `Store.get_approval`."""
        check_id(approval_id, "approval_id")
        async with self._lock:
            row = self._approvals.get((scope.tenant_id, approval_id))
            if row is None or not visible(scope, row.user_id):
                return None
            return copy_row(row)

    async def list_approvals(
        self,
        scope: Scope,
        *,
        status: ApprovalStatus | None = None,
        run_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Approval]:
        """See `Store.list_approvals`."""
        check_optional(run_id, "run_id")
        async with self._lock:
            rows = [
                r
                for (tenant, _), r in self._approvals.items()
                if tenant == scope.tenant_id
                and visible(scope, r.user_id)
                and (status is None or r.status == status)
                and (run_id is None or r.run_id == run_id)
            ]
            return page_of(
                "approvals",
                rows,
                lambda r: (micros(r.created_at), r.id),
                descending=False,
                limit=limit,
                cursor=cursor,
            )

    async def resolve_approval(
        self,
        scope: Scope,
        approval_id: str,
        *,
        status: Literal["approved", "rejected"],
        resolved_by: str | None = None,
        note: str | None = None,
    ) -> Approval:
        """See `Store.resolve_approval`."""
        check_id(approval_id, "approval_id")
        check_optional(resolved_by, "resolved_by")
        if status not in ("approved", "rejected"):
            raise InvalidInputError(f"status must be 'approved' or 'rejected', got {status!r}")
        async with self._lock:
            row = self._approvals.get((scope.tenant_id, approval_id))
            if row is None or not visible(scope, row.user_id):
                raise NotFoundError(f"No approval {approval_id!r} in this scope")
            if row.status != "pending":
                raise ConflictError(
                    f"Approval {approval_id!r} was already {row.status} by {row.resolved_by!r}"
                )
            row.status = status
            row.resolved_at = utc_now()
            row.resolved_by = resolved_by
            row.note = note
            return copy_row(row)

    # --- schedules -------------------------------------------------------------------------------

    async def save_schedule(
        self, scope: Scope, schedule: Schedule, *, expected_updated_at: datetime | None = None
    ) -> Schedule:
        """See `Store.save_schedule`."""
        check_id(schedule.id, "schedule.id")
        check_id(schedule.target_id, "schedule.target_id")
        user_id = stamp(scope, schedule.user_id, "schedule")
        async with self._lock:
            key = (scope.tenant_id, schedule.id)
            existing = self._schedules.get(key)
            if existing is not None and not writable(scope, existing.user_id):
                raise ConflictError(f"Schedule id {schedule.id!r} is taken outside this scope")
            if expected_updated_at is not None and (
                existing is None or existing.updated_at != expected_updated_at
            ):
                raise ConflictError(f"Schedule {schedule.id!r} was changed or deleted since read")
            stored = copy_row(schedule).model_copy(
                update={
                    "user_id": user_id,
                    "created_at": existing.created_at if existing else schedule.created_at,
                    "updated_at": max(
                        utc_now(),
                        existing.updated_at + timedelta(microseconds=1) if existing else utc_now(),
                    ),
                }
            )
            self._schedules[key] = stored
            return copy_row(stored)

    async def get_schedule(self, scope: Scope, schedule_id: str) -> Schedule | None:
        """See `Store.get_schedule`."""
        check_id(schedule_id, "schedule_id")
        async with self._lock:
            row = self._schedules.get((scope.tenant_id, schedule_id))
            if row is None or not visible(scope, row.user_id):
                return None
            return copy_row(row)

    async def list_schedules(
        self,
        scope: Scope,
        *,
        enabled: bool | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Schedule]:
        """See `Store.list_schedules`."""
        async with self._lock:
            rows = [
                r
                for (tenant, _), r in self._schedules.items()
                if tenant == scope.tenant_id
                and visible(scope, r.user_id)
                and (enabled is None or r.enabled == enabled)
            ]
            return page_of(
                "schedules",
                rows,
                lambda r: (r.id,),
                descending=False,
                limit=limit,
                cursor=cursor,
            )

    async def delete_schedule(self, scope: Scope, schedule_id: str) -> None:
        """See `Store.delete_schedule`."""
        check_id(schedule_id, "schedule_id")
        async with self._lock:
            key = (scope.tenant_id, schedule_id)
            row = self._schedules.get(key)
            if row is None or not visible(scope, row.user_id):
                raise NotFoundError(f"No schedule {schedule_id!r} in this scope")
            del self._schedules[key]

    async def list_due(self, scope: Scope, now: datetime) -> list[Schedule]:
        """See `Store.list_due`."""
        limit = micros(now)
        async with self._lock:
            due = [
                r
                for (tenant, _), r in self._schedules.items()
                if tenant == scope.tenant_id
                and visible(scope, r.user_id)
                and r.enabled
                and r.next_run_at is not None
                and micros(r.next_run_at) <= limit
            ]
            due.sort(key=lambda r: (micros(r.next_run_at or now), r.id))
            return [copy_row(r) for r in due]

    async def list_due_tenants(self, now: datetime, *, limit: int = 1000) -> list[str]:
        """See `Store.list_due_tenants`."""
        check_limit(limit)
        at = micros(now)
        async with self._lock:
            tenants = {
                tenant
                for (tenant, _), r in self._schedules.items()
                if r.enabled and r.next_run_at is not None and micros(r.next_run_at) <= at
            }
        return sorted(tenants)[:limit]

    # --- traces ----------------------------------------------------------------------------------

    async def add_spans(self, scope: Scope, spans: Sequence[TraceSpan]) -> None:
        """See `Store.add_spans`."""
        staged: list[TraceSpan] = []
        for span in spans:
            check_id(span.trace_id, "span.trace_id")
            check_id(span.span_id, "span.span_id")
            check_optional(span.parent_span_id, "span.parent_span_id")
            user_id = stamp(scope, span.user_id, "span")
            staged.append(copy_row(span).model_copy(update={"user_id": user_id}))
        async with self._lock:
            for span in staged:
                existing = self._spans.get((scope.tenant_id, span.trace_id, span.span_id))
                if existing is not None and not writable(scope, existing.user_id):
                    raise ConflictError(
                        f"Span {span.span_id!r} of trace {span.trace_id!r} is taken outside "
                        "this scope; nothing was written"
                    )
            for span in staged:
                self._spans[(scope.tenant_id, span.trace_id, span.span_id)] = span

    async def list_spans(self, scope: Scope, trace_id: str) -> list[TraceSpan]:
        """See `Store.list_spans`."""
        check_id(trace_id, "trace_id")
        async with self._lock:
            rows = [
                r
                for (tenant, tid, _), r in self._spans.items()
                if tenant == scope.tenant_id and tid == trace_id and visible(scope, r.user_id)
            ]
            rows.sort(key=lambda r: (micros(r.start), r.span_id))
            return [copy_row(r) for r in rows]
