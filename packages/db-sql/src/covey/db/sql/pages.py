"""Keyset pagination: opaque cursors and the `WHERE` clause that resumes after one.

A cursor holds the listing's name and the sort key of the last row of the previous page
(timestamps as integer microseconds since the epoch), base64url-encoded JSON. Resuming is a
range condition on an index, never an `OFFSET`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, or_

from covey.spec.errors import InvalidInputError

__all__ = ["Key", "after", "decode_cursor", "encode_cursor", "from_micros", "micros"]

Key = tuple[str | int, ...]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(value: datetime) -> int:
    """Microseconds since the epoch of an aware (or naive UTC) datetime."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    """The aware UTC datetime `value` microseconds after the epoch."""
    return _EPOCH + timedelta(microseconds=value)


def encode_cursor(listing: str, key: Key) -> str:
    """An opaque cursor resuming `listing` after the row whose sort key is `key`."""
    raw = json.dumps({"l": listing, "k": list(key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(listing: str, cursor: str, shape: Sequence[type]) -> Key:
    """The sort key inside `cursor`, checked against the listing and the key's types.

    Raises:
        InvalidInputError: the cursor was not issued for this listing.
    """
    try:
        if not isinstance(cursor, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise TypeError(cursor)
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        key = cast("list[Any]", data["k"])
        if data["l"] != listing or len(key) != len(shape):
            raise ValueError(listing)
        for part, kind in zip(key, shape, strict=True):
            if type(part) is not kind:
                raise ValueError(part)
        return tuple(cast("list[str | int]", key))
    except (ValueError, KeyError, TypeError) as e:
        raise InvalidInputError(
            f"cursor {str(cursor)[:40]!r} is not a cursor of this listing; pass the "
            "`next_cursor` of the previous page, unchanged"
        ) from e


def after(
    columns: Sequence[ColumnElement[Any]], key: Sequence[Any], *, descending: bool
) -> ColumnElement[bool]:
    """Rows strictly after `key` in `(columns...)` order (before it when `descending`)."""
    condition: ColumnElement[bool] | None = None
    for column, value in reversed(list(zip(columns, key, strict=True))):
        beyond = column < value if descending else column > value
        condition = beyond if condition is None else or_(beyond, and_(column == value, condition))
    assert condition is not None
    return condition
