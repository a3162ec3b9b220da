"""Settings, tools and output mode → the keyword arguments of `converse` / `converse_stream`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from covey.models.bedrock._messages import map_messages
from covey.models.bedrock._profile import model_family
from covey.spec.messages import ModelRequest, ModelResponse
from covey.spec.models import ModelProfile, ModelRequestParams, ModelSettings
from covey.spec.tools import ToolDefinition

__all__ = ["CACHE_POINT", "Guardrail", "build_request"]

CACHE_POINT: dict[str, Any] = {"cachePoint": {"type": "default"}}
"""The block that marks the end of a cacheable prefix."""


@dataclass(frozen=True, slots=True)
class Guardrail:
    """A Bedrock guardrail to apply to every request (Converse's `guardrailConfig`).

    Attributes:
        identifier: The guardrail's id or ARN.
        version: Its version (`"1"`, or `"DRAFT"`).
        trace: `"enabled"` (the default) returns the guardrail's assessment, which tells whether
            the input or the output was blocked and by which policy; `"disabled"` does not.
        stream_processing_mode: For ConverseStream: `"sync"` holds text back until it is
            assessed; `"async"` streams it and assesses in the background.
    """

    identifier: str
    version: str
    trace: Literal["enabled", "disabled", "enabled_full"] = "enabled"
    stream_processing_mode: Literal["sync", "async"] | None = None

    def config(self, *, streaming: bool) -> dict[str, Any]:
        """The `guardrailConfig` parameter."""
        config: dict[str, Any] = {
            "guardrailIdentifier": self.identifier,
            "guardrailVersion": self.version,
            "trace": self.trace,
        }
        if streaming and self.stream_processing_mode is not None:
            config["streamProcessingMode"] = self.stream_processing_mode
        return config


def build_request(
    model_id: str,
    history: Sequence[ModelRequest | ModelResponse],
    settings: ModelSettings,
    params: ModelRequestParams,
    *,
    profile: ModelProfile,
    guardrail: Guardrail | None = None,
    streaming: bool = False,
) -> dict[str, Any]:
    """Translate one Covey request into Converse's parameters.

    `max_tokens`, `temperature`, `top_p` and `stop` go in `inferenceConfig`; `top_k` and, for
    Claude, `thinking_budget` in `additionalModelRequestFields`, with `extra_body` merged on
    top. `prompt_cache` (on by default when the profile says the model caches) adds cache
    points after the system prompt and the tool list. `seed`, the penalties, `extra_headers`
    and `reasoning_effort` have no Converse field and are not sent.

    Raises:
        ConfigurationError: the history holds media Converse does not take.
    """
    mapped = map_messages(history)
    kwargs: dict[str, Any] = {"modelId": model_id, "messages": mapped.messages}
    cache = (
        settings.prompt_cache
        if settings.prompt_cache is not None
        else profile.supports_prompt_cache
    )
    if mapped.system:
        kwargs["system"] = [*mapped.system, CACHE_POINT] if cache else mapped.system

    inference: dict[str, Any] = {}
    if settings.max_tokens is not None:
        inference["maxTokens"] = settings.max_tokens
    if settings.temperature is not None:
        inference["temperature"] = settings.temperature
    if settings.top_p is not None:
        inference["topP"] = settings.top_p
    if settings.stop:
        inference["stopSequences"] = list(settings.stop)
    if inference:
        kwargs["inferenceConfig"] = inference

    extra: dict[str, Any] = {}
    if settings.top_k is not None:
        extra["top_k"] = settings.top_k
    budget = settings.thinking_budget
    thinking_on = bool(budget) and model_family(model_id) == "anthropic"
    if budget is not None and model_family(model_id) == "anthropic":
        extra["thinking"] = (
            {"type": "enabled", "budget_tokens": budget} if budget > 0 else {"type": "disabled"}
        )
    if settings.extra_body:
        extra.update(settings.extra_body)
    if extra:
        kwargs["additionalModelRequestFields"] = extra

    tools: list[dict[str, Any]] = [_tool_spec(tool) for tool in params.all_tools]
    if tools and (params.tool_choice != "none" or mapped.has_tool_blocks):
        config: dict[str, Any] = {"tools": [*tools, CACHE_POINT] if cache else tools}
        choice = _tool_choice(params, profile, thinking_on=thinking_on)
        if choice is not None:
            config["toolChoice"] = choice
        kwargs["toolConfig"] = config
    if guardrail is not None:
        kwargs["guardrailConfig"] = guardrail.config(streaming=streaming)
    return kwargs


def _tool_spec(tool: ToolDefinition) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": tool.name, "inputSchema": {"json": tool.parameters_json_schema}}
    if tool.description:
        spec["description"] = tool.description
    return {"toolSpec": spec}


def _tool_choice(
    params: ModelRequestParams, profile: ModelProfile, *, thinking_on: bool
) -> dict[str, Any] | None:
    choice = params.tool_choice
    if (
        choice == "auto"
        and params.output_mode == "tool"
        and params.output_tools
        and not params.allow_text_output
        # Claude refuses a forced tool choice while reasoning; the model then chooses, and a
        # text answer goes back to it as a retry.
        and not thinking_on
    ):
        if not params.function_tools and len(params.output_tools) == 1:
            choice = params.output_tools[0].name
        else:
            choice = "required"
    if choice in ("auto", "none"):
        # Converse has no "none": tools are left out then, unless the history holds tool
        # blocks (Bedrock then requires them declared), and the model chooses.
        return None
    if not profile.supports_tool_choice_required:
        return None  # only Claude, Nova and Mistral Large take `any` / `tool`
    if choice == "required":
        return {"any": {}}
    return {"tool": {"name": choice}}
