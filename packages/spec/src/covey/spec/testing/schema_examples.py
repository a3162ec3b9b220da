"""Example values built from a JSON Schema, for test doubles that call tools."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

__all__ = ["example_arguments", "example_value"]

_STRING_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
}


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    seen: set[str] = set()
    while "$ref" in schema:
        ref = str(schema["$ref"])
        if ref in seen or not ref.startswith("#/"):
            return {}
        seen.add(ref)
        node: Mapping[str, Any] = root
        for part in ref[2:].split("/"):
            child = node.get(part)
            node = cast("Mapping[str, Any]", child) if isinstance(child, Mapping) else {}
        schema = node
    return schema


def _number(schema: Mapping[str, Any], integer: bool) -> int | float:
    step = 1 if integer else 0.5
    low: float | None = None
    if "minimum" in schema:
        low = float(schema["minimum"])
    if "exclusiveMinimum" in schema:
        low = float(schema["exclusiveMinimum"]) + step
    high: float | None = None
    if "maximum" in schema:
        high = float(schema["maximum"])
    if "exclusiveMaximum" in schema:
        high = float(schema["exclusiveMaximum"]) - step
    value = 1.0
    if low is not None and value < low:
        value = low
    if high is not None and value > high:
        value = high
    return int(value) if integer else value


def example_value(schema: Mapping[str, Any], *, root: Mapping[str, Any] | None = None) -> Any:
    """A small value valid for `schema` (best effort: patterns are not honoured).

    Required object properties are filled in, optional ones left out; `const`, `enum` and
    `default` are used when present; `$ref`s are resolved against `root` (default: `schema`).
    """
    root = schema if root is None else root
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            typed = [
                cast("Mapping[str, Any]", o)
                for o in cast("list[Any]", options)
                if isinstance(o, Mapping)
            ]
            usable = [o for o in typed if _resolve(o, root).get("type") != "null"] or typed
            return example_value(usable[0], root=root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [str(k) for k in cast("list[Any]", kind)]
        kind = next((k for k in kinds if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        properties = cast("Mapping[str, Any]", schema.get("properties") or {})
        required = cast("list[str]", schema.get("required") or [])
        return {name: example_value(properties.get(name, {}), root=root) for name in required}
    if kind == "array":
        items = cast("Mapping[str, Any]", schema.get("items") or {})
        return [example_value(items, root=root) for _ in range(int(schema.get("minItems", 0)))]
    if kind == "string":
        fmt = schema.get("format")
        if isinstance(fmt, str) and fmt in _STRING_FORMATS:
            return _STRING_FORMATS[fmt]
        length = max(int(schema.get("minLength", 0)), 1)
        text = "example" if length <= 7 else "x" * length
        if "maxLength" in schema:
            text = text[: max(int(schema["maxLength"]), length)]
        return text
    if kind == "integer":
        return _number(schema, integer=True)
    if kind == "number":
        return _number(schema, integer=False)
    if kind == "boolean":
        return True
    return None


def example_arguments(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments for a tool whose parameters are `schema`: its required properties filled in."""
    value = example_value(schema)
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}
