"""History handed to the model: trimmed to a token budget and repaired so every tool call has
exactly one answer."""

from __future__ import annotations

from collections.abc import Sequence

from covey.spec import (
    ModelRequest,
    ModelResponse,
    RetryPart,
    SystemPart,
    TextContent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPart,
)

__all__ = ["estimate_tokens", "repair_history", "trim_counted", "trim_to_budget"]

Message = ModelRequest | ModelResponse
_CHARS_PER_TOKEN = 4
_MEDIA_CHARS = 1024
"""What one image, audio clip or document in a tool result counts for (~256 tokens): the
provider receives the media itself, never its base64 as text."""


def _part_chars(part: object) -> int:
    if isinstance(part, SystemPart | TextPart | ThinkingPart):
        return len(part.content)
    if isinstance(part, UserPart):
        return len(part.text()) + (0 if isinstance(part.content, str) else 256)
    if isinstance(part, ToolReturnPart):
        items = part.content_parts()
        if items is None:
            return len(part.content_as_text())
        media = sum(1 for item in items if not isinstance(item, TextContent))
        return len(part.content_as_placeholder_text()) + media * _MEDIA_CHARS
    if isinstance(part, ToolCallPart):
        return len(part.tool_name) + len(part.args_as_json())
    if isinstance(part, RetryPart):
        return len(str(part.content))
    return 0


def estimate_tokens(message: Message) -> int:
    """A cheap, provider-neutral token estimate (about four characters a token)."""
    return 4 + sum(_part_chars(p) for p in message.parts) // _CHARS_PER_TOKEN


def _starts_turn(message: Message) -> bool:
    return isinstance(message, ModelRequest) and any(isinstance(p, UserPart) for p in message.parts)


def trim_to_budget(messages: Sequence[Message], budget: int | None) -> list[Message]:
    """The newest whole turns (a user request and what followed it) that fit in `budget` tokens."""
    if budget is None:
        return list(messages)
    total = 0
    cut = len(messages)
    for index in range(len(messages) - 1, -1, -1):
        total += estimate_tokens(messages[index])
        if total > budget:
            break
        if _starts_turn(messages[index]):
            cut = index
    return list(messages[cut:])


def trim_counted(messages: Sequence[Message], tokens: Sequence[int], budget: int | None) -> int:
    """Where `trim_to_budget` would cut `messages`, given each one's estimate in `tokens`
    (so a caller that already estimated them does not again): the index of the first kept."""
    if budget is None:
        return 0
    total = 0
    cut = len(messages)
    for index in range(len(messages) - 1, -1, -1):
        total += tokens[index]
        if total > budget:
            break
        if _starts_turn(messages[index]):
            cut = index
    return cut


def repair_history(messages: Sequence[Message]) -> list[Message]:
    """Drop system parts, tool answers without a call, and calls that were never answered.

    Stored runs can end mid-step (a crash, a cancel): replaying an unanswered tool call or an
    orphaned tool result makes every provider reject the request.
    """
    answered: set[str] = set()
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, ToolReturnPart | RetryPart) and part.tool_call_id:
                    answered.add(part.tool_call_id)
    repaired: list[Message] = []
    open_calls: set[str] = set()
    for message in messages:
        if isinstance(message, ModelResponse):
            parts = [
                p
                for p in message.parts
                if not (isinstance(p, ToolCallPart) and p.tool_call_id not in answered)
            ]
            open_calls = {p.tool_call_id for p in parts if isinstance(p, ToolCallPart)}
            if parts:
                repaired.append(message.model_copy(update={"parts": parts}))
            continue
        parts = [
            p
            for p in message.parts
            if not isinstance(p, SystemPart)
            and not (
                isinstance(p, ToolReturnPart | RetryPart)
                and p.tool_call_id
                and p.tool_call_id not in open_calls
            )
        ]
        open_calls = set()
        if parts:
            repaired.append(message.model_copy(update={"parts": parts}))
    while repaired and isinstance(repaired[0], ModelResponse):
        repaired.pop(0)
    return repaired
