"""The spec's filter language compiled to Qdrant filters, with `matches()` semantics exactly.

Qdrant's own matching differs from the spec's (`MatchValue(1)` misses a stored `1.0`, a
condition matches a list if any element does, ranges are numeric only), so each record carries
typed copies of its top-level scalar metadata and filters only ever look at those:

- `bool.<field>`: booleans; `num.<field>`: numbers as floats; `str.<field>`: strings.
- `ord.<field>.c0`, `.c1`, ...: a string's UTF-8 bytes (plus a terminator) as base-257 numbers of
  6 bytes each, so lexicographic `Range` bounds compile to numeric comparisons.

Lists, objects and nulls get no copy, so `Eq`, `In` and `Range` never match them, nor a missing
field, and `Not` of those matches. Constant parts fold away (`In(field, [])` is false), so a
filter that can match nothing never reaches Qdrant.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from qdrant_client import models

from covey.spec.errors import InvalidInputError
from covey.spec.vectors import And, Eq, Filter, In, Not, Or, Range, Scalar
from covey.vectordb.qdrant.payload import ORDERED_CHUNKS, ordered

__all__ = ["MAX_ORDERED_BYTES", "Compiled", "compile_filter"]

MAX_ORDERED_BYTES = 6 * ORDERED_CHUNKS - 1
"""The longest string (in UTF-8 bytes) a string `Range` bound may be."""

Compiled = models.Filter | bool
"""A compiled filter, or `True`/`False` when it matches every record or none."""

_Condition = models.FieldCondition | models.Filter


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equals(field: str, value: Scalar) -> _Condition:
    if isinstance(value, bool):
        return models.FieldCondition(key=f"bool.{field}", match=models.MatchValue(value=value))
    if isinstance(value, str):
        return models.FieldCondition(key=f"str.{field}", match=models.MatchValue(value=value))
    number = float(value)
    return models.FieldCondition(key=f"num.{field}", range=models.Range(gte=number, lte=number))


def _chunk(field: str, i: int, **bounds: float) -> models.FieldCondition:
    return models.FieldCondition(key=f"ord.{field}.c{i}", range=models.Range(**bounds))


def _string_bound(field: str, op: Literal["gt", "gte", "lt", "lte"], bound: str) -> _Condition:
    chunks = ordered(bound)
    if len(chunks) > ORDERED_CHUNKS:
        raise InvalidInputError(
            f"A string range bound on {field!r} may be at most {MAX_ORDERED_BYTES} UTF-8 bytes "
            f"long on Qdrant; {bound[:20]!r}... is {len(bound.encode())}. Shorten the bound."
        )
    strict = "gt" if op in ("gt", "gte") else "lt"
    # stored <op> bound, lexicographically: equal on chunks 0..i-1 and strictly past at i, or
    # (for gte/lte) equal on every chunk - the terminator makes that mean equal strings.
    options: list[models.Condition] = []
    for i, value in enumerate(chunks):
        prefix = [_chunk(field, j, gte=c, lte=c) for j, c in enumerate(chunks[:i])]
        options.append(models.Filter(must=[*prefix, _chunk(field, i, **{strict: value})]))
    if op in ("gte", "lte"):
        options.append(
            models.Filter(must=[_chunk(field, j, gte=c, lte=c) for j, c in enumerate(chunks)])
        )
    return models.Filter(should=options)


def _range(flt: Range) -> _Condition:
    bounds = flt.bounds()
    if _is_number(bounds[0][1]):
        numeric = {op: float(bound) for op, bound in bounds}
        return models.FieldCondition(key=f"num.{flt.field}", range=models.Range(**numeric))
    parts = [_string_bound(flt.field, op, str(bound)) for op, bound in bounds]
    return parts[0] if len(parts) == 1 else models.Filter(must=[*parts])


def _all(parts: Sequence[Compiled]) -> Compiled:
    if any(p is False for p in parts):
        return False
    conditions = [p for p in parts if not isinstance(p, bool)]
    if not conditions:
        return True
    return conditions[0] if len(conditions) == 1 else models.Filter(must=[*conditions])


def _any(parts: Sequence[Compiled]) -> Compiled:
    if any(p is True for p in parts):
        return True
    conditions = [p for p in parts if not isinstance(p, bool)]
    if not conditions:
        return False
    return conditions[0] if len(conditions) == 1 else models.Filter(should=[*conditions])


def _compile(flt: Filter) -> Compiled:
    match flt:
        case Eq():
            return models.Filter(must=[_equals(flt.field, flt.value)])
        case In():
            return _any([models.Filter(must=[_equals(flt.field, v)]) for v in flt.values])
        case Range():
            return models.Filter(must=[_range(flt)])
        case And():
            return _all([_compile(f) for f in flt.filters])
        case Or():
            return _any([_compile(f) for f in flt.filters])
        case Not():
            inner = _compile(flt.filter)
            if isinstance(inner, bool):
                return not inner
            return models.Filter(must_not=[inner])


def compile_filter(flt: Filter | None) -> Compiled:
    """The Qdrant filter for `flt` (`True` for no filter).

    Raises:
        InvalidInputError: a string range bound is longer than `MAX_ORDERED_BYTES`.
    """
    if flt is None:
        return True
    return _compile(flt)
