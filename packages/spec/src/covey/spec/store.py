"""The `Store` interface: everything Covey persists, always within a `Scope`.

A store keeps sessions, runs, the append-only run-event log, memories, user profiles,
learnings, knowledge contents, approvals, schedules and trace spans. Every call takes a `Scope`
first, and no call can read, change or delete a row outside it.

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

import unicodedata
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Annotated, Any, Generic, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypeVar

from covey.spec.errors import InvalidInputError, NotFoundError
from covey.spec.events import BaseEvent
from covey.spec.messages import ModelMessage, ModelRequest, ModelResponse
from covey.spec.runs import ErrorInfo, Requirement, RunResult, RunStatus, ToolCallRecord
from covey.spec.usage import Usage

__all__ = [
    "MAX_ID_LENGTH",
    "MAX_PAGE_SIZE",
    "Approval",
    "ApprovalStatus",
    "KnowledgeContent",
    "KnowledgeStatus",
    "Learning",
    "Memory",
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
    "new_id",
    "utc_now",
]

MAX_ID_LENGTH = 255
"""The longest id (in characters) a store accepts."""

MAX_PAGE_SIZE = 1000
"""The largest `limit` a `list_*` call accepts."""

T = TypeVar("T")


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def new_id() -> str:
    """A fresh random id (32 hex characters)."""
    return uuid.uuid4().hex


def _to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


UTCDateTime = Annotated[datetime, AfterValidator(_to_utc)]
"""A datetime normalised to aware UTC; a naive value is taken to be UTC already."""


def check_id(value: object, what: str = "id") -> str:
    """Return `value` if it is a valid id, else raise `InvalidInputError`.

    A valid id is a non-empty string of at most `MAX_ID_LENGTH` characters without control
    characters. Store implementations call this on every id they are given.

    Args:
        value: The id to check.
        what: What the id names, for the error message (`"session_id"`, ...).

    Raises:
        InvalidInputError: `value` is not a valid id.
    """
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidInputError(f"{what} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidInputError(
            f"{what} is {len(value)} characters long; the limit is {MAX_ID_LENGTH}"
        )
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise InvalidInputError(f"{what} {value!r} contains a control character; remove it")
    return value


def check_limit(limit: int) -> int:
    """Return `limit` if it is a valid page size (1..`MAX_PAGE_SIZE`), else raise.

    Raises:
        InvalidInputError: `limit` is out of range.
    """
    if type(limit) is not int or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInputError(
            f"limit must be an integer from 1 to {MAX_PAGE_SIZE}, got {limit!r}"
        )
    return limit


@dataclass(frozen=True, slots=True)
class Scope:
    """Who is asking: a tenant and, optionally, one of its users.

    `user_id=None` is tenant-wide: the caller sees every user's rows of that tenant (admin and
    service code). A scope never reaches another tenant.

    Args:
        tenant_id: The tenant; single-tenant deployments use `"default"`.
        user_id: The user, or `None` for tenant-wide access.

    Raises:
        InvalidInputError: an id is empty, too long or has control characters.
    """

    tenant_id: str = "default"
    user_id: str | None = None

    def __post_init__(self) -> None:
        check_id(self.tenant_id, "tenant_id")
        if self.user_id is not None:
            check_id(self.user_id, "user_id")

    @property
    def is_tenant_wide(self) -> bool:
        """Whether this scope sees every user's rows of its tenant."""
        return self.user_id is None

    def for_user(self, user_id: str | None) -> Scope:
        """The same tenant, narrowed to `user_id` (or widened to the whole tenant with `None`)."""
        return Scope(self.tenant_id, user_id)


class _Record(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a listing. Pass `next_cursor` back as `cursor` for the next page.

    `next_cursor` is `None` on the last page. Cursors are opaque strings, valid for the store
    and the listing (same filters) that produced them.
    """

    model_config = ConfigDict(defer_build=True, extra="forbid")

    items: list[T]
    next_cursor: str | None = None


# --- records -------------------------------------------------------------------------------------


class Session(_Record):
    """A conversation with an agent, team or workflow: its state, summary and metadata.

    Its runs are `Run` rows pointing at it by `session_id`.
    """

    id: str = Field(default_factory=new_id)
    agent_id: str | None = None
    """The agent, team or workflow the session belongs to."""
    user_id: str | None = None
    state: dict[str, Any] = Field(default_factory=dict[str, Any])
    """Session state, read and updated by tools through `RunContext.state`."""
    summary: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])
    version: int = 0
    """Optimistic-concurrency counter: 0 before the first save, then 1, 2, ... per save."""
    created_at: UTCDateTime = Field(default_factory=utc_now)
    updated_at: UTCDateTime = Field(default_factory=utc_now)


class Run(_Record):
    """A run as stored: its status, input and outcome, and the flags that steer it.

    Build one from a finished (or paused) run with `Run.from_result`, and turn it back with
    `to_result`.
    """

    id: str = Field(default_factory=new_id)
    session_id: str | None = None
    agent_id: str | None = None
    parent_run_id: str | None = None
    user_id: str | None = None
    status: RunStatus = RunStatus.RUNNING
    input: Any = None
    output: Any = None
    """The run's output as JSON-like data (models come back as dicts)."""
    usage: Usage = Field(default_factory=Usage)
    messages: list[ModelMessage] = Field(default_factory=list[ModelRequest | ModelResponse])
    """The messages this run added (not the history it was given)."""
    tool_calls: list[ToolCallRecord] = Field(default_factory=list[ToolCallRecord])
    requirements: list[Requirement] = Field(default_factory=list[Requirement])
    error: ErrorInfo | None = None
    cancel_requested: bool = False
    """Set by `Store.request_cancel`; the process running the run stops when it sees it."""
    heartbeat_at: UTCDateTime | None = None
    """Last renewal of the run's lease by the process running it; a run whose lease lapsed is
    closed as interrupted."""
    started_at: UTCDateTime | None = None
    finished_at: UTCDateTime | None = None
    created_at: UTCDateTime = Field(default_factory=utc_now)
    updated_at: UTCDateTime = Field(default_factory=utc_now)
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])

    @classmethod
    def from_result(
        cls,
        result: RunResult[Any],
        *,
        input: Any = None,
        metadata: dict[str, Any] | None = None,
    ) -> Run:
        """The stored form of `result`.

        Args:
            result: The run's result (any status).
            input: What the run was asked, as JSON-like data.
            metadata: Extra data to keep with the run; the result's `references` are kept
                under `"references"`.
        """
        if result.references:
            metadata = {
                **(metadata or {}),
                "references": [hit.model_dump(mode="json") for hit in result.references],
            }
        return cls(
            id=result.run_id,
            session_id=result.session_id,
            agent_id=result.agent_id,
            parent_run_id=result.parent_run_id,
            user_id=result.user_id,
            status=result.status,
            input=input,
            output=result.output,
            usage=result.usage.model_copy(deep=True),
            messages=[m.model_copy(deep=True) for m in result.messages],
            tool_calls=[t.model_copy(deep=True) for t in result.tool_calls],
            requirements=[r.model_copy(deep=True) for r in result.requirements],
            error=result.error.model_copy(deep=True) if result.error else None,
            started_at=result.started_at,
            finished_at=result.finished_at,
            created_at=result.started_at or utc_now(),
            metadata=dict(metadata or {}),
        )

    def to_result(self) -> RunResult[Any]:
        """The `RunResult` this row describes (without the history the run was given)."""
        return RunResult[Any](
            run_id=self.id,
            session_id=self.session_id,
            agent_id=self.agent_id,
            parent_run_id=self.parent_run_id,
            user_id=self.user_id,
            status=self.status,
            output=self.output,
            usage=self.usage.model_copy(deep=True),
            messages=[m.model_copy(deep=True) for m in self.messages],
            tool_calls=[t.model_copy(deep=True) for t in self.tool_calls],
            requirements=[r.model_copy(deep=True) for r in self.requirements],
            error=self.error.model_copy(deep=True) if self.error else None,
            references=self.metadata.get("references") or [],
            started_at=self.started_at,
            finished_at=self.finished_at,
        )


class Memory(_Record):
    """Something worth remembering about a user, across sessions."""

    id: str = Field(default_factory=new_id)
    user_id: str
    memory: str
    topics: list[str] = Field(default_factory=list[str])
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])
    created_at: UTCDateTime = Field(default_factory=utc_now)
    updated_at: UTCDateTime = Field(default_factory=utc_now)


class UserProfile(_Record):
    """What is known about a user as structured data; one per user."""

    user_id: str
    data: dict[str, Any] = Field(default_factory=dict[str, Any])
    updated_at: UTCDateTime = Field(default_factory=utc_now)


class Learning(_Record):
    """Something an agent learned, filed under a namespace.

    With `user_id=None` the learning is shared by every user of the tenant.
    """

    id: str = Field(default_factory=new_id)
    namespace: str
    """Where the learning is filed, e.g. the agent or the kind of task."""
    kind: str = "insight"
    """What sort of learning it is, e.g. `insight`, `rule`, `preference`."""
    content: str
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])
    user_id: str | None = None
    created_at: UTCDateTime = Field(default_factory=utc_now)


KnowledgeStatus = Literal["pending", "processing", "completed", "failed"]


class KnowledgeContent(_Record):
    """A document added to a knowledge base, tracked through ingestion.

    With `user_id=None` the content is shared by every user of the tenant.
    """

    id: str = Field(default_factory=new_id)
    knowledge: str = "default"
    """The name of the knowledge base it belongs to."""
    name: str
    source: str | None = None
    """Where it came from: a URL, a path, `upload`..."""
    content_type: str | None = None
    status: KnowledgeStatus = "pending"
    status_message: str | None = None
    """Why ingestion failed, or how far it got."""
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])
    size: int | None = None
    """Size of the source in bytes, when known."""
    content_hash: str | None = None
    """A hash of the source's bytes: re-ingesting unchanged content can be skipped."""
    chunk_count: int = Field(default=0, ge=0)
    """How many chunks of it are stored (so far, while processing)."""
    user_id: str | None = None
    created_at: UTCDateTime = Field(default_factory=utc_now)
    updated_at: UTCDateTime = Field(default_factory=utc_now)


ApprovalStatus = Literal["pending", "approved", "rejected"]


class Approval(_Record):
    """A tool call waiting for (or given) a human decision."""

    id: str = Field(default_factory=new_id)
    run_id: str
    tool_call_id: str
    tool_name: str
    args: dict[str, Any] = Field(default_factory=dict[str, Any])
    status: ApprovalStatus = "pending"
    note: str | None = None
    """What the person who resolved it said."""
    user_id: str | None = None
    """The user whose run asked for approval."""
    created_at: UTCDateTime = Field(default_factory=utc_now)
    resolved_at: UTCDateTime | None = None
    resolved_by: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])


ScheduleTrigger = Literal["cron", "interval"]
ScheduleTarget = Literal["agent", "team", "workflow"]


class Schedule(_Record):
    """A run started on a timetable.

    `spec` is a cron expression (5 or 6 fields) for `trigger="cron"`, or a number of seconds
    for `trigger="interval"`.
    """

    id: str = Field(default_factory=new_id)
    name: str
    target_kind: ScheduleTarget = "agent"
    target_id: str
    """The id of the agent, team or workflow to run."""
    trigger: ScheduleTrigger
    spec: str
    timezone: str = "UTC"
    payload: dict[str, Any] = Field(default_factory=dict[str, Any])
    """The run's input and options."""
    enabled: bool = True
    next_run_at: UTCDateTime | None = None
    last_run_at: UTCDateTime | None = None
    user_id: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])
    created_at: UTCDateTime = Field(default_factory=utc_now)
    updated_at: UTCDateTime = Field(default_factory=utc_now)

    @model_validator(mode="after")
    def _check_spec(self) -> Schedule:
        if self.trigger == "interval":
            try:
                seconds = float(self.spec)
            except ValueError:
                seconds = 0.0
            if not seconds > 0:
                raise ValueError(
                    f"an interval schedule's spec is a positive number of seconds, got {self.spec!r}"
                )
        elif len(self.spec.split()) not in (5, 6):
            raise ValueError(
                f"a cron schedule's spec has 5 or 6 fields (e.g. '0 9 * * 1-5'), got {self.spec!r}"
            )
        return self


SpanStatus = Literal["unset", "ok", "error"]


class TraceSpan(_Record):
    """One span of a trace, as exported by Covey's tracing."""

    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    name: str
    start: UTCDateTime
    end: UTCDateTime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict[str, Any])
    status: SpanStatus = "unset"
    status_message: str | None = None
    user_id: str | None = None


# --- the interface -------------------------------------------------------------------------------


class Store(ABC):
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

    # --- sessions --------------------------------------------------------------------------------

    @abstractmethod
    async def get_session(self, scope: Scope, session_id: str) -> Session | None:
        """The session `session_id` of the scope's user namespace, or `None`.

        A user scope reads that user's session; a tenant-wide scope reads the session of the
        no-user namespace (`user_id=None`), never a user's one.
        """

    @abstractmethod
    async def list_sessions(
        self,
        scope: Scope,
        *,
        agent_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Session]:
        """Sessions in the scope, most recently updated first (ties: id, then user, descending).

        A user scope lists that user's sessions; a tenant-wide scope lists every session of the
        tenant, whatever its user (the same id may then appear once per user).

        Args:
            scope: Whose sessions.
            agent_id: Only this agent's sessions.
            limit: Page size, 1 to `MAX_PAGE_SIZE`.
            cursor: `next_cursor` of the previous page.
        """

    @abstractmethod
    async def save_session(
        self, scope: Scope, session: Session, *, expected_version: int | None
    ) -> Session:
        """Create or replace a session, with an optimistic-concurrency check.

        The session is written in the scope's user namespace: a user scope stamps its user on
        it, and a tenant-wide scope writes a session with `user_id=None` (to write a user's
        session, narrow the scope with `scope.for_user(user_id)`).

        Args:
            scope: The caller's scope.
            session: The session to write; its `version` and `updated_at` are ignored.
            expected_version: The version the caller last read: the save fails unless the stored
                version still equals it (`0` means "must not exist yet"). `None` skips the
                check.

        Returns:
            The stored session, with `version` one more than before (1 when new), `updated_at`
            now and `created_at` kept from the first save.

        Raises:
            ConflictError: the stored version is not `expected_version`.
            InvalidInputError: an id is malformed, `session.user_id` is another user's, or a
                tenant-wide scope saves a session with a `user_id`.
        """

    @abstractmethod
    async def delete_session(self, scope: Scope, session_id: str) -> None:
        """Delete a session of the scope's user namespace with its runs (the runs of that
        user with that `session_id`), their events and their approvals.

        Raises:
            NotFoundError: no such session in the scope.
        """

    # --- runs ------------------------------------------------------------------------------------

    @abstractmethod
    async def save_run(
        self, scope: Scope, run: Run, *, expected_status: RunStatus | None = None
    ) -> Run:
        """Create or replace a run.

        `cancel_requested` is sticky (once requested it stays set, whatever a later save says),
        and `heartbeat_at` never moves backwards. `created_at` is kept from the first save.

        With `expected_status` the save is a compare-and-set: it happens only if the stored run
        exists and still has that status, checked atomically with the write (e.g.
        `UPDATE ... WHERE status = :expected`). This is how one process claims a paused run
        (`PAUSED` → `RUNNING`) when several try to resume it at once: exactly one wins.

        Args:
            scope: The caller's scope.
            run: The run to store.
            expected_status: The status the caller last read; `None` skips the check.

        Returns:
            The stored run.

        Raises:
            ConflictError: the id is taken by a run outside the scope, or `expected_status` is
                given and the stored run is missing or has another status (nothing is written).
            InvalidInputError: an id is malformed, `run.user_id` is another user's, or
                `expected_status` is not a `RunStatus`.
        """

    @abstractmethod
    async def get_run(self, scope: Scope, run_id: str) -> Run | None:
        """The run, or `None` when there is none in the scope."""

    @abstractmethod
    async def list_runs(
        self,
        scope: Scope,
        *,
        session_id: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
        order: Literal["asc", "desc"] = "asc",
        parent_run_id: str | None = None,
    ) -> Page[Run]:
        """Runs in the scope in creation order (`created_at`, then id), oldest first by default.

        Args:
            scope: Whose runs.
            session_id: Only the runs of this session, in the scope's user namespace: with a
                tenant-wide scope, only runs without a user (`user_id=None`).
            status: Only runs with this status.
            parent_run_id: Only the runs started by this run (`Run.parent_run_id`): a team's
                member runs, a workflow's step runs. Filters combine (AND).
            limit: Page size, 1 to `MAX_PAGE_SIZE`.
            cursor: `next_cursor` of the previous page (of a listing in the same `order`).
            order: `"asc"`, oldest first, or `"desc"`, newest first (to read a session's
                latest runs without paging through all of them).

        Raises:
            InvalidInputError: `order` is neither `"asc"` nor `"desc"`, the cursor is not one
                of this listing in this order, or `session_id`/`parent_run_id` is malformed.
        """

    @abstractmethod
    async def request_cancel(self, scope: Scope, run_id: str) -> bool:
        """Ask the process running a run to cancel it.

        Returns:
            True when the flag was set (the run is running or paused); False when the run has
            already ended, in which case nothing changes.

        Raises:
            NotFoundError: no such run in the scope.
        """

    @abstractmethod
    async def heartbeat(self, scope: Scope, run_id: str) -> bool:
        """Record that the process running a run is alive (`heartbeat_at` = now).

        Returns:
            Whether cancellation has been requested, so one call both beats and polls.

        Raises:
            NotFoundError: no such run in the scope.
        """

    @abstractmethod
    async def mark_stale_runs_interrupted(
        self,
        scope: Scope,
        *,
        older_than: timedelta,
        run_id: str | None = None,
        error: ErrorInfo | None = None,
    ) -> list[str]:
        """Mark `interrupted` every running run of the scope whose process looks dead.

        A run is stale when its last heartbeat (or, without one, its last save) is more than
        `older_than` ago: its worker stopped renewing its lease. Paused and finished runs are
        never touched. The check and the change are one atomic compare-and-set per run, so
        when several workers mark the same run at once exactly one gets its id back: that one
        owns closing it (`covey.core.cancellation.close_orphaned` writes its error, usage and
        closing events).

        Args:
            scope: Whose runs.
            older_than: The lease: how old the last sign of life must be.
            run_id: Only this run (when it is stale); `None` for every stale run of the scope.
            error: Why, saved on each marked run with its status, so no reader ever sees it
                `interrupted` without a reason.

        Returns:
            The ids of the runs this call marked, in creation order.
        """

    # --- run events ------------------------------------------------------------------------------

    @abstractmethod
    async def append_events(self, scope: Scope, run_id: str, events: Sequence[BaseEvent]) -> None:
        """Append events to a run's log, keyed by `(run_id, event.seq)`.

        All or nothing: when any event of the batch is refused, none is written.

        Raises:
            NotFoundError: no such run in the scope (save the run first).
            ConflictError: a `seq` is already in the log, or repeated in the batch.
            InvalidInputError: a `seq` is below 1, or an event is not a `RunEvent` that
                `covey.spec.events.load_event` can read back.
        """

    async def save_run_and_events(
        self, scope: Scope, run: Run, events: Sequence[BaseEvent]
    ) -> None:
        """Save `run` and append `events` to its log: one transaction in a store that has them.

        A run calls it where it would call both: when it starts (its record and `run.started`)
        and when it ends (the rest of its log and its final record), so a run costs the store
        two round trips fewer. Same rules and errors as `save_run` (without `expected_status`)
        and `append_events`; in a transactional store nothing is written when either is refused.
        Unlike `save_run` it returns nothing, so a store need not read the saved row back.

        The default calls the two methods in an order that keeps followers right without a
        transaction: the events first when the run exists (its log is whole before its record
        says it ended), else the record first. Stores with transactions override it.
        """
        if not events:
            await self.save_run(scope, run)
            return
        try:
            await self.append_events(scope, run.id, events)
        except NotFoundError:
            await self.save_run(scope, run)
            await self.append_events(scope, run.id, events)
            return
        await self.save_run(scope, run)

    @abstractmethod
    async def list_events(
        self, scope: Scope, run_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[BaseEvent]:
        """A run's events with `seq > after_seq`, by `seq`, as their concrete event classes.

        Returns an empty list when the run is not in the scope.

        Args:
            scope: The caller's scope.
            run_id: The run.
            after_seq: The last `seq` the caller already has (`Last-Event-ID`).
            limit: At most this many events (1 to `MAX_PAGE_SIZE`); `None` for all.
        """

    # --- memories --------------------------------------------------------------------------------

    @abstractmethod
    async def add_memory(self, scope: Scope, memory: Memory) -> Memory:
        """Store a new memory.

        Returns:
            The stored memory (`updated_at` set to now).

        Raises:
            ConflictError: a memory with that id exists in the tenant.
            InvalidInputError: an id is malformed, or `memory.user_id` is another user's.
        """

    @abstractmethod
    async def get_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        """The memory, or `None` when there is none in the scope."""

    @abstractmethod
    async def list_memories(
        self,
        scope: Scope,
        *,
        topic: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Memory]:
        """Memories in the scope, most recently updated first (ties: id descending).

        Args:
            scope: Whose memories; a user scope lists that user's.
            topic: Only memories with this topic.
            limit: Page size, 1 to `MAX_PAGE_SIZE`.
            cursor: `next_cursor` of the previous page.
        """

    @abstractmethod
    async def update_memory(self, scope: Scope, memory: Memory) -> Memory:
        """Replace an existing memory (matched by id); `created_at` is kept.

        Raises:
            NotFoundError: no such memory in the scope.
            InvalidInputError: `memory.user_id` is not the stored memory's user.
        """

    @abstractmethod
    async def delete_memory(self, scope: Scope, memory_id: str) -> None:
        """Delete a memory.

        Raises:
            NotFoundError: no such memory in the scope.
        """

    # --- user profiles ---------------------------------------------------------------------------

    @abstractmethod
    async def get_user_profile(self, scope: Scope, user_id: str) -> UserProfile | None:
        """The user's profile, or `None` when there is none in the scope."""

    @abstractmethod
    async def save_user_profile(self, scope: Scope, profile: UserProfile) -> UserProfile:
        """Create or replace the profile of `profile.user_id`.

        Raises:
            InvalidInputError: the user id is malformed or outside the scope.
        """

    @abstractmethod
    async def delete_user_profile(self, scope: Scope, user_id: str) -> None:
        """Delete a user's profile.

        Raises:
            NotFoundError: no such profile in the scope.
        """

    # --- learnings -------------------------------------------------------------------------------

    @abstractmethod
    async def add_learning(self, scope: Scope, learning: Learning) -> Learning:
        """Store a new learning. Under a user scope it belongs to that user.

        Only a tenant-wide scope can add a shared learning (`user_id=None`).

        Raises:
            ConflictError: a learning with that id exists in the tenant.
            InvalidInputError: an id or the namespace is malformed, or `learning.user_id` is
                another user's.
        """

    @abstractmethod
    async def get_learning(self, scope: Scope, learning_id: str) -> Learning | None:
        """The learning (the scope's own or a shared one), or `None`."""

    @abstractmethod
    async def list_learnings(
        self,
        scope: Scope,
        namespace: str,
        *,
        kind: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Learning]:
        """Learnings of a namespace, newest first (ties: id descending).

        A user scope gets that user's learnings and the shared ones.

        Args:
            scope: The caller's scope.
            namespace: Where the learnings are filed.
            kind: Only learnings of this kind.
            limit: Page size, 1 to `MAX_PAGE_SIZE`.
            cursor: `next_cursor` of the previous page.
        """

    @abstractmethod
    async def delete_learning(self, scope: Scope, learning_id: str) -> None:
        """Delete a learning the scope owns (shared ones: tenant-wide scopes only).

        Raises:
            NotFoundError: no such learning that this scope may delete.
        """

    # --- knowledge contents ----------------------------------------------------------------------

    @abstractmethod
    async def save_knowledge_content(
        self, scope: Scope, content: KnowledgeContent
    ) -> KnowledgeContent:
        """Create or replace a knowledge content; `created_at` is kept from the first save.

        Only a tenant-wide scope can write a shared content (`user_id=None`).

        Raises:
            ConflictError: the id is taken by a content this scope may not write.
            InvalidInputError: an id is malformed, or `content.user_id` is another user's.
        """

    @abstractmethod
    async def get_knowledge_content(self, scope: Scope, content_id: str) -> KnowledgeContent | None:
        """The content (the scope's own or a shared one), or `None`."""

    @abstractmethod
    async def list_knowledge_contents(
        self,
        scope: Scope,
        *,
        knowledge: str | None = None,
        status: KnowledgeStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[KnowledgeContent]:
        """Contents visible to the scope, most recently updated first (ties: id descending).

        Args:
            scope: The caller's scope; a user scope also sees shared contents.
            knowledge: Only contents of the knowledge base of this name.
            status: Only contents with this status.
            limit: Page size, 1 to `MAX_PAGE_SIZE`.
            cursor: `next_cursor` of the previous page.
        """

    @abstractmethod
    async def delete_knowledge_content(self, scope: Scope, content_id: str) -> None:
        """Delete a content the scope owns (shared ones: tenant-wide scopes only).

        Raises:
            NotFoundError: no such content that this scope may delete.
        """

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
