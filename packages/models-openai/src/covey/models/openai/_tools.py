"""Tool definitions, `tool_choice` and structured output for both OpenAI APIs."""

from __future__ import annotations

from typing import Any

from covey.models.openai.profiles import OpenAIModelProfile
from covey.spec.models import ModelRequestParams
from covey.spec.tools import ToolDefinition

__all__ = [
    "chat_response_format",
    "chat_tool_choice",
    "chat_tools",
    "resolve_tool_choice",
    "responses_text_format",
    "responses_tool_choice",
    "responses_tools",
]


def chat_tools(tools: list[ToolDefinition]) -> list[dict[str, Any]]:
    """Chat Completions `tools`: one `function` entry per definition."""
    out: list[dict[str, Any]] = []
    for tool in tools:
        function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters_json_schema}
        if tool.description:
            function["description"] = tool.description
        if tool.strict is not None:
            function["strict"] = tool.strict
        out.append({"type": "function", "function": function})
    return out


def responses_tools(tools: list[ToolDefinition]) -> list[dict[str, Any]]:
    """Responses API `tools`. `strict` is always sent: the API assumes `true` when it is absent,
    which rejects schemas that are not strict-ready."""
    out: list[dict[str, Any]] = []
    for tool in tools:
        entry: dict[str, Any] = {
            "type": "function",
            "name": tool.name,
            "parameters": tool.parameters_json_schema,
            "strict": bool(tool.strict),
        }
        if tool.description:
            entry["description"] = tool.description
        out.append(entry)
    return out


def resolve_tool_choice(params: ModelRequestParams, profile: OpenAIModelProfile) -> str | None:
    """The effective tool choice: `none`, `required`, a tool name, or `None` for the default.

    In tool output mode with no text allowed, `auto` becomes `required` where the model
    supports it, so the model cannot end the run with text.
    """
    if not params.all_tools:
        return None
    choice = params.tool_choice
    if (
        choice == "auto"
        and params.output_mode == "tool"
        and not params.allow_text_output
        and profile.supports_tool_choice_required
    ):
        choice = "required"
    return None if choice == "auto" else choice


def chat_tool_choice(choice: str, *, required_value: str = "required") -> str | dict[str, Any]:
    """`choice` as Chat Completions writes it."""
    if choice == "none":
        return "none"
    if choice == "required":
        return required_value
    return {"type": "function", "function": {"name": choice}}


def responses_tool_choice(choice: str) -> str | dict[str, Any]:
    """`choice` as the Responses API writes it."""
    if choice in ("none", "required"):
        return choice
    return {"type": "function", "name": choice}


def _wants_schema(params: ModelRequestParams) -> bool:
    return params.output_mode == "native" and params.output_schema is not None


def chat_response_format(
    params: ModelRequestParams, profile: OpenAIModelProfile
) -> dict[str, Any] | None:
    """Chat Completions `response_format` for native structured output, else `None`.

    A model without JSON-schema output but with JSON mode gets JSON mode (the schema then only
    reaches it through the prompt).
    """
    if not _wants_schema(params):
        return None
    schema = params.output_schema
    assert schema is not None
    if not profile.supports_json_schema_output and profile.supports_json_object_output:
        return {"type": "json_object"}
    json_schema: dict[str, Any] = {"name": schema.name, "schema": schema.json_schema}
    if schema.description:
        json_schema["description"] = schema.description
    if schema.strict is not None:
        json_schema["strict"] = schema.strict
    return {"type": "json_schema", "json_schema": json_schema}


def responses_text_format(
    params: ModelRequestParams, profile: OpenAIModelProfile
) -> dict[str, Any] | None:
    """Responses API `text.format` for native structured output, else `None`."""
    if not _wants_schema(params):
        return None
    schema = params.output_schema
    assert schema is not None
    if not profile.supports_json_schema_output and profile.supports_json_object_output:
        return {"type": "json_object"}
    fmt: dict[str, Any] = {"type": "json_schema", "name": schema.name, "schema": schema.json_schema}
    if schema.description:
        fmt["description"] = schema.description
    if schema.strict is not None:
        fmt["strict"] = schema.strict
    return fmt
