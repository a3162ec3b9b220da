"""Compile the spec's filter AST into a LanceDB SQL predicate with `matches()` semantics.

Besides the record's metadata as JSON text, each row keeps its top-level scalar values apart by
type, in columns made for filtering (lists, objects and nulls go in none of them, so they never
match):

- `meta_pairs` (text): each string or boolean as `US json(key) RS json(value)`, then a final
  `US` (US = `\\x1f`, RS = `\\x1e`). `json.dumps` escapes every control character, so the
  separators only ever separate, and `Eq` / `In` on a string or a boolean is a substring test
  for one whole pair: `"2023"` (a string) and `2023` (a number) are different text, `true` is
  not `1`. This is the hot path (tenant, user, knowledge base), about 15× cheaper in Lance than
  a JSON lookup.
- `meta_num` (Lance JSON): the numbers, read with `json_get_float` for `Eq` and `Range`, so
  `1 == 1.0`. Numbers compare as 64-bit floats: integers beyond 2**53 by their nearest float.
- `meta_str` (Lance JSON): the strings again, read with `json_get_string` for `Range`, which
  orders them by code point as Python does.

Lance's `json_get_*` functions coerce across types and its filter SQL has no `CASE`, so one
mixed JSON column could not be filtered type-strictly; hence a column per type.

A JSON lookup of a missing key is NULL; every such leaf is wrapped in `COALESCE(..., FALSE)` so
`NOT` of it is TRUE, as `matches` says. Field names are checked by the spec (letters, digits,
`_`); values go through `sql_literal` / `sql_string`, never pasted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from covey.spec.vectors import And, Eq, Filter, In, Not, Or, Range, Scalar

__all__ = ["compile_filter", "filter_columns", "sql_literal", "sql_string"]

_OPERATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_UNIT = "\x1f"
_RECORD = "\x1e"


def _json(value: object) -> str:
    return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def _pair(key: str, value: str | bool) -> str:
    return _UNIT + _json(key) + _RECORD + _json(value)


def filter_columns(metadata: Mapping[str, Any]) -> tuple[str, str, str]:
    """The `meta_pairs`, `meta_num` and `meta_str` values of a row with this metadata.

    Raises:
        ValueError: a number is not finite.
    """
    pairs: list[str] = []
    numbers: dict[str, int | float] = {}
    strings: dict[str, str] = {}
    for key, value in metadata.items():
        if isinstance(value, bool):
            pairs.append(_pair(key, value))
        elif isinstance(value, int | float):
            numbers[key] = value
        elif isinstance(value, str):
            pairs.append(_pair(key, value))
            strings[key] = value
    return "".join(pairs) + _UNIT, _json(numbers), _json(strings)


def sql_string(value: str) -> str:
    """`value` as a SQL string literal: quotes doubled, nothing else special.

    DataFusion's SQL strings are standard: a backslash is an ordinary character and only `'`
    needs escaping. A NUL character cannot be carried safely, so it is refused.

    Raises:
        ValueError: the string contains a NUL character.
    """
    if "\x00" in value:
        raise ValueError("a filter value may not contain a NUL character")
    return "'" + value.replace("'", "''") + "'"


def sql_literal(value: Scalar) -> str:
    """A JSON scalar as a SQL literal: `TRUE`/`FALSE`, a DOUBLE, or a string literal.

    Raises:
        ValueError: a number is not finite, or a string contains a NUL character.
    """
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"a filter number must be finite, got {value!r}")
        # repr() of a float is exact and round-trips; CAST keeps DataFusion from reading an
        # integer-looking literal as BIGINT.
        return f"CAST({number!r} AS DOUBLE)"
    return sql_string(value)


def _equals(field: str, value: Scalar) -> str:
    if isinstance(value, bool | str):
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("a filter value may not contain a NUL character")
        return f"strpos(meta_pairs, {sql_string(_pair(field, value) + _UNIT)}) > 0"
    return _definite(f"json_get_float(meta_num, '{field}') = {sql_literal(value)}")


def _compare(field: str, operator: str, bound: int | float | str) -> str:
    column = "json_get_string(meta_str" if isinstance(bound, str) else "json_get_float(meta_num"
    return f"{column}, '{field}') {operator} {sql_literal(bound)}"


def _definite(predicate: str) -> str:
    # SQL's three-valued logic would make NOT(missing) NULL (dropped); `matches` says TRUE.
    return f"COALESCE({predicate}, FALSE)"


def compile_filter(flt: Filter) -> str:
    """A SQL predicate over the filter columns that selects what `matches(flt, ...)` selects.

    Raises:
        ValueError: a value cannot be expressed safely (see `sql_literal`).
    """
    match flt:
        case Eq():
            return _equals(flt.field, flt.value)
        case In():
            if not flt.values:
                return "FALSE"
            return "(" + " OR ".join(_equals(flt.field, v) for v in flt.values) + ")"
        case Range():
            parts = [_compare(flt.field, _OPERATORS[op], bound) for op, bound in flt.bounds()]
            return _definite("(" + " AND ".join(parts) + ")")
        case And():
            return "(" + " AND ".join(compile_filter(f) for f in flt.filters) + ")"
        case Or():
            return "(" + " OR ".join(compile_filter(f) for f in flt.filters) + ")"
        case Not():
            return f"(NOT {compile_filter(flt.filter)})"
