"""Compile the spec's filter AST into a LanceDB SQL predicate with `matches()` semantics.

Besides the record's metadata as JSON text, each row keeps its top-level scalar values split by
JSON type into three columns of Lance's JSON type (`lance.json`, stored as JSONB):
`meta_str` (strings), `meta_num` (numbers) and `meta_bool` (booleans); lists, objects and nulls
go in none. A leaf reads the column of its value's type, so type-strictness holds by
construction: `Eq("year", 2023)` reads `meta_num` and never sees the string `"2023"`, and `True`
is never `1`. (Lance's `json_get_*` functions coerce across types and its filter SQL has no
`CASE`, so one mixed column could not be filtered strictly.)

Every leaf is wrapped in `COALESCE(..., FALSE)` so a missing field is FALSE, never NULL, and
`NOT` of it is TRUE, as `matches` says. Field names are checked by the spec (letters, digits,
`_`); values go through `sql_literal`, never pasted. Numbers compare as 64-bit floats, so
integers beyond 2**53 compare by their nearest float.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from covey.spec.vectors import And, Eq, Filter, In, Not, Or, Range, Scalar

__all__ = ["compile_filter", "split_by_type", "sql_literal", "sql_string"]

_OPERATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def split_by_type(
    metadata: Mapping[str, Any],
) -> tuple[dict[str, str], dict[str, float], dict[str, bool]]:
    """The top-level strings, numbers and booleans of `metadata`, for the three filter columns."""
    strings: dict[str, str] = {}
    numbers: dict[str, float] = {}
    booleans: dict[str, bool] = {}
    for key, value in metadata.items():
        if isinstance(value, bool):
            booleans[key] = value
        elif isinstance(value, int | float):
            numbers[key] = value
        elif isinstance(value, str):
            strings[key] = value
    return strings, numbers, booleans


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


def _compare(field: str, operator: str, value: Scalar) -> str:
    """One comparison of `metadata[field]` with `value`, in the column of the value's type."""
    if isinstance(value, bool):
        return f"json_get_bool(meta_bool, '{field}') {operator} {sql_literal(value)}"
    if isinstance(value, str):
        return f"json_get_string(meta_str, '{field}') {operator} {sql_literal(value)}"
    return f"json_get_float(meta_num, '{field}') {operator} {sql_literal(value)}"


def _definite(predicate: str) -> str:
    # SQL's three-valued logic would make NOT(missing) NULL (dropped); `matches` says TRUE.
    return f"COALESCE({predicate}, FALSE)"


def compile_filter(flt: Filter) -> str:
    """A SQL predicate over the `metadata` column that selects what `matches(flt, ...)` selects.

    Raises:
        ValueError: a value cannot be expressed safely (see `sql_literal`).
    """
    match flt:
        case Eq():
            return _definite(_compare(flt.field, "=", flt.value))
        case In():
            if not flt.values:
                return "FALSE"
            return (
                "(" + " OR ".join(_definite(_compare(flt.field, "=", v)) for v in flt.values) + ")"
            )
        case Range():
            parts = [_compare(flt.field, _OPERATORS[op], bound) for op, bound in flt.bounds()]
            return _definite("(" + " AND ".join(parts) + ")")
        case And():
            return "(" + " AND ".join(compile_filter(f) for f in flt.filters) + ")"
        case Or():
            return "(" + " OR ".join(compile_filter(f) for f in flt.filters) + ")"
        case Not():
            return f"(NOT {compile_filter(flt.filter)})"
