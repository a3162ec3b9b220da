"""Covey settings and request parameters -> a Gemini `GenerateContentConfig`."""

from __future__ import annotations

from google.genai import types

from covey.models.google._profile import thinking_family
from covey.models.google._schema import clean_schema
from covey.spec.errors import ConfigurationError
from covey.spec.models import ModelProfile, ModelRequestParams, ModelSettings

__all__ = ["build_config", "function_calling_config", "thinking_config"]

# Budgets for `reasoning_effort` on models that only take a budget (Gemini 2.5): Flash spends
# up to 24576 thinking tokens, Pro up to 32768 and at least 128.
_EFFORT_BUDGET = {
    "none": 0,
    "minimal": 0,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 24576,
}
_PRO_MINIMUM_BUDGET = 128
_PRO_MAXIMUM_BUDGET = 32768


def build_config(
    *,
    model_name: str,
    settings: ModelSettings,
    params: ModelRequestParams,
    profile: ModelProfile,
    system_instruction: str | None,
) -> types.GenerateContentConfig:
    """The whole `config` of one `generateContent` call."""
    config = types.GenerateContentConfig(
        system_instruction=system_instruction,
        temperature=settings.temperature,
        top_p=settings.top_p,
        max_output_tokens=settings.max_tokens,
        stop_sequences=list(settings.stop) if settings.stop else None,
        seed=settings.seed,
        presence_penalty=settings.presence_penalty,
        frequency_penalty=settings.frequency_penalty,
        thinking_config=thinking_config(model_name, settings, profile),
        # One request per call: Covey's run loop executes tools and continues the turn itself.
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        automatic_continuation=False,
    )
    tools = params.all_tools
    if tools:
        config.tools = [
            types.Tool(
                function_declarations=[
                    types.FunctionDeclaration(
                        name=tool.name,
                        description=tool.description or None,
                        parameters_json_schema=clean_schema(tool.parameters_json_schema),
                    )
                    for tool in tools
                ]
            )
        ]
        calling = function_calling_config(params, profile)
        if calling is not None:
            config.tool_config = types.ToolConfig(function_calling_config=calling)
    if params.output_mode == "native" and params.output_schema is not None:
        schema = clean_schema(params.output_schema.json_schema)
        if params.output_schema.description and "description" not in schema:
            schema["description"] = params.output_schema.description
        config.response_mime_type = "application/json"
        config.response_json_schema = schema
    config.http_options = _http_options(settings)
    return config


def function_calling_config(
    params: ModelRequestParams, profile: ModelProfile
) -> types.FunctionCallingConfig | None:
    """`tool_choice` as Gemini's function-calling mode; `None` for the default (`AUTO`).

    Raises:
        ConfigurationError: `tool_choice` names a tool that is not declared.
    """
    choice = params.tool_choice
    if (
        choice == "auto"
        and params.output_mode == "tool"
        and params.output_tools
        and not params.allow_text_output
        and profile.supports_tool_choice_required
    ):
        choice = "required"  # text would not end the run, so a tool call must come
    mode = types.FunctionCallingConfigMode
    if choice == "auto":
        return None
    if choice == "none":
        return types.FunctionCallingConfig(mode=mode.NONE)
    if choice == "required":
        return types.FunctionCallingConfig(mode=mode.ANY)
    names = [tool.name for tool in params.all_tools]
    if choice not in names:
        raise ConfigurationError(
            f"tool_choice {choice!r} names no declared tool; expected 'auto', 'none', "
            f"'required' or one of {names}."
        )
    return types.FunctionCallingConfig(mode=mode.ANY, allowed_function_names=[choice])


def thinking_config(
    model_name: str, settings: ModelSettings, profile: ModelProfile
) -> types.ThinkingConfig | None:
    """`thinking_budget` / `reasoning_effort` as Gemini's thinking config, thoughts included.

    A budget is sent as is (0 turns thinking off). An effort becomes a thinking level on Gemini 3
    (`none` is `MINIMAL`, the least there is) and a budget on budget-only models (`none` and
    `minimal` the least the model allows, `xhigh` the most). Nothing is sent when neither is
    set, so each model thinks as it does by default.
    """
    budget = settings.thinking_budget
    effort = settings.reasoning_effort
    if budget is None and effort is None:
        return None
    if budget is not None:
        if budget == 0 and not profile.supports_thinking:
            return None  # nothing to turn off
        return types.ThinkingConfig(thinking_budget=budget, include_thoughts=budget > 0 or None)
    assert effort is not None
    if thinking_family(model_name) == "level":
        level = "minimal" if effort == "none" else effort  # Gemini 3 cannot stop thinking
        return types.ThinkingConfig(
            thinking_level=types.ThinkingLevel(level.upper()), include_thoughts=True
        )
    amount = _EFFORT_BUDGET[effort]
    if "pro" in model_name.lower():
        amount = _PRO_MAXIMUM_BUDGET if effort == "xhigh" else max(amount, _PRO_MINIMUM_BUDGET)
    return types.ThinkingConfig(thinking_budget=amount, include_thoughts=amount > 0 or None)


def _http_options(settings: ModelSettings) -> types.HttpOptions | None:
    if settings.timeout is None and not settings.extra_headers and not settings.extra_body:
        return None
    return types.HttpOptions(
        headers=dict(settings.extra_headers) if settings.extra_headers else None,
        # The SDK takes milliseconds.
        timeout=max(1, round(settings.timeout * 1000)) if settings.timeout is not None else None,
        extra_body=dict(settings.extra_body) if settings.extra_body else None,
    )
