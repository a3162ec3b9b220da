"""Filtered listings over store pages, for filters the `Store` interface does not offer.

`GET /v1/runs?agent_id=` and `GET /v1/sessions?q=` filter what the store lists. Reading pages
until `limit` items match could read a whole tenant's history for a filter nothing matches, so
a request reads at most `MAX_SCAN` rows: when that budget runs out first, the page comes back
with fewer items (possibly none) and a `next_cursor` to go on from where the scan stopped. A
client pages exactly as it does for an unfiltered listing; it just may get short pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from covey.spec.store import MAX_PAGE_SIZE, Page

__all__ = ["MAX_SCAN", "scan"]

T = TypeVar("T")

MAX_SCAN = 2_000
"""The most stored rows one filtered listing request reads."""


async def scan(
    fetch: Callable[[int, str | None], Awaitable[Page[T]]],
    keep: Callable[[T], bool],
    *,
    limit: int,
    cursor: str | None,
    budget: int | None = None,
) -> tuple[list[T], str | None]:
    """Up to `limit` items `keep` accepts, reading pages with `fetch(size, cursor)`, and the
    cursor to continue from (`None` at the end).

    Each page asked for is no larger than the room left in the answer, so a page never holds
    more matches than fit and the cursor returned never skips a row.
    """
    budget = MAX_SCAN if budget is None else budget
    found: list[T] = []
    read = 0
    while True:
        room = limit - len(found)
        size = max(1, min(MAX_PAGE_SIZE, room, budget - read))
        page = await fetch(size, cursor)
        read += len(page.items)
        found.extend(item for item in page.items if keep(item))
        cursor = page.next_cursor
        if cursor is None or len(found) >= limit or read >= budget:
            return found, cursor
