"""The rows a `covey.spec.store.Store` keeps, and the values every call takes: `Scope`, `Page`,
ids and their checks, and one pydantic model per kind of row (`Session`, `Run`, `Memory`, ...).

Import them from `covey.spec.store`, which re-exports every name here.
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypeVar

from covey.spec.errors import InvalidInputError
from covey.spec.messages import ModelMessage, ModelRequest, ModelResponse
from covey.spec.runs import ErrorInfo, Requirement, RunResult, RunStatus, ToolCallRecord
from covey.spec.usage import Usage

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
    "TraceSpan",
    "UTCDateTime",
    "UserProfile",
    "check_id",
    "check_limit",
    "check_search",
    "new_id",
    "utc_now",
]

MAX_ID_LENGTH = 255
"""The longest id (in characters) a store accepts."""

MAX_PAGE_SIZE = 1000
"""The largest `limit` a `list_*` call accepts."""

MAX_SEARCH_LENGTH = 200
"""The longest `search` text (in characters) `Store.list_sessions` accepts."""

RESERVED_NAMESPACE_PREFIX = "covey."
"""Learning namespaces starting with this are Covey's own bookkeeping (eval reports, A2A task
snapshots, covey-learn's call counters), not knowledge about a user: they make no user known to
`Store.list_memory_users`, and the runtime never serves them through `/v1/learnings`."""

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


def check_search(value: object) -> str | None:
    """The text a `list_sessions(search=...)` filter matches, or `None` for no filter.

    `None`, an empty or an all-whitespace string mean "no filter"; any other text is kept as
    given (not stripped) and matched literally. Stores call this before filtering, so every
    store refuses the same inputs.

    Raises:
        InvalidInputError: `value` is not a string, is longer than `MAX_SEARCH_LENGTH`
            characters, or contains a control character.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"search must be a string, got {type(value).__name__}")
    if len(value) > MAX_SEARCH_LENGTH:
        raise InvalidInputError(
            f"search is {len(value)} characters long; the limit is {MAX_SEARCH_LENGTH}"
        )
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise InvalidInputError("search contains a control character; remove it")
    return value if value.strip() else None


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


class MemoryUser(_Record):
    """A user the store knows something about: one row of `Store.list_memory_users`.

    Lets an operator discover whose memories, profile or learnings exist without knowing the
    user ids in advance.
    """

    user_id: str
    memories: int = 0
    """How many memories the user has (a user with only a profile or learnings has 0)."""
    updated_at: UTCDateTime
    """The latest change among the user's memories (`updated_at`), profile (`updated_at`) and
    own learnings (`created_at`). Deleted rows leave no trace, so it can move back."""


class LearningNamespace(_Record):
    """A namespace with learnings visible to the caller: one row of
    `Store.list_learning_namespaces`."""

    namespace: str
    learnings: int
    """How many learnings of the namespace the scope sees (its own and the shared ones)."""
    kinds: list[str] = Field(default_factory=list[str])
    """The distinct kinds among them, sorted."""


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
