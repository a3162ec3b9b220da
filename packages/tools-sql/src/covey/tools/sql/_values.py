"""Database values → JSON-safe values a model can read.

A tool result must be JSON: drivers hand back dates, decimals, bytes, UUIDs, PostgreSQL arrays,
JSON documents, ranges and network addresses. Each becomes the plainest JSON value that keeps
its meaning: ISO 8601 text for dates and times, exact decimal text for `Decimal` (a float would
round money), base64 for bytes. Long text and bytes are cut to `max_chars`, saying so, because
one large cell must not fill the model's context.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import uuid
from collections.abc import Mapping
from typing import Any, cast

__all__ = ["json_safe"]


def _cut(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}… [cut: {len(text) - max_chars} more characters]"


def json_safe(value: Any, max_chars: int) -> Any:
    """`value` as JSON data (None, bool, int, float, str, list, dict), long values cut."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        # JSON has no NaN or infinities; PostgreSQL and SQLite both produce them.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _cut(value, max_chars)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)  # pyright: ignore[reportUnknownArgumentType]
        shown = raw[: max_chars * 3 // 4]
        out: dict[str, Any] = {"bytes_base64": base64.b64encode(shown).decode(), "length": len(raw)}
        if len(shown) < len(raw):
            out["cut"] = True
        return out
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        mapping = cast("Mapping[Any, Any]", value)
        return {str(k): json_safe(v, max_chars) for k, v in mapping.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = cast("list[Any]", value)
        return [json_safe(v, max_chars) for v in items]
    # Ranges, network addresses, geometric types...: their text form is what SQL shows.
    return _cut(str(value), max_chars)  # pyright: ignore[reportUnknownArgumentType]
