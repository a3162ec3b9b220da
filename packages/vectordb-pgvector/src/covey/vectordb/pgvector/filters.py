"""The spec's filter language compiled to PostgreSQL `jsonb` conditions, with bound values only.

Every field name and value travels as a bound parameter; the SQL text holds nothing a user
wrote. Each compiled condition is `TRUE` or `FALSE`, never `NULL`, so `NOT` keeps the
semantics of `covey.spec.vectors.matches` (a missing field matches `Not(Eq(...))`):

- `Eq` is `metadata @> {"field": value}`: `jsonb` containment tells booleans, numbers and
  strings apart, equates `1` and `1.0`, and never lets a list or an object equal a scalar. A
  GIN index on `metadata` (`jsonb_path_ops`) serves it.
- `In` is an `OR` of those (`FALSE` when empty).
- `Range` checks `jsonb_typeof` first, then compares numbers as `numeric` (exactly) and strings
  byte-wise (`COLLATE "C"`: Python's code-point order).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from covey.spec.vectors import And, Eq, Filter, In, Not, Or, Range, Scalar

__all__ = ["CompiledFilter", "compile_filter"]


@dataclass(slots=True)
class CompiledFilter:
    """A SQL condition on the `metadata` column and the parameters it binds."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict[str, Any])


@dataclass(slots=True)
class _Compiler:
    prefix: str
    params: dict[str, Any] = field(default_factory=dict[str, Any])

    def bind(self, value: Any) -> str:
        name = f"{self.prefix}{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def compile(self, flt: Filter) -> str:
        match flt:
            case Eq():
                return self.equal(flt.field, flt.value)
            case In():
                if not flt.values:
                    return "FALSE"
                return "(" + " OR ".join(self.equal(flt.field, v) for v in flt.values) + ")"
            case Range():
                return self.range(flt)
            case And():
                return "(" + " AND ".join(self.compile(f) for f in flt.filters) + ")"
            case Or():
                return "(" + " OR ".join(self.compile(f) for f in flt.filters) + ")"
            case Not():
                return f"(NOT {self.compile(flt.filter)})"

    def equal(self, name: str, value: Scalar) -> str:
        if isinstance(value, float) and not math.isfinite(value):
            return "FALSE"  # stored metadata is JSON: it holds no NaN or infinity
        document = json.dumps({name: value}, ensure_ascii=False)
        return f"(metadata @> CAST({self.bind(document)} AS jsonb))"

    def range(self, flt: Range) -> str:
        key = self.bind(flt.field)
        value = f"(metadata ->> CAST({key} AS text))"
        bounds = flt.bounds()
        if isinstance(bounds[0][1], str):
            kind = "string"
            tests = [f'{value} COLLATE "C" {_OPERATORS[op]} {self.bind(b)}' for op, b in bounds]
        else:
            kind = "number"
            tests: list[str] = []
            for op, bound in bounds:
                assert not isinstance(bound, str)
                test = self.number_test(value, op, bound)
                if test == "FALSE":
                    return "FALSE"
                if test:
                    tests.append(test)
        typed = f"jsonb_typeof(metadata -> CAST({key} AS text)) = '{kind}'"
        return f"coalesce({' AND '.join([typed, *tests])}, FALSE)"

    def number_test(self, value: str, op: str, bound: int | float) -> str:
        """One numeric comparison; `""` when every number passes, `"FALSE"` when none does."""
        if isinstance(bound, float) and math.isnan(bound):
            return "FALSE"
        if isinstance(bound, float) and math.isinf(bound):
            upward = op in ("gt", "gte")
            # Every JSON number is finite: above -inf and below +inf.
            return "" if upward == (bound < 0) else "FALSE"
        text = repr(bound) if isinstance(bound, float) else str(bound)
        return f"CAST({value} AS numeric) {_OPERATORS[op]} CAST({self.bind(text)} AS numeric)"


_OPERATORS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def compile_filter(flt: Filter | None, prefix: str = "f") -> CompiledFilter:
    """Compile `flt` into a condition on the `metadata` column (`TRUE` when there is none).

    Args:
        flt: The filter, or `None`.
        prefix: The prefix of the bound parameters' names, to keep them apart from others.
    """
    if flt is None:
        return CompiledFilter("TRUE")
    compiler = _Compiler(prefix)
    return CompiledFilter(compiler.compile(flt), compiler.params)
