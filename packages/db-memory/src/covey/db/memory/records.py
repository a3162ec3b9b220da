"""The `Store` methods for memories, user profiles, learnings, knowledge, approvals,
schedules and trace spans; `MemoryStore` adds sessions, runs and the event log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from covey.db.memory.copies import private_copy
from covey.db.memory.pages import micros, page_of
from covey.db.memory.scoping import (
    check_optional,
    check_scope,
    check_sequence,
    check_type,
    stamp,
    visible,
    writable,
)
from covey.db.memory.tables import Tables, owned
from covey.spec.errors import ConflictError, InvalidInputError, NotFoundError
from covey.spec.store import (
    Approval,
    ApprovalStatus,
    KnowledgeContent,
    KnowledgeStatus,
    Learning,
    Memory,
    Page,
    Schedule,
    Scope,
    TraceSpan,
    UserProfile,
    check_id,
    check_limit,
    utc_now,
)

__all__ = ["RecordMethods"]

_BY_TIME = (int, str)


class RecordMethods(Tables):
    """Memories, profiles, learnings, knowledge contents, approvals, schedules and spans."""

    # --- memories --------------------------------------------------------------------------------

    async def add_memory(self, scope: Scope, memory: Memory) -> Memory:
        """See `Store.add_memory`."""
        check_scope(scope)
        check_type(memory, Memory, "memory")
        check_id(memory.id, "memory.id")
        check_id(memory.user_id, "memory.user_id")
        stamp(scope, memory.user_id, "memory")
        row = owned(memory, Memory, "memory")
        row.updated_at = utc_now()
        key = (scope.tenant_id, row.id)
        with self._lock:
            if key in self._memories:
                raise ConflictError(f"A memory with id {row.id!r} already exists")
            self._put_row(self._memories, key, row)
        return private_copy(row)

    async def get_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        """See `Store.get_memory`."""
        check_scope(scope)
        check_id(memory_id, "memory_id")
        row = self._memories.get((scope.tenant_id, memory_id))
        if row is None or not visible(scope, row.user_id):
            return None
        return private_copy(row)

    async def list_memories(
        self,
        scope: Scope,
        *,
        topic: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Memory]:
        """See `Store.list_memories`."""
        check_scope(scope)
        with self._lock:
            rows = [
                r
                for (tenant, _), r in self._memories.items()
                if tenant == scope.tenant_id
                and visible(scope, r.user_id)
                and (topic is None or topic in r.topics)
            ]
        return page_of(
            "memories",
            rows,
            lambda r: (micros(r.updated_at), r.id),
            _BY_TIME,
            descending=True,
            limit=limit,
            cursor=cursor,
            copy=private_copy,
        )

    async def update_memory(self, scope: Scope, memory: Memory) -> Memory:
        """See `Store.update_memory`."""
        check_scope(scope)
        check_type(memory, Memory, "memory")
        check_id(memory.id, "memory.id")
        check_id(memory.user_id, "memory.user_id")
        row = owned(memory, Memory, "memory")
        key = (scope.tenant_id, row.id)
        with self._lock:
            existing = self._memories.get(key)
            if existing is None or not visible(scope, existing.user_id):
                raise NotFoundError(f"No memory {row.id!r} in this scope")
            if row.user_id != existing.user_id:
                raise InvalidInputError(
                    f"memory {row.id!r} belongs to user {existing.user_id!r}; it cannot be "
                    f"moved to {row.user_id!r}"
                )
            row.created_at = existing.created_at
            row.updated_at = utc_now()
            self._put_row(self._memories, key, row)
        return private_copy(row)

    async def delete_memory(self, scope: Scope, memory_id: str) -> None:
        """See `Store.delete_memory`."""
        check_scope(scope)
        check_id(memory_id, "memory_id")
        key = (scope.tenant_id, memory_id)
        with self._lock:
            row = self._memories.get(key)
            if row is None or not visible(scope, row.user_id):
                raise NotFoundError(f"No memory {memory_id!r} in this scope")
            del self._memories[key]

    # --- user profiles ---------------------------------------------------------------------------

    async def get_user_profile(self, scope: Scope, user_id: str) -> UserProfile | None:
        """See `Store.get_user_profile`."""
        check_scope(scope)
        check_id(user_id, "user_id")
        row = self._profiles.get((scope.tenant_id, user_id))
        if row is None or not visible(scope, row.user_id):
            return None
        return private_copy(row)

    async def save_user_profile(self, scope: Scope, profile: UserProfile) -> UserProfile:
        """See `Store.save_user_profile`."""
        check_scope(scope)
        check_type(profile, UserProfile, "profile")
        check_id(profile.user_id, "profile.user_id")
        stamp(scope, profile.user_id, "profile")
        row = owned(profile, UserProfile, "profile")
        row.updated_at = utc_now()
        with self._lock:
            self._put_row(self._profiles, (scope.tenant_id, row.user_id), row)
        return private_copy(row)

    async def delete_user_profile(self, scope: Scope, user_id: str) -> None:
        """See `Store.delete_user_profile`."""
        check_scope(scope)
        check_id(user_id, "user_id")
        key = (scope.tenant_id, user_id)
        with self._lock:
            row = self._profiles.get(key)
            if row is None or not visible(scope, row.user_id):
                raise NotFoundError(f"No profile for user {user_id!r} in this scope")
            del self._profiles[key]

    # --- learnings -------------------------------------------------------------------------------

    async def add_learning(self, scope: Scope, learning: Learning) -> Learning:
        """See `Store.add_learning`."""
        check_scope(scope)
        check_type(learning, Learning, "learning")
        check_id(learning.id, "learning.id")
        check_id(learning.namespace, "learning.namespace")
        check_id(learning.kind, "learning.kind")
        user_id = stamp(scope, learning.user_id, "learning")
        row = owned(learning, Learning, "learning")
        row.user_id = user_id
        key = (scope.tenant_id, row.id)
        with self._lock:
            if key in self._learnings:
                raise ConflictError(f"A learning with id {row.id!r} already exists")
            self._put_row(self._learnings, key, row)
        return private_copy(row)

    async def get_learning(self, scope: Scope, learning_id: str) -> Learning | None:
        """See `Store.get_learning`."""
        check_scope(scope)
        check_id(learning_id, "learning_id")
        row = self._learnings.get((scope.tenant_id, learning_id))
        if row is None or not visible(scope, row.user_id, shared=True):
            return None
        return private_copy(row)

    async def list_learnings(
        self,
        scope: Scope,
        namespace: str,
        *,
        kind: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Learning]:
        """See `Store.list_learnings`."""
        check_scope(scope)
        check_id(namespace, "namespace")
        with self._lock:
            rows = [
                r
                for (tenant, _), r in self._learnings.items()
                if tenant == scope.tenant_id
                and r.namespace == namespace
                and visible(scope, r.user_id, shared=True)
                and (kind is None or r.kind == kind)
            ]
        return page_of(
            f"learnings:{namespace}",
            rows,
            lambda r: (micros(r.created_at), r.id),
            _BY_TIME,
            descending=True,
            limit=limit,
            cursor=cursor,
            copy=private_copy,
        )

    async def delete_learning(self, scope: Scope, learning_id: str) -> None:
        """See `Store.delete_learning`."""
        check_scope(scope)
        check_id(learning_id, "learning_id")
        key = (scope.tenant_id, learning_id)
        with self._lock:
            row = self._learnings.get(key)
            if row is None or not writable(scope, row.user_id):
                raise NotFoundError(f"No learning {learning_id!r} that this scope may delete")
            del self._learnings[key]

    # --- knowledge contents ----------------------------------------------------------------------

    async def save_knowledge_content(
        self, scope: Scope, content: KnowledgeContent
    ) -> KnowledgeContent:
        """See `Store.save_knowledge_content`."""
        check_scope(scope)
        check_type(content, KnowledgeContent, "content")
        check_id(content.id, "content.id")
        check_id(content.knowledge, "content.knowledge")
        user_id = stamp(scope, content.user_id, "content")
        row = owned(content, KnowledgeContent, "content")
        row.user_id = user_id
        key = (scope.tenant_id, row.id)
        with self._lock:
            existing = self._knowledge.get(key)
            if existing is not None and not writable(scope, existing.user_id):
                raise ConflictError(
                    f"Knowledge content id {row.id!r} is taken by a content this scope "
                    "may not write"
                )
            if existing is not None:
                row.created_at = existing.created_at
            row.updated_at = utc_now()
            self._put_row(self._knowledge, key, row)
        return private_copy(row)

    async def get_knowledge_content(self, scope: Scope, content_id: str) -> KnowledgeContent | None:
        """See `Store.get_knowledge_content`."""
        check_scope(scope)
        check_id(content_id, "content_id")
        row = self._knowledge.get((scope.tenant_id, content_id))
        if row is None or not visible(scope, row.user_id, shared=True):
            return None
        return private_copy(row)

    async def list_knowledge_contents(
        self,
        scope: Scope,
        *,
        knowledge: str | None = None,
        status: KnowledgeStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[KnowledgeContent]:
        """See `Store.list_knowledge_contents`."""
        check_scope(scope)
        if knowledge is not None:
            check_id(knowledge, "knowledge")
        with self._lock:
            rows = [
                r
                for (tenant, _), r in self._knowledge.items()
                if tenant == scope.tenant_id
                and visible(scope, r.user_id, shared=True)
                and (knowledge is None or r.knowledge == knowledge)
                and (status is None or r.status == status)
            ]
        return page_of(
            "knowledge",
            rows,
            lambda r: (micros(r.updated_at), r.id),
            _BY_TIME,
            descending=True,
            limit=limit,
            cursor=cursor,
            copy=private_copy,
        )

    async def delete_knowledge_content(self, scope: Scope, content_id: str) -> None:
        """See `Store.delete_knowledge_content`."""
        check_scope(scope)
        check_id(content_id, "content_id")
        key = (scope.tenant_id, content_id)
        with self._lock:
            row = self._knowledge.get(key)
            if row is None or not writable(scope, row.user_id):
                raise NotFoundError(f"No knowledge content {content_id!r} this scope may delete")
            del self._knowledge[key]

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
        row = owned(approval, Approval, "approval")
        row.user_id = user_id
        key = (scope.tenant_id, row.id)
        with self._lock:
            existing = self._approvals.get(key)
            if existing is not None and create_only:
                if not visible(scope, existing.user_id):
                    raise ConflictError(f"Approval id {row.id!r} is taken outside this scope")
                return private_copy(existing)
            if existing is not None and not writable(scope, existing.user_id):
                raise ConflictError(f"Approval id {row.id!r} is taken outside this scope")
            if existing is not None:
                row.created_at = existing.created_at
            self._put_approval(key, row, existing)
        return private_copy(row)

    async def get_approval(self, scope: Scope, approval_id: str) -> Approval | None:
        """See `Store.get_approval`."""
        check_scope(scope)
        check_id(approval_id, "approval_id")
        row = self._approvals.get((scope.tenant_id, approval_id))
        if row is None or not visible(scope, row.user_id):
            return None
        return private_copy(row)

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
        with self._lock:
            if run_id is not None:
                ids = self._run_approvals.get((scope.tenant_id, run_id), set[str]())
                candidates = [self._approvals[(scope.tenant_id, i)] for i in ids]
            else:
                candidates = [r for (t, _), r in self._approvals.items() if t == scope.tenant_id]
        rows = [
            r
            for r in candidates
            if visible(scope, r.user_id) and (status is None or r.status == status)
        ]
        return page_of(
            "approvals",
            rows,
            lambda r: (micros(r.created_at), r.id),
            _BY_TIME,
            descending=False,
            limit=limit,
            cursor=cursor,
            copy=private_copy,
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
        if note is not None and not isinstance(note, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidInputError(f"note must be a string, got {type(note).__name__}")
        key = (scope.tenant_id, approval_id)
        with self._lock:
            row = self._approvals.get(key)
            if row is None or not visible(scope, row.user_id):
                raise NotFoundError(f"No approval {approval_id!r} in this scope")
            if row.status != "pending":
                raise ConflictError(
                    f"Approval {approval_id!r} was already {row.status} by {row.resolved_by!r}"
                )
            resolved = row.model_copy(
                update={
                    "status": status,
                    "resolved_at": utc_now(),
                    "resolved_by": resolved_by,
                    "note": note,
                }
            )
            self._approvals[key] = resolved
        return private_copy(resolved)

    # --- schedules -------------------------------------------------------------------------------

    async def save_schedule(
        self, scope: Scope, schedule: Schedule, *, expected_updated_at: datetime | None = None
    ) -> Schedule:
        """See `Store.save_schedule`. Past `Retention.max_rows` schedules a new one is refused."""
        if expected_updated_at is not None:
            check_type(expected_updated_at, datetime, "expected_updated_at")
        check_scope(scope)
        check_type(schedule, Schedule, "schedule")
        check_id(schedule.id, "schedule.id")
        check_id(schedule.target_id, "schedule.target_id")
        user_id = stamp(scope, schedule.user_id, "schedule")
        row = owned(schedule, Schedule, "schedule")
        row.user_id = user_id
        key = (scope.tenant_id, row.id)
        with self._lock:
            existing = self._schedules.get(key)
            if existing is not None and not writable(scope, existing.user_id):
                raise ConflictError(f"Schedule id {row.id!r} is taken outside this scope")
            if expected_updated_at is not None and (
                existing is None or existing.updated_at != expected_updated_at
            ):
                raise ConflictError(f"Schedule {row.id!r} was changed or deleted since it was read")
            if existing is None and len(self._schedules) >= self.retention.max_rows:
                raise InvalidInputError(
                    f"the memory store already holds {len(self._schedules)} schedules, its "
                    "limit (memory://?max_rows=...); delete some or use a database store"
                )
            row.updated_at = utc_now()
            if existing is not None:
                row.created_at = existing.created_at
                # Strictly later than the version replaced, so a compare-and-set always sees it.
                row.updated_at = max(
                    row.updated_at, existing.updated_at + timedelta(microseconds=1)
                )
            self._schedules[key] = row
        return private_copy(row)

    async def get_schedule(self, scope: Scope, schedule_id: str) -> Schedule | None:
        """See `Store.get_schedule`."""
        check_scope(scope)
        check_id(schedule_id, "schedule_id")
        row = self._schedules.get((scope.tenant_id, schedule_id))
        if row is None or not visible(scope, row.user_id):
            return None
        return private_copy(row)

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
        with self._lock:
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
            (str,),
            descending=False,
            limit=limit,
            cursor=cursor,
            copy=private_copy,
        )

    async def delete_schedule(self, scope: Scope, schedule_id: str) -> None:
        """See `Store.delete_schedule`."""
        check_scope(scope)
        check_id(schedule_id, "schedule_id")
        key = (scope.tenant_id, schedule_id)
        with self._lock:
            row = self._schedules.get(key)
            if row is None or not visible(scope, row.user_id):
                raise NotFoundError(f"No schedule {schedule_id!r} in this scope")
            del self._schedules[key]

    async def list_due(self, scope: Scope, now: datetime) -> list[Schedule]:
        """See `Store.list_due`."""
        check_scope(scope)
        check_type(now, datetime, "now")
        limit = micros(now)
        with self._lock:
            due = [
                (micros(r.next_run_at), r.id, r)
                for (tenant, _), r in self._schedules.items()
                if tenant == scope.tenant_id
                and visible(scope, r.user_id)
                and r.enabled
                and r.next_run_at is not None
                and micros(r.next_run_at) <= limit
            ]
        due.sort(key=lambda d: (d[0], d[1]))
        return [private_copy(r) for _, _, r in due]

    async def list_due_tenants(self, now: datetime, *, limit: int = 1000) -> list[str]:
        """See `Store.list_due_tenants`."""
        check_type(now, datetime, "now")
        check_limit(limit)
        at = micros(now)
        with self._lock:
            tenants = {
                tenant
                for (tenant, _), r in self._schedules.items()
                if r.enabled and r.next_run_at is not None and micros(r.next_run_at) <= at
            }
        return sorted(tenants)[:limit]

    # --- traces ----------------------------------------------------------------------------------

    async def add_spans(self, scope: Scope, spans: Sequence[TraceSpan]) -> None:
        """See `Store.add_spans`."""
        check_scope(scope)
        check_sequence(spans, "spans")
        staged: list[TraceSpan] = []
        for span in spans:
            check_type(span, TraceSpan, "span")
            check_id(span.trace_id, "span.trace_id")
            check_id(span.span_id, "span.span_id")
            check_optional(span.parent_span_id, "span.parent_span_id")
            user_id = stamp(scope, span.user_id, "span")
            row = owned(span, TraceSpan, "span")
            row.user_id = user_id
            staged.append(row)
        with self._lock:
            for span in staged:
                trace = self._traces.get((scope.tenant_id, span.trace_id))
                existing = None if trace is None else trace.get(span.span_id)
                if existing is not None and not writable(scope, existing.user_id):
                    raise ConflictError(
                        f"Span {span.span_id!r} of trace {span.trace_id!r} is taken outside "
                        "this scope; nothing was written"
                    )
            self._put_spans(scope.tenant_id, staged)

    async def list_spans(self, scope: Scope, trace_id: str) -> list[TraceSpan]:
        """See `Store.list_spans`."""
        check_scope(scope)
        check_id(trace_id, "trace_id")
        with self._lock:
            trace = self._traces.get((scope.tenant_id, trace_id), {})
            rows = [r for r in trace.values() if visible(scope, r.user_id)]
        rows.sort(key=lambda r: (micros(r.start), r.span_id))
        return [private_copy(r) for r in rows]
