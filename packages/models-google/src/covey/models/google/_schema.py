"""Prepare a JSON Schema for Gemini's `parametersJsonSchema` / `responseJsonSchema` fields.

Both fields take JSON Schema itself ($ref, $defs, anyOf, nullable types...), so the schema is
sent almost as is. Only keywords Gemini rejects or that carry nothing for the model are taken
out: `$schema`, `$id`, `$comment`, `examples`, `discriminator`; `const` becomes a one-value `enum`.
"""

from __future__ import annotations

from typing import Any, cast

__all__ = ["clean_schema"]

_DROP = frozenset({"$schema", "$id", "$comment", "examples", "discriminator"})
# Keywords whose value is a map of name -> schema.
_SCHEMA_MAPS = frozenset({"properties", "$defs", "definitions", "patternProperties"})
# Keywords whose value is a list of schemas.
_SCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})
# Keywords whose value is one schema.
_SCHEMA_VALUES = frozenset({"items", "additionalProperties", "not", "contains"})


def clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `schema` that Gemini accepts; the input is not modified."""
    return _clean(schema)


def _clean(node: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "const":
            if "enum" not in node:
                out["enum"] = [value]
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            mapping = cast(dict[str, Any], value)
            out[key] = {
                name: _clean(cast(dict[str, Any], sub)) if isinstance(sub, dict) else sub
                for name, sub in mapping.items()
            }
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            items = cast(list[Any], value)
            out[key] = [
                _clean(cast(dict[str, Any], sub)) if isinstance(sub, dict) else sub for sub in items
            ]
        elif key in _SCHEMA_VALUES and isinstance(value, dict):
            out[key] = _clean(cast(dict[str, Any], value))
        else:
            out[key] = value
    return out
