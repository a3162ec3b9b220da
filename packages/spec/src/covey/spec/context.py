"""The per-run context handed to tools, instructions, hooks and toolsets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic

from typing_extensions import TypeVar

from covey.spec.messages import ModelRequest, ModelResponse
from covey.spec.usage import Usage

if TYPE_CHECKING:
    from covey.spec.knowledge import KnowledgeHit
    from covey.spec.models import ChatModel

__all__ = ["DepsT", "RunContext"]

DepsT = TypeVar("DepsT", default=Any)


@dataclass(slots=True, kw_only=True)
class RunContext(Generic[DepsT]):
    """Everything one run knows about itself.

    A definition (agent, team, workflow) is shared by every run; all per-run state lives here and
    is passed explicitly. A tool parameter annotated as `RunContext` receives it and is never shown
    to the model.
    """

    run_id: str
    deps: DepsT = None  # pyright: ignore[reportAssignmentType]
    session_id: str | None = None
    user_id: str | None = None
    tenant_id: str | None = None
    parent_run_id: str | None = None
    agent_name: str | None = None
    state: dict[str, Any] = field(default_factory=dict[str, Any])
    """Session state: read and updated by tools; persisted with the session when a store is set."""
    usage: Usage = field(default_factory=Usage)
    messages: list[ModelRequest | ModelResponse] = field(
        default_factory=list[ModelRequest | ModelResponse]
    )
    model: ChatModel | None = None
    retries: dict[str, int] = field(default_factory=dict[str, int])
    """Retries used so far, per tool name (and `"__output__"` for output validation)."""
    tool_name: str | None = None
    """Set inside a tool call: the tool being called."""
    tool_call_id: str | None = None
    retry: int = 0
    """Set inside a tool call: how many times this tool has been retried in this run."""
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])
    references: list[KnowledgeHit] = field(default_factory=list["KnowledgeHit"])
    """Knowledge passages given to the model so far (shared by the run's tool calls); they end
    up in `RunResult.references`."""
    tool_call_approved: bool = False
    """Set inside a tool call that a person approved (the run paused for it and was resumed):
    a toolset that raised `ApprovalRequired` for this call now runs it."""

    def for_tool_call(
        self, tool_name: str, tool_call_id: str, *, approved: bool = False
    ) -> RunContext[DepsT]:
        """A copy of this context for one tool call; state, usage and messages stay shared."""
        return dataclasses.replace(
            self,
            tool_name=tool_name,
            tool_call_id=tool_call_id,
            retry=self.retries.get(tool_name, 0),
            tool_call_approved=approved,
        )
