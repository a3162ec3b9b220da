"""What both test models share: usage estimates, finishing a response, replaying it as a stream."""

from __future__ import annotations

import json
import re
from collections.abc import (
    Sequence,
)
from typing import Any

from covey.spec.messages import (
    ModelRequest,
    ModelResponse,
    ModelResponsePart,
    SystemPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPart,
)
from covey.spec.models import (
    FinalResponseEvent,
    ModelMessages,
    ModelStreamEvent,
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    TextPartDelta,
    ThinkingPartDelta,
    ToolCallPartDelta,
)
from covey.spec.usage import Usage

_WORD = re.compile(r"\w+")
# Split after whitespace that precedes more text: "a b  c" -> ["a ", "b  ", "c"].
_WORD_BOUNDARY = re.compile(r"(?<=\s)(?=\S)")
_ARGS_CHUNK = 8


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def estimate_usage(messages: ModelMessages, parts: Sequence[ModelResponsePart]) -> Usage:
    """One request; tokens estimated as the words of the whole history and of the response."""
    input_tokens = 0
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, SystemPart):
                    input_tokens += _words(part.content)
                elif isinstance(part, UserPart):
                    input_tokens += _words(part.text())
                elif isinstance(part, ToolReturnPart):
                    input_tokens += _words(part.content_as_text())
                else:
                    input_tokens += _words(part.message())
        else:
            input_tokens += sum(_part_words(p) for p in message.parts)
    output_tokens = sum(_part_words(p) for p in parts)
    return Usage(input_tokens=input_tokens, output_tokens=output_tokens, requests=1)


def _part_words(part: TextPart | ThinkingPart | ToolCallPart) -> int:
    if isinstance(part, ToolCallPart):
        return _words(part.tool_name) + _words(part.args_as_json())
    return _words(part.content)


def finalise(
    parts: list[TextPart | ToolCallPart],
    messages: ModelMessages,
    *,
    model_name: str,
    provider_name: str,
) -> ModelResponse:
    has_calls = any(isinstance(p, ToolCallPart) for p in parts)
    return ModelResponse(
        parts=list(parts),
        usage=estimate_usage(messages, parts),
        model_name=model_name,
        provider_name=provider_name,
        finish_reason="tool_calls" if has_calls else "stop",
    )


def complete(response: ModelResponse, messages: ModelMessages, model_name: str) -> ModelResponse:
    update: dict[str, Any] = {}
    if not response.usage.has_values():
        update["usage"] = estimate_usage(messages, response.parts)
    if response.model_name is None:
        update["model_name"] = model_name
    return response.model_copy(update=update) if update else response


def _text_chunks(text: str) -> list[str]:
    return [chunk for chunk in _WORD_BOUNDARY.split(text) if chunk] or [text]


def replay_events(response: ModelResponse) -> list[ModelStreamEvent]:
    """A whole response as stream events: text and reasoning word by word, arguments in pieces.

    Each part is started, grown and ended in turn, then `FinalResponseEvent` carries `response`
    itself, so a streamed and a non-streamed request end with the same response.
    """
    events: list[ModelStreamEvent] = []
    for index, part in enumerate(response.parts):
        if isinstance(part, TextPart):
            first, *rest = _text_chunks(part.content)
            events.append(PartStartEvent(index, TextPart(content=first)))
            events.extend(PartDeltaEvent(index, TextPartDelta(chunk)) for chunk in rest)
        elif isinstance(part, ThinkingPart):
            first, *rest = _text_chunks(part.content)
            start = ThinkingPart(content=first, id=part.id, redacted=part.redacted)
            events.append(PartStartEvent(index, start))
            events.extend(PartDeltaEvent(index, ThinkingPartDelta(chunk)) for chunk in rest)
            if part.signature is not None:
                events.append(PartDeltaEvent(index, ThinkingPartDelta("", part.signature)))
        else:
            start = ToolCallPart(tool_name=part.tool_name, tool_call_id=part.tool_call_id, args="")
            events.append(PartStartEvent(index, start))
            args = part.args_as_json()
            events.extend(
                PartDeltaEvent(index, ToolCallPartDelta(args[i : i + _ARGS_CHUNK]))
                for i in range(0, len(args), _ARGS_CHUNK)
            )
        events.append(PartEndEvent(index, part))
    events.append(FinalResponseEvent(response))
    return events


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
