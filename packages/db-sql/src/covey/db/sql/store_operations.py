"""The approvals, schedules and trace spans of `SqlStore`.

What a running service keeps beside its conversations: decisions taken exactly once, schedules
updated by compare-and-set, and spans upserted by `(trace_id, span_id)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, delete, select, true, update
from sqlalchemy.engine import Connection

from covey.db.sql import records
from covey.db.sql import tables as t
from covey.db.sql.pages import micros
from covey.db.sql.scoping import (
    check_optional,
    check_scope,
    check_sequence,
    check_type,
    stamp,
    visible,
    writable,
)
from covey.db.sql.statements import set_from_excluded
from covey.db.sql.store_core import (
    FIXED_COLUMNS,
    StoreCore,
    check_literal,
    fetch_all,
    fetch_one,
    ts_literal,
)
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

__all__ = ["SqlOperations", "due_tenants_statement"]


def due_tenants_statement(now: datetime, limit: int) -> Select[tuple[str]]:
    """The query of `list_due_tenants` (the plan tests ask the database how it reads it)."""
    sc = t.SCHEDULES
    return (
        select(sc.c.tenant_id)
        .where(
            sc.c.enabled == true(),
            sc.c.next_run_at.is_not(None),
            sc.c.next_run_at <= now,
        )
        .distinct()
        .order_by(sc.c.tenant_id)
        .limit(limit)
    )


class SqlOperations(StoreCore):
    """Approvals, schedules and trace spans."""

    # --- approvals -------------------------------------------------------------------------------

    async def save_approval(
        self, scope: Scope, approval: Approval, *, create_only: bool = False
    ) -> Approval:
        """See `Store.save_approval`."""
        check_scope(scope)
        check_type(approval, Approval, "approval")
        check_id(approval.id, "approval.id")
        check_id(approval.run_id, "approval.run_id")
        check_id(approval.tool_call_id, "approval.tool_call_id")
        check_optional(approval.resolved_by, "approval.resolved_by")
        user_id = stamp(scope, approval.user_id, "approval")
        _, values = self._values(records.APPROVAL, approval, "approval")
        values.update(tenant_id=scope.tenant_id, user_id=user_id)
        a = t.APPROVALS
        insert = self._insert(a).values(**values)
        if create_only:
            created = insert.on_conflict_do_nothing(index_elements=[a.c.tenant_id, a.c.id])
            existing = select(a).where(visible(a, scope), a.c.id == approval.id)

            def create(c: Connection) -> Approval | None:
                return fetch_one(c, created.returning(*a.c), records.APPROVAL) or fetch_one(
                    c, existing, records.APPROVAL
                )

            saved = await self._write("save_approval", create)
        else:
            statement = insert.on_conflict_do_update(
                index_elements=[a.c.tenant_id, a.c.id],
                set_=set_from_excluded(a, insert, keep=("created_at",)),
                where=writable(a, scope),
            ).returning(*a.c)
            saved = await self._write(
                "save_approval", lambda c: fetch_one(c, statement, records.APPROVAL)
            )
        if saved is None:
            raise ConflictError(f"Approval id {approval.id!r} is taken outside this scope")
        return saved

    async def get_approval(self, scope: Scope, approval_id: str) -> Approval | None:
        """See `Store.get_approval`."""
        check_scope(scope)
        check_id(approval_id, "approval_id")
        return await self._get("get_approval", scope, records.APPROVAL, approval_id)

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
        check_scope(scope)
        check_optional(run_id, "run_id")
        a = t.APPROVALS
        query = select(a).where(visible(a, scope))
        if status is not None:
            query = query.where(a.c.status == check_literal("status", status))
        if run_id is not None:
            query = query.where(a.c.run_id == run_id)
        return await self._page(
            "list_approvals",
            "approvals",
            records.APPROVAL,
            query,
            [a.c.created_at, a.c.id],
            lambda x: (micros(x.created_at), x.id),
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
        check_scope(scope)
        check_id(approval_id, "approval_id")
        check_optional(resolved_by, "resolved_by")
        if status not in ("approved", "rejected"):
            raise InvalidInputError(f"status must be 'approved' or 'rejected', got {status!r}")
        if note is not None:
            check_type(note, str, "note")
        a = t.APPROVALS
        statement = (
            update(a)
            .where(visible(a, scope), a.c.id == approval_id, a.c.status == "pending")
            .values(status=status, resolved_at=utc_now(), resolved_by=resolved_by, note=note)
            .returning(*a.c)
        )

        def resolve(c: Connection) -> Approval:
            resolved = fetch_one(c, statement, records.APPROVAL)
            if resolved is not None:
                return resolved
            row = c.execute(
                select(a.c.status, a.c.resolved_by).where(visible(a, scope), a.c.id == approval_id)
            ).first()
            if row is None:
                raise NotFoundError(f"No approval {approval_id!r} in this scope")
            raise ConflictError(
                f"Approval {approval_id!r} was already {row.status} by {row.resolved_by!r}"
            )

        return await self._write("resolve_approval", resolve)

    # --- schedules -------------------------------------------------------------------------------

    async def save_schedule(
        self, scope: Scope, schedule: Schedule, *, expected_updated_at: datetime | None = None
    ) -> Schedule:
        """See `Store.save_schedule`."""
        check_scope(scope)
        check_type(schedule, Schedule, "schedule")
        check_id(schedule.id, "schedule.id")
        check_id(schedule.target_id, "schedule.target_id")
        if expected_updated_at is not None:
            check_type(expected_updated_at, datetime, "expected_updated_at")
        user_id = stamp(scope, schedule.user_id, "schedule")
        _, values = self._values(records.SCHEDULE, schedule, "schedule")
        values.update(tenant_id=scope.tenant_id, user_id=user_id, updated_at=utc_now())
        sc = t.SCHEDULES
        if expected_updated_at is not None:
            # `UPDATE ... WHERE updated_at = :expected`: of several writers that read the same
            # version exactly one matches; the new version is strictly later than the old one.
            values["updated_at"] = max(
                values["updated_at"], expected_updated_at + timedelta(microseconds=1)
            )
            swap = (
                update(sc)
                .where(
                    writable(sc, scope),
                    sc.c.id == schedule.id,
                    sc.c.updated_at == ts_literal(expected_updated_at),
                )
                .values(**{k: v for k, v in values.items() if k not in FIXED_COLUMNS})
                .returning(*sc.c)
            )
            swapped = await self._write(
                "save_schedule", lambda c: fetch_one(c, swap, records.SCHEDULE)
            )
            if swapped is None:
                raise ConflictError(f"Schedule {schedule.id!r} was changed or deleted since read")
            return swapped
        insert = self._insert(sc).values(**values)
        statement = insert.on_conflict_do_update(
            index_elements=[sc.c.tenant_id, sc.c.id],
            set_=set_from_excluded(sc, insert, keep=("created_at",)),
            where=writable(sc, scope),
        ).returning(*sc.c)
        saved = await self._write(
            "save_schedule", lambda c: fetch_one(c, statement, records.SCHEDULE)
        )
        if saved is None:
            raise ConflictError(f"Schedule id {schedule.id!r} is taken outside this scope")
        return saved

    async def get_schedule(self, scope: Scope, schedule_id: str) -> Schedule | None:
        """See `Store.get_schedule`."""
        check_scope(scope)
        check_id(schedule_id, "schedule_id")
        return await self._get("get_schedule", scope, records.SCHEDULE, schedule_id)

    async def list_schedules(
        self,
        scope: Scope,
        *,
        enabled: bool | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Schedule]:
        """See `Store.list_schedules`."""
        check_scope(scope)
        if enabled is not None:
            check_type(enabled, bool, "enabled")
        sc = t.SCHEDULES
        query = select(sc).where(visible(sc, scope))
        if enabled is not None:
            query = query.where(sc.c.enabled == enabled)
        return await self._page(
            "list_schedules",
            "schedules",
            records.SCHEDULE,
            query,
            [sc.c.id],
            lambda x: (x.id,),
            descending=False,
            limit=limit,
            cursor=cursor,
        )

    async def delete_schedule(self, scope: Scope, schedule_id: str) -> None:
        """See `Store.delete_schedule`."""
        check_scope(scope)
        check_id(schedule_id, "schedule_id")
        sc = t.SCHEDULES
        statement = delete(sc).where(visible(sc, scope), sc.c.id == schedule_id).returning(sc.c.id)
        if await self._write("delete_schedule", lambda c: c.execute(statement).first()) is None:
            raise NotFoundError(f"No schedule {schedule_id!r} in this scope")

    async def list_due(self, scope: Scope, now: datetime) -> list[Schedule]:
        """See `Store.list_due`."""
        check_scope(scope)
        check_type(now, datetime, "now")
        sc = t.SCHEDULES
        query = (
            select(sc)
            .where(
                visible(sc, scope),
                sc.c.enabled == true(),
                sc.c.next_run_at.is_not(None),
                sc.c.next_run_at <= now,
            )
            .order_by(sc.c.next_run_at, sc.c.id)
        )
        return await self._read("list_due", lambda c: fetch_all(c, query, records.SCHEDULE))

    async def list_due_tenants(self, now: datetime, *, limit: int = 1000) -> list[str]:
        """See `Store.list_due_tenants`. Served by the index `ix_covey_schedules_due_tenants`
        `(enabled, next_run_at, tenant_id)`: a range of due rows, read from the index alone."""
        check_type(now, datetime, "now")
        query = due_tenants_statement(now, check_limit(limit))
        return await self._read(
            "list_due_tenants", lambda c: [str(x) for x in c.execute(query).scalars()]
        )

    # --- traces ----------------------------------------------------------------------------------

    async def add_spans(self, scope: Scope, spans: Sequence[TraceSpan]) -> None:
        """See `Store.add_spans`."""
        check_scope(scope)
        check_sequence(spans, "spans")
        staged: dict[tuple[str, str], dict[str, Any]] = {}
        for span in spans:
            check_type(span, TraceSpan, "span")
            check_id(span.trace_id, "span.trace_id")
            check_id(span.span_id, "span.span_id")
            check_optional(span.parent_span_id, "span.parent_span_id")
            user_id = stamp(scope, span.user_id, "span")
            _, values = self._values(records.SPAN, span, f"span {span.span_id!r}")
            values.update(tenant_id=scope.tenant_id, user_id=user_id)
            staged[(span.trace_id, span.span_id)] = values  # a re-sent span: the last one wins
        if not staged:
            return
        sp = t.SPANS
        statements: list[tuple[dict[str, Any], Any]] = []
        for values in staged.values():
            insert = self._insert(sp).values(**values)
            statement = insert.on_conflict_do_update(
                index_elements=[sp.c.tenant_id, sp.c.trace_id, sp.c.span_id],
                set_=set_from_excluded(sp, insert),
                where=writable(sp, scope),
            ).returning(sp.c.span_id)
            statements.append((values, statement))

        def add(c: Connection) -> None:
            for values, statement in statements:
                if c.execute(statement).first() is None:
                    raise ConflictError(
                        f"Span {values['span_id']!r} of trace {values['trace_id']!r} is taken "
                        "outside this scope; nothing was written"
                    )

        await self._write("add_spans", add)

    async def list_spans(self, scope: Scope, trace_id: str) -> list[TraceSpan]:
        """See `Store.list_spans`."""
        check_scope(scope)
        check_id(trace_id, "trace_id")
        sp = t.SPANS
        query = (
            select(sp)
            .where(visible(sp, scope), sp.c.trace_id == trace_id)
            .order_by(sp.c.start, sp.c.span_id)
        )
        return await self._read("list_spans", lambda c: fetch_all(c, query, records.SPAN))
