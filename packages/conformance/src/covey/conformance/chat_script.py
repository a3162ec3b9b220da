"""`ChatScript`: how `ChatModelSuite` tells the fake backend behind a model what to answer next.

A plugin implements it once over its fake server (a few lines: each method queues the
provider's own wire answer) and returns it from the suite's `chat_script` fixture. Each call
queues one answer, used by the next request, whole or streamed as the request asks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["ChatScript", "ScriptedToolCall"]


@dataclass(frozen=True, slots=True)
class ScriptedToolCall:
    """One tool call the backend should answer with.

    Attributes:
        name: The tool's name.
        arguments: The arguments object.
        call_id: The call's id (a provider that sends none, like Gemini, may ignore it).
    """

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict[str, Any])
    call_id: str = "call_1"


class ChatScript(Protocol):
    """Queues the next answers of the backend behind the suite's `chat_model`."""

    def text(self, text: str) -> None:
        """Answer the next request with `text` (as the provider sends structured output too)."""
        ...

    def tool_calls(self, calls: Sequence[ScriptedToolCall]) -> None:
        """Answer the next request with these tool calls, in order, in one response."""
        ...

    def error(
        self,
        status: int,
        message: str,
        *,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next request with an HTTP error in the provider's body shape, carrying
        `message`; with a `retry-after` header (seconds) when `retry_after` is given."""
        ...

    def context_overflow(self) -> None:
        """Answer the next request the way the provider says the prompt exceeds the model's
        context window (its status, code and wording)."""
        ...
