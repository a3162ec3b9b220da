"""The per-user daily cap on memory-model calls, counted in the store.

Each call claims a slot first: a `Learning` in the reserved namespace `covey.learn.calls`,
owned by the user, whose id is derived from (day, user, slot number). Ids are unique per tenant
in every store, so two processes claiming the same slot cannot both succeed: the loser gets a
`ConflictError` and tries the next slot, and no slot past the cap exists. The count is thus
exact across processes and restarts without a new table. A day is a UTC calendar day; the first
claim of a day deletes the user's slots of earlier days.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import datetime

from covey.spec.errors import ConflictError, NotFoundError
from covey.spec.store import Learning, Scope, Store, utc_now

__all__ = ["CALLS_NAMESPACE", "calls_for_run", "calls_today", "claim_call"]

CALLS_NAMESPACE = "covey.learn.calls"
"""Reserved: the manager's call counter lives here. Hide it when listing a user's learnings."""


def _day(now: datetime) -> str:
    return now.strftime("%Y-%m-%d")


def _slot_id(scope: Scope, day: str, slot: int) -> str:
    # Hashed so any valid user id (up to 255 characters) gives a short, valid row id.
    user = hashlib.sha256((scope.user_id or "").encode()).hexdigest()[:24]
    return f"covey-learn-call-{day}-{user}-{slot}"


async def _today(store: Store, scope: Scope, day: str) -> list[Learning]:
    page = await store.list_learnings(scope, CALLS_NAMESPACE, kind=f"call:{day}", limit=1000)
    return [row for row in page.items if row.user_id == scope.user_id]


async def calls_today(store: Store, scope: Scope, *, now: datetime | None = None) -> int:
    """How many memory-model calls `scope`'s user has made today (UTC)."""
    return len(await _today(store, scope, _day(now or utc_now())))


async def claim_call(
    store: Store, scope: Scope, *, run_id: str, cap: int, now: datetime | None = None
) -> bool:
    """Claim one of today's `cap` call slots for the user; `False` when all are taken."""
    day = _day(now or utc_now())
    taken = await _today(store, scope, day)
    if not taken:
        await _forget_earlier_days(store, scope, day)
    for slot in range(len(taken), cap):
        row = Learning(
            id=_slot_id(scope, day, slot),
            namespace=CALLS_NAMESPACE,
            kind=f"call:{day}",
            content=f"memory-model call {slot + 1}",
            metadata={"run_id": run_id},
            user_id=scope.user_id,
        )
        try:
            await store.add_learning(scope, row)
        except ConflictError:
            continue  # another process took this slot first: try the next one
        return True
    return False


async def _forget_earlier_days(store: Store, scope: Scope, day: str) -> None:
    page = await store.list_learnings(scope, CALLS_NAMESPACE, limit=1000)
    for row in page.items:
        if row.user_id == scope.user_id and row.kind != f"call:{day}":
            with contextlib.suppress(NotFoundError):  # another process cleaned it up
                await store.delete_learning(scope, row.id)


async def calls_for_run(
    store: Store, scope: Scope, run_id: str, *, now: datetime | None = None
) -> int:
    """How many of today's calls were made for `run_id` (the per-run cap across processes)."""
    rows = await _today(store, scope, _day(now or utc_now()))
    return sum(1 for row in rows if row.metadata.get("run_id") == run_id)
