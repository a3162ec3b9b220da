"""`RunState`: what one run accumulates as it goes, apart from how it is driven."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from covey.spec import (
    ModelRequest,
    ModelResponse,
    Requirement,
    RetryPart,
    ToolCallRecord,
    ToolReturnPart,
)

__all__ = ["MISSING", "Cancelled", "Pause", "RunState"]

MISSING: Any = object()
"""No final output yet."""


@dataclass(slots=True, kw_only=True)
class RunState:
    """The messages, records and counters of one run; usage lives on its `RunContext`."""

    messages: list[ModelRequest | ModelResponse] = field(
        default_factory=list[ModelRequest | ModelResponse]
    )
    history: list[ModelRequest | ModelResponse] = field(
        default_factory=list[ModelRequest | ModelResponse]
    )
    """Earlier runs' messages sent before this run's (not part of its record)."""
    tool_calls: list[ToolCallRecord] = field(default_factory=list[ToolCallRecord])
    requirements: list[Requirement] = field(default_factory=list[Requirement])
    pending_parts: list[ToolReturnPart | RetryPart] = field(
        default_factory=list[ToolReturnPart | RetryPart]
    )
    """Tool returns and retries that go into the next request."""
    seq: int = 0
    step: int = 0
    final: Any = MISSING
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    open_model_request: str | None = None
    """The model of the request started and not yet ended."""
    open_tool_calls: dict[str, tuple[str, dict[str, Any]]] = field(
        default_factory=dict[str, tuple[str, dict[str, Any]]]
    )
    """Tool calls started and not yet ended: id -> (tool name, args)."""
    paused_calls: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    """Tool calls that paused the run (`CallPaused`): id -> tool name, args, token and the ids of
    their requirements; stored with a paused run, and called again on resume."""
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])
    """What the run adds to its stored metadata as it goes (a team's per-member usage)."""

    def take_parts(self) -> list[ToolReturnPart | RetryPart]:
        """The pending parts, cleared."""
        parts, self.pending_parts = self.pending_parts, []
        return parts


class Cancelled(Exception):  # noqa: N818 - internal signal, never escapes the engine
    """The run's handle was cancelled while a step was in flight."""


class Pause(Exception):  # noqa: N818 - internal signal, never escapes the engine
    """The run must pause for its requirements."""
