"""Schema-valid JSON values for test doubles: tool arguments and structured output.

One generator for every Covey test double (`EchoChatModel`, `TestModel`, the `ToolsetSuite`):
`generate_json_data(schema, seed=...)` walks the JSON schema (draft 2020-12 as pydantic writes it,
and the draft 4-7 forms) and builds a value valid for it, the same value for the same schema
and seed in every run and process. Strings with a `pattern` come from Hypothesis'
`from_regex`, drawn with a fixed seed; Hypothesis is imported the first time a pattern is met
(install `covey-spec[testing]`), never at `import covey.spec`.
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
import uuid
from collections.abc import Mapping
from typing import Any, cast

from covey.spec.errors import ConfigurationError

__all__ = ["generate_arguments", "generate_json_data"]

_MAX_DEPTH = 6
"""Below this depth optional fields are left out and lists kept to their minimum length."""
_GIVE_UP_DEPTH = 40
"""A schema that still recurses here cannot be satisfied by finite data."""


def generate_arguments(schema: Mapping[str, Any], *, seed: int = 0) -> dict[str, Any]:
    """Arguments for a tool whose parameters are `schema`: `generate_json_data`'s object, or `{}`
    when the schema does not describe an object.

    Args:
        schema: The tool's `parameters_json_schema`.
        seed: Varies the values chosen; the same seed gives the same arguments.
    """
    value = generate_json_data(schema, seed=seed)
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def generate_json_data(schema: Mapping[str, Any], *, seed: int = 0) -> Any:
    """A JSON value valid for `schema`, for test arguments and test output.

    Handles `type`, `properties` / `required` / `additionalProperties` / `propertyNames`,
    `$ref` with `$defs`, `allOf`, `anyOf` / `oneOf`, `enum`, `const`, arrays (`items`,
    `prefixItems`, `minItems`, `maxItems`, `uniqueItems`), numeric bounds (inclusive and
    exclusive) and `multipleOf`, string lengths, common `format`s (date, date-time, time,
    duration, uuid, email, uri, ip addresses, ...) and `pattern` (through Hypothesis). Optional
    properties are filled in too (down to a nesting depth), so every parameter gets exercised.
    Values are chosen to pass validation by the pydantic model the schema was generated from.

    Args:
        schema: A JSON schema, e.g. `TypeAdapter(Model).json_schema()`.
        seed: Varies the values chosen; the same seed gives the same value.

    Raises:
        ConfigurationError: the schema has an external `$ref`, or a `pattern` needs Hypothesis
            and it is not installed.
    """
    return _SchemaData(schema).value(schema, 0, seed)


class _SchemaData:
    __slots__ = ("_root",)

    def __init__(self, root: Mapping[str, Any]) -> None:
        self._root = root

    # -- schema plumbing --

    def _pointer(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#"):
            raise ConfigurationError(f"Test data cannot follow the external schema $ref {ref!r}.")
        node: Any = self._root
        for token in (t for t in ref[1:].split("/") if t):
            token = token.replace("~1", "/").replace("~0", "~")
            node = cast(Any, node[int(token)] if isinstance(node, list) else node[token])
        return cast(Mapping[str, Any], node)

    def _resolve(self, schema: Any) -> dict[str, Any]:
        """`schema` with `$ref`s followed and `allOf` merged into one flat schema."""
        if schema is True or schema is None:
            return {}
        if schema is False:
            return {"not": {}}
        resolved: dict[str, Any] = dict(cast(Mapping[str, Any], schema))
        seen: set[str] = set()
        while "$ref" in resolved:
            ref = cast(str, resolved.pop("$ref"))
            if ref in seen:
                break
            seen.add(ref)
            resolved = {**self._pointer(ref), **resolved}  # sibling keywords refine the target
        if "allOf" in resolved:
            merged: dict[str, Any] = {}
            for sub in cast(list[Any], resolved.pop("allOf")):
                part = self._resolve(sub)
                properties = {**merged.get("properties", {}), **part.get("properties", {})}
                required = [*merged.get("required", []), *part.get("required", [])]
                merged.update(part)
                if properties:
                    merged["properties"] = properties
                if required:
                    merged["required"] = required
            resolved = {**merged, **resolved}
        return resolved

    def _is_null(self, schema: Any) -> bool:
        resolved = self._resolve(schema)
        return resolved.get("type") == "null" or ("const" in resolved and resolved["const"] is None)

    # -- values --

    def value(self, schema: Any, depth: int, seed: int) -> Any:
        if depth > _GIVE_UP_DEPTH:
            return None
        s = self._resolve(schema)
        if "const" in s:
            return s["const"]
        if "enum" in s:
            options = cast(list[Any], s["enum"])
            return options[seed % len(options)] if options else None
        for keyword in ("anyOf", "oneOf"):
            if keyword in s:
                return self._choice(cast(list[Any], s[keyword]), s, depth, seed)
        kind = s.get("type")
        if isinstance(kind, list):
            kinds = [k for k in cast(list[str], kind) if k != "null"]
            if not kinds:
                return None
            kind = kinds[0]
        if kind is None:
            if "properties" in s or "additionalProperties" in s:
                kind = "object"
            elif "items" in s or "prefixItems" in s:
                kind = "array"
            elif "default" in s:
                return s["default"]
            else:
                return "value"
        if kind == "object":
            return self._object(s, depth, seed)
        if kind == "array":
            return self._array(s, depth, seed)
        if kind == "string":
            return self._string(s, depth, seed)
        if kind == "integer":
            return self._integer(s, seed)
        if kind == "number":
            return self._number(s, seed)
        if kind == "boolean":
            return seed % 2 == 0
        return None

    def _choice(self, options: list[Any], s: Mapping[str, Any], depth: int, seed: int) -> Any:
        nullable = any(self._is_null(o) for o in options)
        candidates: list[Any] = [o for o in options if not self._is_null(o)]
        if not candidates or (nullable and depth >= _MAX_DEPTH):
            return None
        if depth >= _MAX_DEPTH:
            # Deep in a recursive schema: prefer a branch that does not recurse further.
            flat: list[Any] = [o for o in candidates if not (isinstance(o, dict) and "$ref" in o)]
            candidates = flat or candidates
        # The first branch: pydantic lists the natural form first (`Decimal` is a number first,
        # a string only as an alternative the schema does not constrain).
        chosen: Any = candidates[0]
        siblings = {k: v for k, v in s.items() if k not in ("anyOf", "oneOf", "discriminator")}
        if siblings and isinstance(chosen, dict):
            # Keywords beside `anyOf` (e.g. `minLength`) apply to the chosen branch too.
            chosen = {**siblings, "allOf": [cast(dict[str, Any], chosen)]}
        return self.value(chosen, depth, seed)

    def _object(self, s: Mapping[str, Any], depth: int, seed: int) -> dict[str, Any]:
        properties = cast(Mapping[str, Any], s.get("properties") or {})
        required = set(cast(list[str], s.get("required") or []))
        data: dict[str, Any] = {}
        for name, sub in properties.items():
            if name not in required and depth >= _MAX_DEPTH:
                continue  # optional: its default applies
            data[name] = self.value(sub, depth + 1, seed)
        for name in sorted(required - data.keys()):
            data[name] = "value"
        if properties:
            return data
        extra = s.get("additionalProperties")
        patterns = cast(Mapping[str, Any], s.get("patternProperties") or {})
        if not patterns and (extra is False or extra is None):
            return data
        count = max(int(s.get("minProperties", 0)), 1 if depth < _MAX_DEPTH else 0)
        if "maxProperties" in s:
            count = min(count, int(s["maxProperties"]))
        value_schema: Any = extra if extra not in (None, True) else {}
        key_schema: Any = s.get("propertyNames")
        if patterns and not isinstance(extra, Mapping):
            pattern, value_schema = next(iter(patterns.items()))
            key_schema = {"type": "string", "pattern": pattern}
        for i in range(count * 4):  # a few spare attempts in case keys collide
            if len(data) >= count:
                break
            # Numeric keys also validate as `dict[int, ...]`, whose schema says nothing of keys.
            key = str(self.value(key_schema, depth + 1, seed + i)) if key_schema else str(i + 1)
            data[key] = self.value(value_schema, depth + 1, seed + i)
        return data

    def _array(self, s: Mapping[str, Any], depth: int, seed: int) -> list[Any]:
        prefix = cast(list[Any], s.get("prefixItems") or [])
        items: Any = s.get("items")
        if isinstance(items, list):  # draft 4-7 tuple form
            prefix, items = cast(list[Any], items), s.get("additionalItems")
        minimum = int(s.get("minItems", 0))
        count = max(minimum, len(prefix), 1 if depth < _MAX_DEPTH else 0)
        if "maxItems" in s:
            count = min(count, int(s["maxItems"]))
        values = [self.value(sub, depth + 1, seed) for sub in prefix[:count]]
        if items is False:
            return values
        unique = bool(s.get("uniqueItems"))
        seen = {_dumps(v) for v in values}
        attempt = 0
        while len(values) < count and attempt < count * 10 + 10:
            value = self.value(items, depth + 1, seed + len(values) + attempt)
            attempt += 1
            if unique:
                marker = _dumps(value)
                if marker in seen:
                    continue
                seen.add(marker)
            values.append(value)
        return values

    def _string(self, s: Mapping[str, Any], depth: int, seed: int) -> str:
        content = s.get("contentSchema")
        if content is not None and "json" in str(s.get("contentMediaType", "application/json")):
            return _dumps(self.value(content, depth + 1, seed))
        minimum = int(s.get("minLength", 0))
        maximum = s.get("maxLength")
        fmt = s.get("format")
        if isinstance(fmt, str):
            formatted = _formatted(fmt, seed)
            if formatted is not None:
                return formatted
        pattern = s.get("pattern")
        if isinstance(pattern, str):
            matched = _from_pattern(pattern, minimum, maximum, seed)
            if matched is not None:
                return matched
        # The seed goes last and survives truncation, so items of a set stay distinct.
        suffix = str(seed) if seed else ""
        body = "text"
        if maximum is not None:
            body = body[: max(0, int(maximum) - len(suffix))]
        text = body + "x" * max(0, minimum - len(body) - len(suffix)) + suffix
        if maximum is not None and len(text) > int(maximum):
            text = text[len(text) - int(maximum) :]
        return text

    def _integer(self, s: Mapping[str, Any], seed: int) -> int:
        low: int | None = None
        high: int | None = None
        if "minimum" in s:
            low = math.ceil(s["minimum"])
        if "exclusiveMinimum" in s:
            bound = math.floor(s["exclusiveMinimum"]) + 1
            low = bound if low is None else max(low, bound)
        if "maximum" in s:
            high = math.floor(s["maximum"])
        if "exclusiveMaximum" in s:
            bound = math.ceil(s["exclusiveMaximum"]) - 1
            high = bound if high is None else min(high, bound)
        value = 1 + seed
        # Out of range: move into it, still varying with the seed.
        if low is not None and high is not None and not low <= value <= high and low <= high:
            value = low + (value - low) % (high - low + 1)
        elif low is not None and value < low:
            value = low + seed
        elif high is not None and value > high:
            value = high - seed
        step = s.get("multipleOf")
        if isinstance(step, int) and step > 0 and value % step:
            up = (value // step + 1) * step
            down = (value // step) * step
            value = up if high is None or up <= high else down
        return value

    def _number(self, s: Mapping[str, Any], seed: int) -> int | float:
        low: float | None = s.get("minimum")
        high: float | None = s.get("maximum")
        low_open = high_open = False
        if "exclusiveMinimum" in s and (low is None or s["exclusiveMinimum"] >= low):
            low, low_open = s["exclusiveMinimum"], True
        if "exclusiveMaximum" in s and (high is None or s["exclusiveMaximum"] <= high):
            high, high_open = s["exclusiveMaximum"], True

        def fits(v: float) -> bool:
            above = low is None or (v > low if low_open else v >= low)
            below = high is None or (v < high if high_open else v <= high)
            return above and below

        value: float = 1 + seed
        step = s.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            anchor = low if low is not None else value if high is None else min(high, value)
            start = math.ceil(anchor / step)
            for k in (start, start + 1, start - 1, start + 2, start - 2):
                candidate = _tidy(k * step)
                if fits(candidate):
                    return candidate
            return _tidy(start * step)
        if fits(value):
            return value
        if low is not None and high is not None:
            return _tidy((low + high) / 2)
        if low is not None:
            return _tidy(low + 1)
        assert high is not None
        return _tidy(high - 1)


def _tidy(value: float) -> int | float:
    """`value` without float noise (`0.30000000000000004` -> `0.3`), an int when whole."""
    if isinstance(value, int):
        return value
    rounded = round(value, 12)
    return int(rounded) if rounded.is_integer() and abs(rounded) < 2**53 else rounded


def _uuid(version: int, seed: int) -> str:
    value = 0x1234_5678_9ABC_DEF0_1234_5678_9ABC_DEF0 + seed
    value &= ~(0xF << 76)
    value |= version << 76
    value &= ~(0x3 << 62)
    value |= 0x2 << 62  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def _formatted(fmt: str, seed: int) -> str | None:
    day = 1 + seed % 28
    host = 1 + seed % 254
    if fmt.startswith("uuid"):
        version = fmt[4:]
        return _uuid(int(version) if version.isdigit() else 4, seed)
    known: dict[str, str] = {
        "date": f"2024-01-{day:02d}",
        "date-time": f"2024-01-{day:02d}T12:00:00Z",
        "time": f"12:{seed % 60:02d}:00Z",  # RFC 3339 full-time: the offset is required
        "duration": f"PT{seed + 1}H",
        "email": f"user{seed or ''}@example.com",
        "idn-email": f"user{seed or ''}@example.com",
        "uri": f"https://example.com/{seed}",
        "iri": f"https://example.com/{seed}",
        "uri-reference": f"https://example.com/{seed}",
        "iri-reference": f"https://example.com/{seed}",
        "hostname": f"host{seed}.example.com",
        "idn-hostname": f"host{seed}.example.com",
        "ipv4": f"192.0.2.{host}",
        "ipv6": f"2001:db8::{host:x}",
        "ipvanyaddress": f"192.0.2.{host}",
        "ipv4interface": f"192.0.2.{host}/24",
        "ipv6interface": f"2001:db8::{host:x}/64",
        "ipvanyinterface": f"192.0.2.{host}/24",
        "ipv4network": "192.0.2.0/24",
        "ipv6network": "2001:db8::/32",
        "ipvanynetwork": "192.0.2.0/24",
        "base64": "dGVzdA==",
        "byte": "dGVzdA==",
        "binary": f"test{seed or ''}",
        "password": f"secret{seed or ''}",
        "json-pointer": "/a",
        "regex": "^a+$",
        "directory-path": ".",
        "path": "example.txt",
    }
    return known.get(fmt)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# -- strings from a regular expression, by Hypothesis --

_PATTERN_LOCK = threading.Lock()
_MAX_PATTERN_EXAMPLES = 8
"""Seed `n` takes the `min(n, 7) + 1`-th example of a seeded run: the first one is the simplest
string of the pattern, the same for every seed, and items of a set must differ."""


def _from_pattern(pattern: str, minimum: int, maximum: Any, seed: int) -> str | None:
    """A string `re.search` finds `pattern` in, within the length bounds; `None` if there is none."""
    high = None if maximum is None else int(maximum)
    return _drawn_from_pattern(pattern, minimum, high, seed)


@functools.lru_cache(maxsize=1024)
def _drawn_from_pattern(pattern: str, minimum: int, maximum: int | None, seed: int) -> str | None:
    try:
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import seed as seeded
        from hypothesis import strategies as st
        from hypothesis.errors import HypothesisException
    except ImportError as missing:
        raise ConfigurationError(
            f"Generating a string for the pattern {pattern!r} needs Hypothesis: "
            "pip install 'covey-spec[testing]'."
        ) from missing

    def fits(text: str) -> bool:
        return len(text) >= minimum and (maximum is None or len(text) <= maximum)

    try:
        # ASCII: `\d`, `\w` and `\s` mean what they mean in JSON Schema's (ECMA-262) regexes.
        compiled = re.compile(pattern, re.ASCII)
    except re.error:  # not a Python regular expression
        return None
    # A full match also passes JSON Schema's search semantics, without random padding.
    strategy = st.from_regex(compiled, fullmatch=True).filter(fits)
    drawn: list[str] = []

    @seeded(seed)
    @settings(
        database=None,
        max_examples=min(seed, _MAX_PATTERN_EXAMPLES - 1) + 1,
        phases=[Phase.generate],
        suppress_health_check=cast("list[HealthCheck]", list(HealthCheck)),
        deadline=None,
        print_blob=False,
    )
    @given(strategy)
    def collect(text: str) -> None:
        drawn.append(text)

    with _PATTERN_LOCK:  # Hypothesis runs one engine at a time per process
        try:
            collect()
        except HypothesisException:  # unsatisfiable within the length bounds
            return None
    return drawn[-1] if drawn else None
