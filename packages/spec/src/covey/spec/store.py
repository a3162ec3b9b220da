"""The `Store` interface: everything Covey persists, always within a `Scope`.

A store keeps sessions, runs, the append-only run-event log, memories, user profiles,
learnings, knowledge contents, approvals, schedules and trace spans. Every call takes a `Scope`
first, and no call can read, change or delete a row outside it. The one exception is
`list_due_tenants`: an operation of the deployment itself (the runtime's scheduler asks it which
tenants have due schedules), it takes no scope and returns tenant ids only, never rows.

Scope rules every implementation follows (and `covey-conformance` checks):

- Each row belongs to the tenant it was written under. Ids are unique per tenant: two tenants
  may use the same id without ever seeing each other's row.
- A scope with a `user_id` sees only rows whose `user_id` is that user. Writing a row whose
  `user_id` is `None` under such a scope stamps the scope's user on it; writing a row for another
  user raises `InvalidInputError`. A tenant-wide scope (`user_id=None`) sees and writes every
  row of its tenant.
- Learnings and knowledge contents may be *shared*: with `user_id=None` they are read by every
  user of the tenant, but changed or deleted only under a tenant-wide scope.
- Saving a row whose id is already taken, in the tenant, by a row the scope cannot write raises
  `ConflictError` and changes nothing.
- Sessions are namespaced per user as well as per tenant: a session is keyed by
  `(tenant_id, user_id, id)`, where `user_id=None` is a namespace of its own (sessions with no
  user). Two users of one tenant may use the same session id and get two independent sessions,
  and neither can learn that the other's exists. A user scope reaches only its user's
  sessions; a tenant-wide scope reads, saves and deletes sessions of the no-user namespace,
  and lists every user's sessions of the tenant (to act on one user's session, use
  `scope.for_user(user_id)`). Runs keep ids unique per tenant; a run's `session_id` names a
  session in the run's own user namespace.

Error conventions: `get_*` returns `None` for a missing (or invisible) row and `list_*` returns
what is visible; updating or deleting a missing row raises `NotFoundError`; a malformed id,
limit or cursor raises `InvalidInputError`; an optimistic-concurrency or uniqueness failure
raises `ConflictError`. Nothing is written when an error is raised.

Timestamps are timezone-aware UTC datetimes (naive ones are read as UTC). `created_at` is kept
from the first write; `updated_at` is set by the store on every write.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from covey.spec.store_history import HistoryMethods
from covey.spec.store_memory import MemoryMethods
from covey.spec.store_operations import OperationsMethods
from covey.spec.store_rows import (
    MAX_ID_LENGTH,
    MAX_PAGE_SIZE,
    MAX_SEARCH_LENGTH,
    RESERVED_NAMESPACE_PREFIX,
    Approval,
    ApprovalStatus,
    KnowledgeContent,
    KnowledgeStatus,
    Learning,
    LearningNamespace,
    Memory,
    MemoryUser,
    Page,
    Run,
    Schedule,
    ScheduleTarget,
    ScheduleTrigger,
    Scope,
    Session,
    SpanStatus,
    TraceSpan,
    UserProfile,
    UTCDateTime,
    check_id,
    check_limit,
    check_search,
    new_id,
    utc_now,
)
from covey.spec.store_rows import T as T  # the type variable this module always had

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_PAGE_SIZE",
    "MAX_SEARCH_LENGTH",
    "RESERVED_NAMESPACE_PREFIX",
    "Approval",
    "ApprovalStatus",
    "KnowledgeContent",
    "KnowledgeStatus",
    "Learning",
    "LearningNamespace",
    "Memory",
    "MemoryUser",
    "Page",
    "Run",
    "Schedule",
    "ScheduleTarget",
    "ScheduleTrigger",
    "Scope",
    "Session",
    "SpanStatus",
    "Store",
    "TraceSpan",
    "UTCDateTime",
    "UserProfile",
    "check_id",
    "check_limit",
    "check_search",
    "new_id",
    "utc_now",
]


class Store(HistoryMethods, MemoryMethods, OperationsMethods):
    """Where Covey keeps its state. Every method is async and takes a `Scope` first.

    See the module documentation for the scope rules and error conventions every method
    follows. Implementations are used as async context managers (or closed with `close`) and
    must be safe to share between concurrent tasks. `covey-conformance`'s `StoreSuite` checks all
    of it.
    """

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Release connections. Safe to call more than once."""
        return None
