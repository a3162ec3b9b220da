"""Following a team's or workflow's run that runs in another process, its children included.

In the process running it, a team's or workflow's live run carries its member and step runs'
events (`TreeLiveRun`). Elsewhere the store is all there is, and each run keeps its own log: the
follower reads the parent's log and, at each poll, the logs of every run below it (found with
`Store.list_runs(parent_run_id=...)`, nested teams too), and sends them merged by time. A
re-attach after parent `seq` N gets the parent's events after N and the children's events from
after the moment event N happened. When the run comes to run in this process (a resume), the
follower hands over to `RunManager.follow`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime

import anyio

from covey.runtime.live import KEEPALIVE, ended_after
from covey.runtime.run_manager import RunManager
from covey.spec import RunStatus
from covey.spec import events as ev
from covey.spec.store import MAX_PAGE_SIZE, Scope, Store

__all__ = ["follow_tree"]

_MAX_CHILDREN = 1000
"""Child runs followed at most (a runaway tasks loop must not turn each poll into thousands of
reads)."""


class _Children:
    """The runs below one run, and how far each one's log has been sent."""

    def __init__(self, store: Store, scope: Scope, root: str, since: datetime | None) -> None:
        self.store = store
        self.scope = scope
        self.root = root
        self.since = since
        self.sent: dict[str, int] = {}
        self.done: set[str] = set()

    async def _discover(self) -> None:
        pending = [self.root, *[r for r in self.sent if r not in self.done]]
        while pending and len(self.sent) < _MAX_CHILDREN:
            parent = pending.pop()
            cursor: str | None = None
            while True:
                page = await self.store.list_runs(
                    self.scope, parent_run_id=parent, limit=MAX_PAGE_SIZE, cursor=cursor
                )
                for run in page.items:
                    if run.id not in self.sent:
                        self.sent[run.id] = 0
                        pending.append(run.id)
                cursor = page.next_cursor
                if cursor is None:
                    break

    async def read(self) -> list[ev.BaseEvent]:
        """The children's events not sent yet (and, on a re-attach, not older than `since`)."""
        await self._discover()
        found: list[ev.BaseEvent] = []
        for run_id, last in list(self.sent.items()):
            if run_id in self.done:
                continue
            events = await self.store.list_events(self.scope, run_id, after_seq=last)
            if events:
                self.sent[run_id] = events[-1].seq
                if ended_after(events):
                    run = await self.store.get_run(self.scope, run_id)
                    if run is None or run.status is not RunStatus.RUNNING:
                        self.done.add(run_id)
            since = self.since
            found.extend(e for e in events if since is None or e.time > since)
        return found


async def follow_tree(
    manager: RunManager, scope: Scope, run_id: str, after: int
) -> AsyncIterator[ev.BaseEvent | None]:
    """A team's or workflow's events with `seq > after` and its children's, then live ones,
    until it stops running; `None` as a keep-alive when idle."""
    store = manager.store
    since: datetime | None = None
    if after > 0:
        mark = await store.list_events(scope, run_id, after_seq=after - 1, limit=1)
        since = mark[0].time if mark else None
    children = _Children(store, scope, run_id, since)
    last = after
    idle_since = time.monotonic()
    finished_at: float | None = None
    ended = False
    while True:
        live = manager.get(run_id)
        if live is not None and live.visible_to(scope):
            async for item in manager.follow(scope, run_id, last):
                yield item
            return
        own = await store.list_events(scope, run_id, after_seq=last, limit=MAX_PAGE_SIZE)
        below = await children.read()
        for event in sorted([*own, *below], key=lambda e: e.time):
            if event.run_id == run_id:
                last = event.seq
            yield event
        if own or below:
            idle_since = time.monotonic()
        ended = ended_after(own, ended)
        if own and ended:
            run = await store.get_run(scope, run_id)
            if run is None or run.status is not RunStatus.RUNNING:
                for event in await children.read():  # what the children wrote last
                    yield event
                return
        if not own:
            run = await store.get_run(scope, run_id)
            if run is None:
                return
            if run.status is not RunStatus.RUNNING:
                if ended:  # its final event (and the learning after it) was read
                    for event in await children.read():
                        yield event
                    return
                # Its final event is flushed right after the final save: wait for it, briefly.
                finished_at = finished_at or time.monotonic()
                if time.monotonic() - finished_at > max(2.0, 8 * manager.poll_interval):
                    return
            else:
                await manager.close_if_orphaned(scope, run)
        if len(own) == MAX_PAGE_SIZE:
            continue
        if time.monotonic() - idle_since >= KEEPALIVE:
            idle_since = time.monotonic()
            yield None
        await anyio.sleep(manager.poll_interval)
