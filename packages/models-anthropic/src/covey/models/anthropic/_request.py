"""Settings, tools and output mode → the keyword arguments of `messages.create`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from covey.models.anthropic._messages import map_messages
from covey.spec.messages import ModelRequest, ModelResponse
from covey.spec.models import ModelRequestParams, ModelSettings
from covey.spec.tools import ToolDefinition

if TYPE_CHECKING:
    from anthropic.types import (
        MessageParam,
        OutputConfigParam,
        TextBlockParam,
        ThinkingConfigParam,
        ToolChoiceParam,
        ToolParam,
    )

__all__ = ["DEFAULT_MAX_TOKENS", "MessagesRequest", "build_request"]

DEFAULT_MAX_TOKENS = 4096
"""`max_tokens` when the settings leave it unset (the API requires one); with extended thinking
the thinking budget is added on top, since thinking tokens count towards `max_tokens`."""

# `output_config.effort` has no `none` or `minimal`: the least effort it takes is `low`. (Effort
# is not thinking: `thinking_budget` alone turns extended thinking on or off.) `xhigh` goes as
# is; models that lack it refuse it, naming the levels they take.
_EFFORT: dict[str, Literal["low", "medium", "high", "xhigh"]] = {
    "none": "low",
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
}


@dataclass(slots=True, kw_only=True)
class MessagesRequest:
    """Everything `AsyncMessages.create` is called with; `None` means the field is left out."""

    model: str
    max_tokens: int
    messages: list[MessageParam]
    system: list[TextBlockParam] | None = None
    tools: list[ToolParam] | None = None
    tool_choice: ToolChoiceParam | None = None
    thinking: ThinkingConfigParam | None = None
    output_config: OutputConfigParam | None = None
    stop_sequences: list[str] | None = None
    extra_headers: dict[str, str] | None = None
    extra_body: dict[str, Any] = field(default_factory=dict[str, Any])
    timeout: float | None = None


def build_request(
    model_name: str,
    history: Sequence[ModelRequest | ModelResponse],
    settings: ModelSettings,
    params: ModelRequestParams,
) -> MessagesRequest:
    """Translate one Covey request into the Messages API's parameters.

    Args:
        model_name: The API's model name.
        history: The messages so far.
        settings: Merged model settings. `seed` and the penalties have no Anthropic equivalent
            and are not sent.
        params: Tools, tool choice and structured-output mode.

    Raises:
        ConfigurationError: the history holds media the API does not take.
    """
    mapped = map_messages(history)
    budget = settings.thinking_budget
    thinking_on = budget is not None and budget > 0
    request = MessagesRequest(
        model=model_name,
        max_tokens=settings.max_tokens
        or (DEFAULT_MAX_TOKENS + budget if thinking_on and budget else DEFAULT_MAX_TOKENS),
        messages=mapped.messages,
        system=mapped.system or None,
        stop_sequences=list(settings.stop) if settings.stop else None,
        extra_headers=dict(settings.extra_headers) if settings.extra_headers else None,
        timeout=settings.timeout,
    )
    cache = settings.prompt_cache is not False  # on unless switched off explicitly

    if budget is not None:
        request.thinking = (
            {"type": "enabled", "budget_tokens": budget} if budget > 0 else {"type": "disabled"}
        )

    output_config: OutputConfigParam = {}
    if settings.reasoning_effort is not None:
        output_config["effort"] = _EFFORT[settings.reasoning_effort]
    if params.output_mode == "native" and params.output_schema is not None:
        output_config["format"] = {
            "type": "json_schema",
            "schema": params.output_schema.json_schema,
        }
    request.output_config = output_config or None

    tools = [_tool_param(tool) for tool in params.all_tools]
    if tools:
        if cache:
            tools[-1]["cache_control"] = {"type": "ephemeral"}
        request.tools = tools
        request.tool_choice = _tool_choice(params, settings, thinking_on=thinking_on)
    if request.system and cache:
        request.system[-1]["cache_control"] = {"type": "ephemeral"}

    # The SDK's `create` has no sampling arguments; the API takes them in the body.
    if settings.temperature is not None:
        request.extra_body["temperature"] = settings.temperature
    if settings.top_p is not None:
        request.extra_body["top_p"] = settings.top_p
    if settings.extra_body:
        request.extra_body.update(settings.extra_body)
    return request


def _tool_param(tool: ToolDefinition) -> ToolParam:
    param: ToolParam = {"name": tool.name, "input_schema": tool.parameters_json_schema}
    if tool.description:
        param["description"] = tool.description
    if tool.strict is not None:
        param["strict"] = tool.strict
    return param


def _tool_choice(
    params: ModelRequestParams, settings: ModelSettings, *, thinking_on: bool
) -> ToolChoiceParam | None:
    choice = params.tool_choice
    if (
        choice == "auto"
        and params.output_mode == "tool"
        and params.output_tools
        and not params.allow_text_output
        # The API rejects a forced tool choice (`any` or `tool`) while extended thinking is on;
        # then the model chooses, and a text answer goes back to it as a retry.
        and not thinking_on
    ):
        if not params.function_tools and len(params.output_tools) == 1:
            choice = params.output_tools[0].name
        else:
            # Function tools must stay callable before the output tool: any tool, not one.
            choice = "required"

    if choice == "none":
        return {"type": "none"}
    disable_parallel = settings.parallel_tool_calls is False
    if choice == "auto":
        if not disable_parallel:
            return None  # the API's default
        return {"type": "auto", "disable_parallel_tool_use": True}
    if choice == "required":
        if disable_parallel:
            return {"type": "any", "disable_parallel_tool_use": True}
        return {"type": "any"}
    if disable_parallel:
        return {"type": "tool", "name": choice, "disable_parallel_tool_use": True}
    return {"type": "tool", "name": choice}
