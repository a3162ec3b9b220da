"""`Store`'s abstract methods on approvals, schedules and trace spans.

`covey.spec.store.Store` inherits them; the scope rules and error conventions in the
documentation of `covey.spec.store` hold for each.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from covey.spec.store_rows import Approval, ApprovalStatus, Page, Schedule, Scope, TraceSpan

__all__ = ["OperationsMethods"]


class OperationsMethods(ABC):
    """What a running service keeps beside conversations: approvals, schedules, trace spans."""

    # --- approvals -------------------------------------------------------------------------------

    @abstractmethod
    async def save_approval(
        self, scope: Scope, approval: Approval, *, create_only: bool = False
    ) -> Approval:
        """Create or replace an approval.

        With `create_only` the save only creates: when the id is already stored in the scope,
        the stored approval is returned unchanged. Concurrent creators of one approval (each
        reading a paused run and recording its requirement) then all get the same row, and none
        of them resets a decision someone made meanwhile — which a replace would, letting two
        deciders both win `resolve_approval`'s compare-and-set.

        Raises:
            ConflictError: the id is taken by an approval outside the scope.
            InvalidInputError: an id is malformed, or `approval.user_id` is another user's.
        """

    @abstractmethod
    async def get_approval(self, scope: Scope, approval_id: str) -> Approval | None:
        """The approval, or `None` when there is none in the scope."""

    @abstractmethod
    async def list_approvals(
        self,
        scope: Scope,
        *,
        status: ApprovalStatus | None = None,
        run_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Approval]:
        """Approvals in the scope, oldest first (`created_at`, then id, ascending).

        Args:
            scope: Whose approvals.
            status: Only approvals with this status (e.g. `pending`: the inbox).
            run_id: Only this run's approvals.
            limit: Page size, 1 to `MAX_PAGE_SIZE`.
            cursor: `next_cursor` of the previous page.
        """

    @abstractmethod
    async def resolve_approval(
        self,
        scope: Scope,
        approval_id: str,
        *,
        status: Literal["approved", "rejected"],
        resolved_by: str | None = None,
        note: str | None = None,
    ) -> Approval:
        """Approve or reject a pending approval, once.

        Returns:
            The resolved approval, with `resolved_at` now.

        Raises:
            NotFoundError: no such approval in the scope.
            ConflictError: it is no longer pending (someone resolved it first).
            InvalidInputError: `status` is not `approved` or `rejected`.
        """

    # --- schedules -------------------------------------------------------------------------------

    @abstractmethod
    async def save_schedule(
        self, scope: Scope, schedule: Schedule, *, expected_updated_at: datetime | None = None
    ) -> Schedule:
        """Create or replace a schedule; `created_at` is kept from the first save and
        `updated_at` is set to now on every save.

        With `expected_updated_at` the save is a compare-and-set: it happens only if the stored
        schedule exists and its `updated_at` still equals it, checked atomically with the write.
        This is how one of several processes claims a due firing (and how an edit never
        overwrites a firing's bookkeeping, nor the reverse): exactly one wins.

        Raises:
            ConflictError: the id is taken by a schedule outside the scope, or
                `expected_updated_at` is given and the stored schedule is missing or was saved
                since (nothing is written).
            InvalidInputError: an id is malformed, or `schedule.user_id` is another user's.
        """

    @abstractmethod
    async def get_schedule(self, scope: Scope, schedule_id: str) -> Schedule | None:
        """The schedule, or `None` when there is none in the scope."""

    @abstractmethod
    async def list_schedules(
        self,
        scope: Scope,
        *,
        enabled: bool | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Schedule]:
        """Schedules in the scope, by id ascending.

        Args:
            scope: Whose schedules.
            enabled: Only enabled (True) or disabled (False) schedules.
            limit: Page size, 1 to `MAX_PAGE_SIZE`.
            cursor: `next_cursor` of the previous page.
        """

    @abstractmethod
    async def delete_schedule(self, scope: Scope, schedule_id: str) -> None:
        """Delete a schedule.

        Raises:
            NotFoundError: no such schedule in the scope.
        """

    @abstractmethod
    async def list_due(self, scope: Scope, now: datetime) -> list[Schedule]:
        """Enabled schedules whose `next_run_at` is at or before `now`, soonest first (ties: id)."""

    @abstractmethod
    async def list_due_tenants(self, now: datetime, *, limit: int = 1000) -> list[str]:
        """The ids of the tenants with at least one enabled schedule whose `next_run_at` is at
        or before `now`, sorted, each once; at most `limit` of them (1 to `MAX_PAGE_SIZE`).

        The one method without a `Scope`: it is an operation of the deployment itself, not of a
        tenant, so that every runtime process finds every tenant's due schedules (also after a
        restart, or on a worker the tenant never used) and then reads them with `list_due`
        under that tenant's scope. It returns tenant ids only, never rows or anything else
        about a schedule; do not expose it to a tenant's callers.

        Raises:
            InvalidInputError: `now` is not a datetime, or `limit` is out of range.
        """

    # --- traces ----------------------------------------------------------------------------------

    @abstractmethod
    async def add_spans(self, scope: Scope, spans: Sequence[TraceSpan]) -> None:
        """Store spans; a span with a stored `(trace_id, span_id)` replaces it (exports retry).

        Raises:
            ConflictError: a span id is taken by a span outside the scope.
            InvalidInputError: an id is malformed, or a span's `user_id` is another user's.
        """

    @abstractmethod
    async def list_spans(self, scope: Scope, trace_id: str) -> list[TraceSpan]:
        """The scope's spans of one trace, by `start` (ties: span id)."""
