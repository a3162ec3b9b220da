"""Wire types of the HTTP API: what requests carry and responses return.

They are kept apart from the domain types (`Run`, `Session`, `RunResult`): each response type
has a `from_*` constructor, so the API's shape changes only here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, field_validator
from pydantic_core import to_jsonable_python

from covey.spec import ModelRequest, RunResult, RunStatus, SystemPart, UserContent
from covey.spec import events as ev
from covey.spec.runs import ErrorInfo, Requirement, ToolCallRecord
from covey.spec.store import Run, Session
from covey.spec.usage import Usage

__all__ = [
    "AgentList",
    "AgentOut",
    "ApprovalDecision",
    "ErrorOut",
    "Flag",
    "Id",
    "PluginOut",
    "ProblemOut",
    "RequirementOut",
    "ResumeRequest",
    "RunAccepted",
    "RunOut",
    "RunPage",
    "RunRequest",
    "SessionOut",
    "SessionPage",
    "StepOut",
    "TeamList",
    "TeamMemberOut",
    "TeamOut",
    "ToolCallOut",
    "ToolOut",
    "UsageOut",
    "WorkflowList",
    "WorkflowOut",
    "WorkflowRunRequest",
    "public_event",
    "public_events",
]

Id = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")]
"""An id as the store accepts it: 1 to 255 characters, no control characters."""


def _only_bool(value: Any) -> Any:
    # Litestar validates bodies with strict=False, which overrides StrictBool: "yes" and 1 would
    # pass as true. A before-validator runs whatever the mode.
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


Flag = Annotated[bool, BeforeValidator(_only_bool)]
"""A JSON boolean: `true` or `false`, never `"yes"`, `1` or `"true"`."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests ------------------------------------------------------------------------------------


class RunRequest(_Wire):
    """Start a run of an agent."""

    input: str | list[UserContent] = Field(
        description="The user's message: text, or a list of content parts (text, images, ...). "
        "It must say something: an empty or blank string, or an empty list, is refused (to "
        "continue a paused run, resume it instead)."
    )
    session_id: Id | None = Field(
        default=None,
        description="Continue this session; a new session is created when omitted.",
    )
    state: dict[str, Any] | None = Field(
        default=None, description="Session state to merge in before the run."
    )
    stream: Flag = Field(
        default=False,
        description="Answer with a Server-Sent Events stream of the run's events.",
    )
    background: Flag = Field(
        default=False,
        description="Answer 202 with the run id at once; the run goes on without the client.",
    )

    @field_validator("input")
    @classmethod
    def _says_something(cls, value: Any) -> Any:
        if not (value.strip() if isinstance(value, str) else value):
            raise ValueError("the input is empty; send the user's message")
        return value


class WorkflowRunRequest(RunRequest):
    """Start a run of a workflow: its input may also be a JSON object (for a first step that
    takes a pydantic model)."""

    input: str | list[UserContent] | dict[str, Any] = Field(  # pyright: ignore[reportIncompatibleVariableOverride]
        description="The workflow's input: text, content parts, or a JSON object. It must say "
        "something: an empty string, list or object is refused."
    )


class ApprovalDecision(_Wire):
    """A decision on a tool call waiting for approval."""

    approved: Flag
    note: str | None = Field(default=None, max_length=10_000)


class ResumeRequest(_Wire):
    """Decisions for a paused run's requirements, keyed by tool call id."""

    approvals: dict[str, StrictBool | ApprovalDecision] = Field(default_factory=dict[str, Any])
    inputs: dict[str, dict[str, Any]] = Field(default_factory=dict[str, dict[str, Any]])
    results: dict[str, Any] = Field(default_factory=dict[str, Any])
    stream: Flag = False
    background: Flag = False

    @field_validator("approvals", mode="before")
    @classmethod
    def _decisions_are_bool_or_object(cls, value: Any) -> Any:
        # Lax parsing would read "yes" or 1 as true; a decision must be explicit.
        if isinstance(value, dict):
            for key, item in cast("dict[Any, Any]", value).items():
                if not isinstance(item, bool | dict | ApprovalDecision):
                    raise ValueError(
                        f'approval {key!r} must be true, false or {{"approved": bool, "note": str}}'
                    )
        return cast(Any, value)


# --- responses -----------------------------------------------------------------------------------


class UsageOut(_Wire):
    """Tokens and requests a run consumed."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    requests: int = 0
    tool_calls: int = 0

    @classmethod
    def from_usage(cls, usage: Usage) -> UsageOut:
        """The wire form of `usage`."""
        return cls(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            requests=usage.requests,
            tool_calls=usage.tool_calls,
        )


class ErrorOut(_Wire):
    """Why a run failed."""

    type: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict[str, Any])

    @classmethod
    def from_info(cls, info: ErrorInfo) -> ErrorOut:
        """The wire form of `info`."""
        return cls(type=info.type, message=info.message, details=to_jsonable_python(info.details))


class RequirementOut(_Wire):
    """Something a paused run waits for."""

    tool_call_id: str
    tool_name: str
    kind: Literal["approval", "input", "external"]
    args: dict[str, Any] = Field(default_factory=dict[str, Any])
    input_fields: list[str] = Field(default_factory=list[str])
    description: str | None = None
    run_id: str | None = None
    """The run whose tool call waits, when it is a child of the paused run (a team member's, a
    workflow step's); resume the paused run itself with the decision."""

    @classmethod
    def from_requirement(cls, requirement: Requirement) -> RequirementOut:
        """The wire form of `requirement`."""
        return cls(
            tool_call_id=requirement.tool_call_id,
            tool_name=requirement.tool_name,
            kind=requirement.kind,
            args=to_jsonable_python(requirement.args),
            input_fields=list(requirement.input_fields),
            description=requirement.description,
            run_id=getattr(requirement, "run_id", None),
        )


class ToolCallOut(_Wire):
    """One tool call a run made."""

    tool_call_id: str
    tool_name: str
    args: dict[str, Any] = Field(default_factory=dict[str, Any])
    result: Any = None
    error: str | None = None
    duration: float = 0.0

    @classmethod
    def from_record(cls, record: ToolCallRecord) -> ToolCallOut:
        """The wire form of `record`."""
        return cls(
            tool_call_id=record.tool_call_id,
            tool_name=record.tool_name,
            args=to_jsonable_python(record.args),
            result=to_jsonable_python(record.result, fallback=str),
            error=record.error,
            duration=record.duration,
        )


class RunOut(_Wire):
    """A run: where it stands and what it produced."""

    run_id: str
    session_id: str | None = None
    agent_id: str | None = None
    parent_run_id: str | None = None
    user_id: str | None = None
    status: RunStatus
    input: Any = None
    """What the run was given, as sent: text, content parts, or an object (a workflow's)."""
    output: Any = None
    usage: UsageOut = Field(default_factory=UsageOut)
    cost_usd: float | None = None
    """What the run's own model requests cost in USD, in listings (`GET /v1/runs`); `None`
    when not computed or when a request is unpriced (a local model). Member and step runs are
    listed with their own cost (`/v1/costs/runs/{id}` sums a run with them)."""
    error: ErrorOut | None = None
    requirements: list[RequirementOut] = Field(default_factory=list[RequirementOut])
    tool_calls: list[ToolCallOut] = Field(default_factory=list[ToolCallOut])
    cancel_requested: bool = False
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def from_result(cls, result: RunResult[Any]) -> RunOut:
        """The wire form of a run's result."""
        return cls(
            run_id=result.run_id,
            session_id=result.session_id,
            agent_id=result.agent_id,
            parent_run_id=result.parent_run_id,
            user_id=result.user_id,
            status=result.status,
            output=to_jsonable_python(result.output, fallback=str),
            usage=UsageOut.from_usage(result.usage),
            error=ErrorOut.from_info(result.error) if result.error else None,
            requirements=[RequirementOut.from_requirement(r) for r in result.requirements],
            tool_calls=[ToolCallOut.from_record(t) for t in result.tool_calls],
            created_at=result.started_at,
            started_at=result.started_at,
            finished_at=result.finished_at,
        )

    @classmethod
    def from_run(cls, run: Run) -> RunOut:
        """The wire form of a stored run."""
        return cls(
            run_id=run.id,
            session_id=run.session_id,
            agent_id=run.agent_id,
            parent_run_id=run.parent_run_id,
            user_id=run.user_id,
            status=run.status,
            input=_jsonable_input(run.input),
            output=to_jsonable_python(run.output, fallback=str),
            usage=UsageOut.from_usage(run.usage),
            error=ErrorOut.from_info(run.error) if run.error else None,
            requirements=[RequirementOut.from_requirement(r) for r in run.requirements]
            if run.status is RunStatus.PAUSED
            else [],
            tool_calls=[ToolCallOut.from_record(t) for t in run.tool_calls],
            cancel_requested=run.cancel_requested,
            created_at=run.created_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
        )


def _jsonable_input(value: Any) -> Any:
    """A stored run's input as JSON: content parts as their JSON form (binary data base64)."""
    if isinstance(value, list):
        return [
            part.model_dump(mode="json")
            if isinstance(part, BaseModel)
            else to_jsonable_python(part, fallback=str, bytes_mode="base64")
            for part in cast("list[Any]", value)
        ]
    return to_jsonable_python(value, fallback=str, bytes_mode="base64")


class RunAccepted(_Wire):
    """A background run was started (or a cancel was asked for)."""

    run_id: str
    session_id: str | None = None
    agent_id: str | None = None
    status: RunStatus
    events_url: str
    """Follow the run here (Server-Sent Events)."""


class RunPage(_Wire):
    """One page of runs; pass `next_cursor` as `cursor` for the next."""

    items: list[RunOut]
    next_cursor: str | None = None


class SessionOut(_Wire):
    """A conversation: its state and metadata (its runs are at `/v1/sessions/{id}/runs`)."""

    session_id: str
    agent_id: str | None = None
    user_id: str | None = None
    state: dict[str, Any] = Field(default_factory=dict[str, Any])
    summary: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])
    version: int = 0
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_session(cls, session: Session) -> SessionOut:
        """The wire form of a stored session."""
        return cls(
            session_id=session.id,
            agent_id=session.agent_id,
            user_id=session.user_id,
            state=to_jsonable_python(session.state, fallback=str),
            summary=session.summary,
            metadata=to_jsonable_python(session.metadata, fallback=str),
            version=session.version,
            created_at=session.created_at,
            updated_at=session.updated_at,
        )


class SessionPage(_Wire):
    """One page of sessions, most recently updated first."""

    items: list[SessionOut]
    next_cursor: str | None = None


class ToolOut(_Wire):
    """A tool an agent can call."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict[str, Any])
    requires_approval: bool = False
    kind: str = "function"


class AgentOut(_Wire):
    """An agent the runtime serves."""

    agent_id: str
    name: str
    description: str | None = None
    model: str | None = None
    """The model's name, e.g. `gpt-4.1` or `test`."""
    tools: list[ToolOut] = Field(default_factory=list[ToolOut])
    output_schema: dict[str, Any] | None = None
    """JSON schema of the structured output; `None` for plain text."""


class AgentList(_Wire):
    """Every agent the runtime serves."""

    items: list[AgentOut]
    notice: str | None = None
    """A message from the deployment, e.g. that the agents answer with a test model."""


class TeamMemberOut(_Wire):
    """A member of a team: an agent, or a team with members of its own."""

    name: str
    kind: str
    """`agent`, `team` (or another runnable's kind)."""
    description: str | None = None
    model: str | None = None
    members: list[TeamMemberOut] = Field(default_factory=list["TeamMemberOut"])
    """A member team's own members; empty for an agent."""


class TeamOut(_Wire):
    """A team the runtime serves."""

    team_id: str
    name: str
    description: str | None = None
    mode: str | None = None
    """`coordinate`, `route`, `broadcast` or `tasks`."""
    model: str | None = None
    """The leader's model, e.g. `gpt-4.1` or `test`."""
    members: list[TeamMemberOut] = Field(default_factory=list[TeamMemberOut])


class TeamList(_Wire):
    """Every team the runtime serves."""

    items: list[TeamOut]


class StepOut(_Wire):
    """One node of a workflow's step tree."""

    kind: str
    """`function`, `agent` (an agent, team or workflow), `steps`, `parallel`, `condition`,
    `loop` or `router`, as in the `step.*` events' `step_type`."""
    name: str | None = None
    """The step's name, as in the `step.*` events' `step_name`."""
    description: str | None = None
    runs: str | None = None
    """What a step runs: `agent:<name>`, `team:<name>`, `workflow:<name>` or `function:<name>`."""
    max_iterations: int | None = None
    """A loop's limit."""
    steps: list[StepOut] = Field(default_factory=list["StepOut"])
    """The nested steps: a group's, a branch's, a loop's body, a router's choices."""


class WorkflowOut(_Wire):
    """A workflow the runtime serves."""

    workflow_id: str
    name: str
    description: str | None = None
    steps: list[StepOut] = Field(default_factory=list[StepOut])
    mermaid: str | None = None
    """The workflow drawn as a Mermaid flowchart (`Workflow.to_mermaid()`)."""


class WorkflowList(_Wire):
    """Every workflow the runtime serves."""

    items: list[WorkflowOut]


class PluginOut(_Wire):
    """An installed Covey plugin."""

    kind: str
    name: str
    distribution: str
    version: str
    target: str


class ProblemOut(_Wire):
    """An error, as RFC 9457 `application/problem+json`."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


# --- events --------------------------------------------------------------------------------------

_FINAL = (ev.RunCompleted, ev.RunFailed, ev.RunPaused, ev.RunCancelled)


def public_event(event: ev.BaseEvent) -> ev.BaseEvent:
    """`event` as every transport sends it: a final event's result without system prompt parts.

    The agent's instructions and description are the deployment's, not the caller's: the JSON
    answer (`RunOut`) leaves them out, and so do SSE, the WebSocket and replays from the store.
    """
    if not isinstance(event, _FINAL):
        return event
    result = event.result
    messages: list[Any] = []
    changed = False
    for message in result.messages:
        if isinstance(message, ModelRequest) and any(
            isinstance(p, SystemPart) for p in message.parts
        ):
            changed = True
            parts = [p for p in message.parts if not isinstance(p, SystemPart)]
            if not parts:
                continue
            message = message.model_copy(update={"parts": parts})
        messages.append(message)
    if not changed:
        return event
    return event.model_copy(update={"result": result.model_copy(update={"messages": messages})})


async def public_events(
    events: AsyncIterator[ev.BaseEvent | None],
) -> AsyncIterator[ev.BaseEvent | None]:
    """`public_event` applied to a stream (keep-alive `None`s pass through)."""
    async for event in events:
        yield None if event is None else public_event(event)
