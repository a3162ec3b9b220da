"""A Gemini `GenerateContentResponse` -> a Covey `ModelResponse`: parts, usage, finish reason."""

from __future__ import annotations

from typing import Any

from google.genai import types

from covey.models.google._signatures import (
    PROVIDER,
    SIGNATURE_KEY,
    SYNTHETIC_ID_KEY,
    encode_signature,
    new_tool_call_id,
)
from covey.spec.messages import (
    ModelResponse,
    ModelResponsePart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from covey.spec.usage import Usage

__all__ = ["call_part", "finish_reason", "map_response", "map_usage", "signature_details"]

_CONTENT_FILTER = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "MODEL_ARMOR",
        "JAILBREAK",
    }
)


def map_response(response: types.GenerateContentResponse, *, model_name: str) -> ModelResponse:
    """The Covey response for a whole (non-streamed) Gemini answer; each Gemini part becomes one
    Covey part, keeping its thought signature."""
    candidate = response.candidates[0] if response.candidates else None
    parts: list[ModelResponsePart] = []
    if candidate is not None and candidate.content is not None:
        for part in candidate.content.parts or []:
            mapped = _map_part(part)
            if mapped is not None:
                parts.append(mapped)
    has_calls = any(isinstance(p, ToolCallPart) for p in parts)
    return ModelResponse(
        parts=parts,
        usage=map_usage(response.usage_metadata),
        model_name=response.model_version or model_name,
        provider_name=PROVIDER,
        provider_response_id=response.response_id,
        finish_reason=finish_reason(response, has_calls),
    )


def signature_details(part: types.Part) -> dict[str, Any] | None:
    """`provider_details` holding the part's thought signature, or `None`."""
    if not part.thought_signature:
        return None
    return {SIGNATURE_KEY: encode_signature(part.thought_signature)}


def call_part(call: types.FunctionCall, details: dict[str, Any] | None) -> ToolCallPart:
    """A tool-call part; a call without an id gets a made-up one, marked `synthetic_id`."""
    tool_call_id = call.id
    if not tool_call_id:
        tool_call_id = new_tool_call_id()
        details = {**(details or {}), SYNTHETIC_ID_KEY: True}
    return ToolCallPart(
        tool_name=call.name or "",
        args=dict(call.args or {}),
        tool_call_id=tool_call_id,
        provider_details=details,
    )


def _map_part(part: types.Part) -> ModelResponsePart | None:
    details = signature_details(part)
    if part.function_call is not None:
        return call_part(part.function_call, details)
    if part.text is not None or details is not None:
        text = part.text or ""
        if part.thought:
            signature = details[SIGNATURE_KEY] if details else None
            return ThinkingPart(content=text, signature=signature, provider_details=details)
        if text or details is not None:
            return TextPart(content=text, provider_details=details)
    # Images, executable code and other parts have no Covey response part; they are left out.
    return None


def finish_reason(response: types.GenerateContentResponse, has_tool_calls: bool) -> str | None:
    """The normalised finish reason: `stop`, `length`, `tool_calls`, `content_filter`, or
    Gemini's own word in lower case (`malformed_function_call`, `other`, ...)."""
    candidate = response.candidates[0] if response.candidates else None
    reason = candidate.finish_reason if candidate is not None else None
    if reason is None:
        feedback = response.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            return "content_filter"  # the prompt itself was blocked
        return "tool_calls" if has_tool_calls else None
    return normalise_finish_reason(str(reason.value), has_tool_calls)


def normalise_finish_reason(reason: str, has_tool_calls: bool) -> str:
    """Gemini's `finishReason` word as Covey's."""
    if reason == "STOP":
        return "tool_calls" if has_tool_calls else "stop"
    if reason == "MAX_TOKENS":
        return "length"
    if reason in _CONTENT_FILTER:
        return "content_filter"
    return reason.lower()


def map_usage(metadata: types.GenerateContentResponseUsageMetadata | None) -> Usage:
    """Gemini's `usageMetadata` as Covey `Usage`.

    `promptTokenCount` already includes cached tokens (`cachedContentTokenCount`); tokens of
    tool-use prompts are input too. Thinking tokens (`thoughtsTokenCount`) are billed as output
    but not counted in `candidatesTokenCount`, so they are added to `output_tokens`.
    """
    if metadata is None:
        return Usage(requests=1)
    prompt = metadata.prompt_token_count or 0
    tool_prompt = metadata.tool_use_prompt_token_count or 0
    thoughts = metadata.thoughts_token_count or 0
    details: dict[str, int] = {}
    if tool_prompt:
        details["tool_use_prompt_tokens"] = tool_prompt
    for kind, counts in (
        ("input", metadata.prompt_tokens_details),
        ("output", metadata.candidates_tokens_details),
    ):
        for count in counts or []:
            modality = count.modality.value.lower() if count.modality is not None else None
            if modality and modality != "text" and count.token_count:
                details[f"{modality}_{kind}_tokens"] = count.token_count
    return Usage(
        input_tokens=prompt + tool_prompt,
        output_tokens=(metadata.candidates_token_count or 0) + thoughts,
        cache_read_tokens=metadata.cached_content_token_count or 0,
        reasoning_tokens=thoughts,
        requests=1,
        details=details,
    )
