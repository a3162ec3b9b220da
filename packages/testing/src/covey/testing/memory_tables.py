"""`InMemoryTables`: the dicts and the lock `InMemoryStore` keeps its rows in, and the rules every
part of it shares (copies, scoping, pages).

The parts (`memory_history`, `memory_records`, `memory_operations`) subclass it, one per
domain; `covey.testing.memory_store.InMemoryStore` assembles them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import anyio
from pydantic import BaseModel

from covey.spec.errors import InvalidInputError
from covey.spec.store import (
    Approval,
    KnowledgeContent,
    Learning,
    Memory,
    Page,
    Run,
    Schedule,
    Scope,
    Session,
    Store,
    TraceSpan,
    UserProfile,
    check_id,
    check_limit,
)

__all__ = [
    "InMemoryTables",
    "Key",
    "M",
    "check_optional",
    "copy_row",
    "micros",
    "page_of",
    "stamp",
    "visible",
    "writable",
]

M = TypeVar("M", bound=BaseModel)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Key = tuple[str | int, ...]


def copy_row(model: M) -> M:
    # A JSON round trip, as a database would do: nothing is shared with the caller, and data
    # that a real store could not keep fails here too.
    return type(model).model_validate_json(model.model_dump_json())


def micros(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(microseconds=1)


def check_optional(value: str | None, what: str) -> None:
    if value is not None:
        check_id(value, what)


def stamp(scope: Scope, user_id: str | None, what: str) -> str | None:
    """The user id a row written under `scope` gets."""
    if scope.user_id is None:
        check_optional(user_id, f"{what}.user_id")
        return user_id
    if user_id is None:
        return scope.user_id
    if user_id != scope.user_id:
        raise InvalidInputError(
            f"{what}.user_id is {user_id!r}, but the scope is user {scope.user_id!r}; a user "
            "scope can only write its own rows (use a tenant-wide scope for admin work)"
        )
    return user_id


def visible(scope: Scope, user_id: str | None, *, shared: bool = False) -> bool:
    if scope.user_id is None or user_id == scope.user_id:
        return True
    return shared and user_id is None


def writable(scope: Scope, user_id: str | None) -> bool:
    return scope.user_id is None or user_id == scope.user_id


def _encode_cursor(listing: str, key: Key) -> str:
    raw = json.dumps({"l": listing, "k": list(key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(listing: str, cursor: str) -> Key:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        key = cast("list[Any]", data["k"])
        if data["l"] != listing or not all(isinstance(part, str | int) for part in key):
            raise ValueError(listing)
        return tuple(cast("list[str | int]", key))
    except (ValueError, KeyError, TypeError) as e:
        raise InvalidInputError(
            f"cursor {cursor[:40]!r} is not a cursor of this listing; pass the `next_cursor` of "
            "the previous page, unchanged"
        ) from e


def page_of(
    listing: str,
    rows: Iterable[M],
    key: Callable[[M], Key],
    *,
    descending: bool,
    limit: int,
    cursor: str | None,
) -> Page[M]:
    check_limit(limit)
    ordered = sorted(rows, key=key, reverse=descending)
    if cursor is not None:
        after = _decode_cursor(listing, cursor)
        try:
            if descending:
                ordered = [r for r in ordered if key(r) < after]
            else:
                ordered = [r for r in ordered if key(r) > after]
        except TypeError as e:
            raise InvalidInputError("cursor does not belong to this listing") from e
    items = ordered[:limit]
    next_cursor = _encode_cursor(listing, key(items[-1])) if len(ordered) > limit else None
    return Page[M](items=[copy_row(r) for r in items], next_cursor=next_cursor)


class InMemoryTables(Store):
    """The tables of `InMemoryStore`: one dict per kind of row, one lock for every call."""

    def __init__(self) -> None:
        self._lock = anyio.Lock()
        self._sessions: dict[tuple[str, str | None, str], Session] = {}
        self._runs: dict[tuple[str, str], Run] = {}
        self._events: dict[tuple[str, str], dict[int, str]] = {}
        self._memories: dict[tuple[str, str], Memory] = {}
        self._profiles: dict[tuple[str, str], UserProfile] = {}
        self._learnings: dict[tuple[str, str], Learning] = {}
        self._knowledge: dict[tuple[str, str], KnowledgeContent] = {}
        self._approvals: dict[tuple[str, str], Approval] = {}
        self._schedules: dict[tuple[str, str], Schedule] = {}
        self._spans: dict[tuple[str, str, str], TraceSpan] = {}
