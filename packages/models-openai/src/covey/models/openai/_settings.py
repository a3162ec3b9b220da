"""`ModelSettings` to request fields for both OpenAI APIs.

A setting the model cannot take (sampling on a reasoning model, `stop` on the Responses API) is
left out with a warning, once per model and setting, rather than failing the request.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

from covey.models.openai.profiles import OpenAIModelProfile
from covey.models.openai.providers import OpenAICompatibleProvider
from covey.spec.models import ModelSettings

__all__ = ["chat_settings", "reasoning_effort", "responses_settings", "sdk_options"]

_SAMPLING = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def _drop(model_name: str, setting: str, reason: str) -> None:
    with _warned_lock:
        if (model_name, setting) in _warned:
            return
        _warned.add((model_name, setting))
    warnings.warn(
        f"ModelSettings.{setting} is left out for {model_name!r}: {reason}.",
        UserWarning,
        stacklevel=4,
    )


def reasoning_effort(settings: ModelSettings, profile: OpenAIModelProfile) -> str | None:
    """The reasoning effort to send: `reasoning_effort`, else one derived from `thinking_budget`.

    `reasoning_effort` goes as is: the API has every Covey value, `none` to `xhigh`, and which
    ones a model takes varies within a family (`none` from gpt-5.1 on, `minimal` on gpt-5), so
    the API is left to refuse one, naming those the model takes. A budget of 0 asks for the
    least reasoning (`minimal`); up to 2k tokens is `low`, up to 8k `medium`, more is `high`.
    """
    if not profile.supports_reasoning_effort:
        return None
    if settings.reasoning_effort is not None:
        return settings.reasoning_effort
    budget = settings.thinking_budget
    if budget is None:
        return None
    if budget == 0:
        return "minimal"
    if budget <= 2048:
        return "low"
    if budget <= 8192:
        return "medium"
    return "high"


def _sampling(
    settings: ModelSettings, profile: OpenAIModelProfile, model_name: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _SAMPLING:
        value = getattr(settings, name)
        if value is None:
            continue
        if profile.supports_sampling:
            out[name] = value
        else:
            _drop(model_name, name, "reasoning models reject sampling parameters")
    return out


def chat_settings(
    settings: ModelSettings,
    profile: OpenAIModelProfile,
    provider: OpenAICompatibleProvider,
    *,
    model_name: str,
    has_tools: bool,
) -> dict[str, Any]:
    """Chat Completions body fields for `settings`."""
    body = _sampling(settings, profile, model_name)
    if settings.max_tokens is not None:
        body[profile.max_tokens_field] = settings.max_tokens
    if settings.stop:
        body["stop"] = list(settings.stop)
    if settings.seed is not None:
        body[provider.seed_field] = settings.seed
    if settings.parallel_tool_calls is not None and has_tools:
        body["parallel_tool_calls"] = settings.parallel_tool_calls
    effort = reasoning_effort(settings, profile)
    if effort is not None:
        body["reasoning_effort"] = effort
    elif settings.reasoning_effort is not None:
        _drop(model_name, "reasoning_effort", "the model does not reason")
    return body


def responses_settings(
    settings: ModelSettings,
    profile: OpenAIModelProfile,
    *,
    model_name: str,
    has_tools: bool,
) -> dict[str, Any]:
    """Responses API body fields for `settings` (reasoning itself is added by the caller)."""
    body: dict[str, Any] = {}
    for name in ("temperature", "top_p"):
        value = getattr(settings, name)
        if value is None:
            continue
        if profile.supports_sampling:
            body[name] = value
        else:
            _drop(model_name, name, "reasoning models reject sampling parameters")
    for name in ("presence_penalty", "frequency_penalty", "stop", "seed"):
        if getattr(settings, name) is not None:
            _drop(model_name, name, "the Responses API has no such parameter")
    if settings.max_tokens is not None:
        body["max_output_tokens"] = settings.max_tokens
    if settings.parallel_tool_calls is not None and has_tools:
        body["parallel_tool_calls"] = settings.parallel_tool_calls
    if settings.reasoning_effort is not None and not profile.supports_reasoning_effort:
        _drop(model_name, "reasoning_effort", "the model does not reason")
    return body


def sdk_options(settings: ModelSettings) -> dict[str, Any]:
    """The SDK's per-request options: extra headers, extra body fields, timeout."""
    options: dict[str, Any] = {}
    if settings.extra_headers:
        options["extra_headers"] = dict(settings.extra_headers)
    if settings.extra_body:
        options["extra_body"] = dict(settings.extra_body)
    if settings.timeout is not None:
        options["timeout"] = settings.timeout
    return options
