"""The outcome of a run: status, output, usage, messages, tool calls and pending requirements."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from typing_extensions import TypeVar

from covey.spec.knowledge import KnowledgeHit
from covey.spec.messages import ModelMessage, ModelRequest, ModelResponse
from covey.spec.usage import Usage

__all__ = [
    "ErrorInfo",
    "Requirement",
    "RequirementKind",
    "RunResult",
    "RunStatus",
    "ToolCallRecord",
]

OutputT = TypeVar("OutputT", default=Any)


class RunStatus(StrEnum):
    """Where a run stands. Only `running` and `paused` runs can change again."""

    RUNNING = "running"
    COMPLETED = "completed"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    """The process running it died; found by heartbeat age and marked by run recovery."""

    @property
    def is_final(self) -> bool:
        """Whether the run has ended for good."""
        return self not in (RunStatus.RUNNING, RunStatus.PAUSED)


class ErrorInfo(BaseModel):
    """A serialisable description of the error that ended a run."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    type: str
    """The exception's class name, e.g. `UsageLimitExceeded`."""
    message: str
    details: dict[str, Any] = Field(default_factory=dict[str, Any])

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        """Describe `exc` (its message only: tracebacks stay in the logs)."""
        details: dict[str, Any] = {}
        for attr in (
            "limit",
            "retry_after",
            "status_code",
            "tool_name",
            "reason",
            "guardrail",
            "stage",
        ):
            value = getattr(exc, attr, None)
            if value is not None:
                details[attr] = value
        return cls(type=type(exc).__name__, message=str(exc), details=details)


class ToolCallRecord(BaseModel):
    """One tool call made during a run."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    tool_call_id: str
    tool_name: str
    args: dict[str, Any] = Field(default_factory=dict[str, Any])
    result: Any = None
    error: str | None = None
    duration: float = 0.0
    """Seconds the call took."""


RequirementKind = Literal["approval", "input", "external"]


class Requirement(BaseModel):
    """Something a paused run waits for before it can go on."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    tool_call_id: str
    tool_name: str
    kind: RequirementKind
    """`approval`: a human approves or rejects the call. `input`: a human supplies
    `input_fields`. `external`: the caller runs the tool and supplies its result."""
    args: dict[str, Any] = Field(default_factory=dict[str, Any])
    input_fields: list[str] = Field(default_factory=list[str])
    description: str | None = None
    run_id: str | None = None
    """The run whose tool call waits for this, when it is not the paused run itself: a team
    member's run (the team run pauses with its members' requirements)."""


class RunResult(BaseModel, Generic[OutputT]):
    """What a run produced. The last event of every run carries it."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    run_id: str
    session_id: str | None = None
    agent_id: str | None = None
    parent_run_id: str | None = None
    user_id: str | None = None
    status: RunStatus
    output: OutputT | None = None
    usage: Usage = Field(default_factory=Usage)
    messages: list[ModelMessage] = Field(default_factory=list[ModelRequest | ModelResponse])
    """The messages this run added (not the history it was given)."""
    tool_calls: list[ToolCallRecord] = Field(default_factory=list[ToolCallRecord])
    requirements: list[Requirement] = Field(default_factory=list[Requirement])
    error: ErrorInfo | None = None
    references: list[KnowledgeHit] = Field(default_factory=list[KnowledgeHit])
    """The knowledge passages the run gave its model (searched by the model or put in its
    context), each once, in the order they were found; stored in the run's
    `metadata["references"]`."""
    started_at: datetime | None = None
    finished_at: datetime | None = None

    _history: list[ModelRequest | ModelResponse] = PrivateAttr(
        default_factory=list[ModelRequest | ModelResponse]
    )
    _exception: BaseException | None = PrivateAttr(default=None)

    def all_messages(self) -> list[ModelRequest | ModelResponse]:
        """The history the run was given followed by the messages it added."""
        return [*self._history, *self.messages]

    @property
    def exception(self) -> BaseException | None:
        """The exception that ended the run, when it ended in this process."""
        return self._exception

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, when both are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
