"""A Messages API `Message` → a Covey `ModelResponse`: parts, usage and finish reason."""

from __future__ import annotations

from typing import TYPE_CHECKING

from covey.models.anthropic._messages import PROVIDER_NAME, REDACTED_DATA_KEY
from covey.spec.messages import (
    ModelResponse,
    ModelResponsePart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from covey.spec.usage import Usage

if TYPE_CHECKING:
    from anthropic.types import Message

__all__ = ["finish_reason", "map_response", "map_usage"]

_FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: str | None) -> str | None:
    """Covey's finish reason for an Anthropic `stop_reason`.

    `end_turn` and `stop_sequence` → `stop`; `max_tokens` and `model_context_window_exceeded` →
    `length`; `tool_use` → `tool_calls`; `refusal` → `content_filter`. Others (`pause_turn`)
    pass through unchanged.
    """
    if stop_reason is None:
        return None
    return _FINISH_REASONS.get(stop_reason, stop_reason)


def map_usage(
    *,
    input_tokens: int | None,
    output_tokens: int | None,
    cache_read_input_tokens: int | None,
    cache_creation_input_tokens: int | None,
    thinking_tokens: int | None = None,
) -> Usage:
    """Covey usage for one response from Anthropic's counters.

    Anthropic's `input_tokens` leaves out the tokens read from or written to the prompt cache;
    Covey's `input_tokens` counts every prompt token, so the three are added up.
    """
    cache_read = cache_read_input_tokens or 0
    cache_write = cache_creation_input_tokens or 0
    return Usage(
        input_tokens=(input_tokens or 0) + cache_read + cache_write,
        output_tokens=output_tokens or 0,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=thinking_tokens or 0,
        requests=1,
    )


def map_response(message: Message) -> ModelResponse:
    """Translate a non-streamed `Message`.

    Text, thinking, redacted thinking and tool-use blocks become parts; server-side tool blocks
    (web search results and the like) have no Covey part and are left out.
    """
    parts: list[ModelResponsePart] = []
    for block in message.content:
        if block.type == "text":
            parts.append(TextPart(content=block.text))
        elif block.type == "thinking":
            parts.append(ThinkingPart(content=block.thinking, signature=block.signature))
        elif block.type == "redacted_thinking":
            parts.append(
                ThinkingPart(
                    content="", redacted=True, provider_details={REDACTED_DATA_KEY: block.data}
                )
            )
        elif block.type == "tool_use":
            parts.append(
                ToolCallPart(tool_name=block.name, tool_call_id=block.id, args=dict(block.input))
            )
    usage = message.usage
    details = usage.output_tokens_details
    return ModelResponse(
        parts=parts,
        usage=map_usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_input_tokens=usage.cache_read_input_tokens,
            cache_creation_input_tokens=usage.cache_creation_input_tokens,
            thinking_tokens=details.thinking_tokens if details is not None else None,
        ),
        model_name=message.model,
        provider_name=PROVIDER_NAME,
        provider_response_id=message.id,
        finish_reason=finish_reason(message.stop_reason),
    )
