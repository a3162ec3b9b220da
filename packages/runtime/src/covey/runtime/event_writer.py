"""`EventWriter`: the store as runs see it, so the runtime can write their events early.

The run loop appends a run's events to the store at step boundaries: events emitted just before
a long step (a tool call that takes a minute) would reach the store only after it. The runtime's
watcher writes the events of runs that have been in flight for a while itself, through this
wrapper; when the run loop later appends the same batch, the events already written are
skipped, so nothing is written twice and `seq` stays unique.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import anyio

from covey.spec import events as ev
from covey.spec.store import Scope, Store

__all__ = ["EventWriter"]


class EventWriter:
    """A store wrapper whose `append_events` skips what was already written for the run.

    Every other method goes to the wrapped store unchanged.

    Args:
        store: The store to wrap.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._written: dict[str, int] = {}
        self._locks: dict[str, anyio.Lock] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def as_store(self) -> Store:
        """This wrapper, typed as the `Store` the run loop expects."""
        return cast(Store, self)

    def written(self, run_id: str) -> int:
        """The highest `seq` written for the run through this wrapper (0: none yet)."""
        return self._written.get(run_id, 0)

    async def append_events(
        self, scope: Scope, run_id: str, events: Sequence[ev.BaseEvent]
    ) -> None:
        """Append the events not written yet, in order.

        Raises:
            NotFoundError, ConflictError, InvalidInputError: as `Store.append_events`.
        """
        lock = self._locks.get(run_id)
        if lock is None:
            lock = self._locks[run_id] = anyio.Lock()
        async with lock:
            done = self._written.get(run_id, 0)
            fresh = [e for e in events if e.seq > done]
            if not fresh:
                return
            await self._store.append_events(scope, run_id, fresh)
            self._written[run_id] = max(done, fresh[-1].seq)

    def forget(self, run_id: str) -> None:
        """Drop the bookkeeping of a run that has stopped running here."""
        self._written.pop(run_id, None)
        self._locks.pop(run_id, None)
