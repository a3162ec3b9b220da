"""Provider usage numbers to `covey.spec.Usage`.

OpenAI's `prompt_tokens` / `input_tokens` already include cached tokens and its
`completion_tokens` / `output_tokens` already include reasoning tokens, which is what `Usage`
means too; only the breakdowns need picking out. Compatible servers may leave any field out.
"""

from __future__ import annotations

from typing import Any, cast

from covey.spec.usage import Usage

__all__ = ["chat_usage", "field", "responses_usage"]


def field(obj: object, name: str) -> Any:
    """`obj[name]` of a decoded JSON object, else the attribute of an SDK model (else None)."""
    if isinstance(obj, dict):
        return cast("dict[str, Any]", obj).get(name)
    return getattr(obj, name, None) if obj is not None else None


def _int(obj: object, name: str) -> int:
    value: object = field(obj, name)
    return value if isinstance(value, int) else 0


def _details(pairs: dict[str, int]) -> dict[str, int]:
    return {name: value for name, value in pairs.items() if value}


def chat_usage(usage: Any) -> Usage:
    """`Usage` from a Chat Completions `usage` (decoded JSON or SDK object; one request)."""
    if usage is None:
        return Usage(requests=1)
    prompt = field(usage, "prompt_tokens_details")
    completion = field(usage, "completion_tokens_details")
    # DeepSeek reports cache hits in its own fields.
    cache_read = _int(prompt, "cached_tokens") or _int(usage, "prompt_cache_hit_tokens")
    return Usage(
        input_tokens=_int(usage, "prompt_tokens"),
        output_tokens=_int(usage, "completion_tokens"),
        cache_read_tokens=cache_read,
        cache_write_tokens=_int(prompt, "cache_write_tokens"),
        reasoning_tokens=_int(completion, "reasoning_tokens"),
        requests=1,
        details=_details(
            {
                "audio_input_tokens": _int(prompt, "audio_tokens"),
                "audio_output_tokens": _int(completion, "audio_tokens"),
                "accepted_prediction_tokens": _int(completion, "accepted_prediction_tokens"),
                "rejected_prediction_tokens": _int(completion, "rejected_prediction_tokens"),
            }
        ),
    )


def responses_usage(usage: Any) -> Usage:
    """`Usage` from a Responses API `usage` object (one request)."""
    if usage is None:
        return Usage(requests=1)
    inputs = field(usage, "input_tokens_details")
    outputs = field(usage, "output_tokens_details")
    return Usage(
        input_tokens=_int(usage, "input_tokens"),
        output_tokens=_int(usage, "output_tokens"),
        cache_read_tokens=_int(inputs, "cached_tokens"),
        cache_write_tokens=_int(inputs, "cache_write_tokens"),
        reasoning_tokens=_int(outputs, "reasoning_tokens"),
        requests=1,
    )
