"""Keyset pages over rows held in memory, with the same opaque cursors as the SQL store.

A cursor holds the listing's name and the sort key of the last row of the previous page
(timestamps as integer microseconds since the epoch), base64url-encoded JSON.
"""

from __future__ import annotations

import base64
import heapq
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from pydantic import BaseModel

from covey.spec.errors import InvalidInputError
from covey.spec.store import Page, check_limit

__all__ = ["Key", "micros", "page_of"]

Key = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(value: datetime) -> int:
    """Microseconds since the epoch of an aware (or naive UTC) datetime."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(microseconds=1)


def _encode(listing: str, key: Key) -> str:
    raw = json.dumps({"l": listing, "k": list(key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(listing: str, cursor: object, shape: tuple[type, ...]) -> Key:
    try:
        if not isinstance(cursor, str):
            raise TypeError(cursor)
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key = cast("list[Any]", data["k"])
        if data["l"] != listing or len(key) != len(shape):
            raise ValueError(listing)
        if any(type(part) is not kind for part, kind in zip(key, shape, strict=True)):
            raise ValueError(listing)
        return tuple(cast("list[str | int]", key))
    except (ValueError, KeyError, TypeError) as e:
        raise InvalidInputError(
            f"cursor {str(cursor)[:40]!r} is not a cursor of this listing; pass the "
            "`next_cursor` of the previous page, unchanged"
        ) from e


def page_of(
    listing: str,
    rows: Iterable[M],
    key: Callable[[M], Key],
    shape: tuple[type, ...],
    *,
    descending: bool,
    limit: int,
    cursor: str | None,
    copy: Callable[[M], M],
) -> Page[M]:
    """One page of `rows` sorted by `key`, resuming after `cursor`; items pass through `copy`.

    `shape` gives the types of the key's parts, to check a cursor before comparing with it.

    Raises:
        InvalidInputError: `limit` is out of range, or `cursor` is not one of this listing.
    """
    check_limit(limit)
    keyed = [(key(row), row) for row in rows]
    if cursor is not None:
        after = _decode(listing, cursor, shape)
        if descending:
            keyed = [kr for kr in keyed if kr[0] < after]
        else:
            keyed = [kr for kr in keyed if kr[0] > after]
    pick = heapq.nlargest if descending else heapq.nsmallest
    items = pick(limit + 1, keyed, key=_sort_key)
    next_cursor = _encode(listing, items[limit - 1][0]) if len(items) > limit else None
    items = items[:limit]
    return Page[M](items=[copy(row) for _, row in items], next_cursor=next_cursor)


def _sort_key(keyed: tuple[Key, Any]) -> Key:
    return keyed[0]
