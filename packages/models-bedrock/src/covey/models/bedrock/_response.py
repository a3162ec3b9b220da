"""A Converse response → a Covey `ModelResponse`: parts, usage and finish reason."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any, cast

from covey.models.bedrock._messages import PROVIDER_NAME, REDACTED_CONTENT_KEY
from covey.spec.messages import (
    ModelResponse,
    ModelResponsePart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from covey.spec.usage import Usage

__all__ = ["GUARDRAIL_STOP", "dig", "finish_reason", "map_response", "map_usage"]

GUARDRAIL_STOP = "guardrail_intervened"

_FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def dig(value: Any, *keys: str) -> Any:
    """`value[k1][k2]...`, or `None` where a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(value, Mapping):
            return None
        value = cast(Mapping[str, Any], value).get(key)
    return value


def finish_reason(stop_reason: str | None) -> str | None:
    """Covey's finish reason for a Converse `stopReason` (`guardrail_intervened` and
    `content_filtered` → `content_filter`; unknown reasons pass through)."""
    if stop_reason is None:
        return None
    return _FINISH_REASONS.get(stop_reason, stop_reason)


def map_usage(usage: Mapping[str, Any] | None) -> Usage:
    """Covey usage from Converse's `usage`.

    Bedrock's `inputTokens` leaves out the tokens read from or written to the prompt cache;
    Covey's `input_tokens` counts every prompt token, so the three are added up.
    """
    usage = usage or {}
    cache_read = int(usage.get("cacheReadInputTokens") or 0)
    cache_write = int(usage.get("cacheWriteInputTokens") or 0)
    return Usage(
        input_tokens=int(usage.get("inputTokens") or 0) + cache_read + cache_write,
        output_tokens=int(usage.get("outputTokens") or 0),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        requests=1,
    )


def response_parts(content: list[Mapping[str, Any]]) -> list[ModelResponsePart]:
    """The parts of an assistant message's content blocks."""
    parts: list[ModelResponsePart] = []
    for block in content:
        if "text" in block:
            parts.append(TextPart(content=str(block["text"])))
        elif "toolUse" in block:
            use = cast(Mapping[str, Any], block["toolUse"])
            args = use.get("input")
            parts.append(
                ToolCallPart(
                    tool_name=str(use["name"]),
                    tool_call_id=str(use["toolUseId"]),
                    args=dict(cast(Mapping[str, Any], args))
                    if isinstance(args, Mapping)
                    else json.dumps(args),
                )
            )
        elif "reasoningContent" in block:
            reasoning = cast(Mapping[str, Any], block["reasoningContent"])
            redacted = reasoning.get("redactedContent")
            if isinstance(redacted, bytes | bytearray):
                parts.append(
                    ThinkingPart(
                        content="",
                        redacted=True,
                        provider_details={
                            REDACTED_CONTENT_KEY: base64.b64encode(bytes(redacted)).decode()
                        },
                    )
                )
            else:
                text = cast(Mapping[str, Any], reasoning.get("reasoningText") or {})
                parts.append(
                    ThinkingPart(
                        content=str(text.get("text") or ""),
                        signature=text.get("signature") or None,
                    )
                )
    return parts


def map_response(body: Mapping[str, Any], *, model_name: str) -> ModelResponse:
    """Translate a non-streamed Converse response (as boto3 returns it)."""
    message: Mapping[str, Any] = dig(body, "output", "message") or {}
    meta: Mapping[str, Any] = body.get("ResponseMetadata") or {}
    return ModelResponse(
        parts=response_parts(cast(list[Mapping[str, Any]], message.get("content") or [])),
        usage=map_usage(body.get("usage")),
        model_name=model_name,
        provider_name=PROVIDER_NAME,
        provider_response_id=meta.get("RequestId"),
        finish_reason=finish_reason(body.get("stopReason")),
    )
