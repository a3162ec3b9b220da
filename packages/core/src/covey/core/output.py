"""Structured output: choosing the strategy per model profile, schemas, validation, partials.

The strategy comes from the model's profile unless the agent forces one:
`native` (the provider's JSON-schema mode), `tool` (the model calls an output tool whose arguments
are the output) or `prompted` (the schema goes in the instructions and JSON is parsed from text).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import PydanticSchemaGenerationError, PydanticUserError, TypeAdapter, ValidationError
from pydantic_core import from_json

from covey.spec import ModelProfile, OutputMode, OutputSchema, ToolDefinition
from covey.spec.errors import ConfigurationError

__all__ = ["OutputModeChoice", "OutputSpec", "resolve_output_mode"]

OutputModeChoice = Literal["auto", "native", "tool", "prompted"]
OUTPUT_TOOL_NAME = "final_result"
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def resolve_output_mode(choice: OutputModeChoice, profile: ModelProfile) -> OutputMode:
    """The strategy to use for `profile`, given the agent's choice."""
    if choice == "auto":
        mode = profile.default_output_mode
        if mode == "text":
            mode = "tool"
        if mode == "native" and not profile.supports_json_schema_output:
            mode = "tool"
        if mode == "tool" and not profile.supports_tools:
            mode = "prompted"
        return mode
    if choice == "native" and not profile.supports_json_schema_output:
        raise ConfigurationError(
            "output_mode='native' needs a model whose profile supports JSON-schema output; "
            "use output_mode='tool' or 'prompted' (or 'auto') with this model"
        )
    if choice == "tool" and not profile.supports_tools:
        raise ConfigurationError(
            "output_mode='tool' needs a model that supports tools; use 'prompted' or 'auto'"
        )
    return choice


def _strip_titles(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            k: _strip_titles(v)
            for k, v in schema.items()  # pyright: ignore[reportUnknownVariableType]
            if k != "title"
        }
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]  # pyright: ignore[reportUnknownVariableType]
    return schema


def extract_json(text: str) -> str:
    """The JSON inside a model's text answer: fenced block first, else the outermost braces."""
    fenced = _FENCE.search(text)
    if fenced:
        return fenced.group(1).strip()
    stripped = text.strip()
    if stripped[:1] in "{[":
        return stripped
    start, end = stripped.find("{"), stripped.rfind("}")
    if start != -1 and end > start:
        return stripped[start : end + 1]
    return stripped


@dataclass(slots=True)
class OutputSpec:
    """How one agent's `output_type` is asked for and validated. Built once, then cached."""

    output_type: Any
    adapter: TypeAdapter[Any]
    json_schema: dict[str, Any]
    """The schema sent to the model: always an object (non-object types are wrapped)."""
    wrapped: bool
    description: str | None

    @classmethod
    def build(cls, output_type: Any) -> OutputSpec:
        """Build the spec for `output_type` (pydantic model, dataclass, TypedDict, scalar, union)."""
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(output_type)
            schema: dict[str, Any] = _strip_titles(adapter.json_schema())
        except (PydanticUserError, PydanticSchemaGenerationError) as exc:
            raise ConfigurationError(f"output_type {output_type!r} cannot be used: {exc}") from exc
        is_object = schema.get("type") == "object" and "anyOf" not in schema
        if "$ref" in schema and set(schema) <= {"$ref", "$defs"}:
            ref = schema["$ref"].rsplit("/", 1)[-1]
            is_object = schema.get("$defs", {}).get(ref, {}).get("type") == "object"
        wrapped = not is_object
        if wrapped:
            defs = schema.pop("$defs", None)
            schema = {
                "type": "object",
                "properties": {"response": schema},
                "required": ["response"],
            }
            if defs:
                schema["$defs"] = defs
        doc = getattr(output_type, "__doc__", None)
        description = (
            doc.strip() if isinstance(doc, str) and isinstance(output_type, type) else None
        )
        if description and description.startswith(("dict(", "str(", "int(", "Built-in")):
            description = None
        return cls(output_type, adapter, schema, wrapped, description)

    # --- what the model is told --------------------------------------------------------------

    def output_tool(self) -> ToolDefinition:
        """The tool the model calls to return the output in `tool` mode."""
        return ToolDefinition(
            name=OUTPUT_TOOL_NAME,
            description=self.description or "Return the final result of the task.",
            parameters_json_schema=self.json_schema,
            kind="output",
        )

    def output_schema(self) -> OutputSchema:
        """The schema for `native` and `prompted` modes."""
        return OutputSchema(
            name=OUTPUT_TOOL_NAME, description=self.description, json_schema=self.json_schema
        )

    def prompt_instructions(self) -> str:
        """Instructions for `prompted` mode: answer with JSON matching the schema."""
        return (
            "Answer with a single JSON object, and nothing else, that matches this JSON schema:\n"
            + json.dumps(self.json_schema, ensure_ascii=False)
        )

    # --- validation ----------------------------------------------------------------------------

    def _unwrap(self, value: Any) -> Any:
        if self.wrapped and isinstance(value, dict):
            mapping: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
            return mapping.get("response")
        return value

    def validate_args(self, args: dict[str, Any] | str) -> Any:
        """Validate output-tool arguments. Raises `pydantic.ValidationError` or `ValueError`."""
        data = json.loads(args) if isinstance(args, str) else args
        if self.wrapped:
            if not isinstance(data, dict) or "response" not in data:
                raise ValueError('the arguments must be an object with a "response" field')
            data = data["response"]  # pyright: ignore[reportUnknownVariableType]
        return self.adapter.validate_python(data)

    def validate_text(self, text: str) -> Any:
        """Validate a JSON text answer (native and prompted modes)."""
        raw = extract_json(text)
        data = json.loads(raw)
        return self.adapter.validate_python(self._unwrap(data) if self.wrapped else data)

    def partial(self, raw: str) -> Any | None:
        """The output as far as `raw` (incomplete JSON) goes, or None if nothing parses yet."""
        try:
            data = from_json(raw, allow_partial=True)
        except ValueError:
            return None
        data = self._unwrap(data)
        if data is None:
            return None
        try:
            return self.adapter.validate_python(data, experimental_allow_partial=True)
        except (ValidationError, TypeError):
            return data


def validation_errors(exc: Exception) -> list[dict[str, Any]]:
    """JSON-safe error list for a retry prompt."""
    if isinstance(exc, ValidationError):
        return json.loads(exc.json(include_url=False, include_input=False))
    return [{"loc": [], "msg": str(exc), "type": "value_error"}]
