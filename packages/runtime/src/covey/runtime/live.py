"""`LiveRun`: the in-process broadcaster of one run running here.

Every event the run emits is appended to the live run's buffer and wakes its followers, so a
client attached in this process gets events as they happen, without polling the store. The
buffer holds the events of this stretch of the run (a start, or a resume) from `base_seq + 1`;
earlier events are already in the store.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from covey.spec import RunResult
from covey.spec import events as ev
from covey.spec.store import Scope

__all__ = ["FINAL_EVENTS", "KEEPALIVE", "LiveRun", "ended_after"]

FINAL_EVENTS = (ev.RunCompleted, ev.RunFailed, ev.RunPaused, ev.RunCancelled)
"""The events that end a stretch of a run; each carries the `RunResult`."""


def ended_after(events: Sequence[ev.BaseEvent], ended: bool = False) -> bool:
    """Whether a run's stored log, read through the last of `events`, is at the end of a
    stretch (`ended`: whether it was before them).

    It is when its last event is a final one, or a `learning.*` event: background learning
    appends those after the final event (and foreground learning is stored with it), so a
    reader must not wait for another final event after them.
    """
    for event in events:
        ended = isinstance(event, FINAL_EVENTS) or event.type.startswith("learning.")
    return ended


KEEPALIVE = 15.0
"""Seconds without an event after which followers get `None` (an SSE comment keeps proxies from
closing the connection)."""

_OPENS = (ev.ModelRequestStarted, ev.ToolCallStarted)
_CLOSES = (
    ev.ModelRequestCompleted,
    ev.ModelRequestFailed,
    ev.ModelRequestCancelled,
    ev.ToolCallCompleted,
    ev.ToolCallFailed,
    ev.ToolCallCancelled,
    ev.ToolCallPaused,
)


@dataclass(slots=True, eq=False)
class LiveRun:
    """One run running in this process, and everything its followers need.

    Attributes:
        run_id: The run.
        agent_id: The agent running it.
        session_id: Its session.
        scope: The store scope it runs under (tenant and user).
        base_seq: The last event `seq` already stored before this stretch began.
    """

    run_id: str
    agent_id: str
    session_id: str | None
    scope: Scope
    base_seq: int = 0
    events: list[ev.BaseEvent] = field(default_factory=list[ev.BaseEvent])
    result: RunResult[Any] | None = None
    cancel_requested: bool = False
    cancel_error: BaseException | None = None
    """The error the runtime stopped it with (`RunTimeout`, `Interrupted`); `None` when a caller
    cancelled it."""
    refused: BaseException | None = None
    """Why the run never started here, when it did not (a resume that another process claimed
    first): the stored run belongs to someone else, and nothing of it ran in this process."""
    deadline: float | None = None
    """`time.monotonic()` after which the run is cancelled for taking too long."""
    in_flight_since: float | None = None
    """When the current model request or tool call began, while one is in flight."""
    renewed_at: float = 0.0
    """`time.monotonic()` when this process last renewed the run's lease in the store."""
    _open: int = 0
    _changed: anyio.Event | None = None
    _started: anyio.Event | None = None
    _done: anyio.Event | None = None

    def __post_init__(self) -> None:
        self._changed = anyio.Event()
        self._started = anyio.Event()
        self._done = anyio.Event()

    @property
    def done(self) -> bool:
        """Whether the stretch has ended (its final event was published)."""
        assert self._done is not None
        return self._done.is_set()

    @property
    def last_seq(self) -> int:
        """The `seq` of the last event published (or `base_seq`)."""
        return self.events[-1].seq if self.events else self.base_seq

    def visible_to(self, scope: Scope) -> bool:
        """Whether a caller with `scope` may see this run (same tenant, same or any user)."""
        if scope.tenant_id != self.scope.tenant_id:
            return False
        return scope.user_id is None or scope.user_id == self.scope.user_id

    def publish(self, event: ev.BaseEvent) -> None:
        """Append an event, track what is in flight, and wake the followers."""
        self.events.append(event)
        if isinstance(event, _OPENS):
            if self._open == 0:
                self.in_flight_since = time.monotonic()
            self._open += 1
        elif isinstance(event, _CLOSES):
            self._open = max(0, self._open - 1)
            if self._open == 0:
                self.in_flight_since = None
        if isinstance(event, FINAL_EVENTS):
            self.result = event.result  # pyright: ignore[reportAttributeAccessIssue]
        assert self._started is not None
        self._started.set()
        self._wake()

    def finish(self) -> None:
        """Mark the stretch over: followers drain the buffer and stop."""
        self.in_flight_since = None
        assert self._done is not None
        assert self._started is not None
        self._started.set()
        self._done.set()
        self._wake()

    def _wake(self) -> None:
        assert self._changed is not None
        self._changed.set()
        self._changed = anyio.Event()

    async def wait_started(self) -> None:
        """Wait for the first event (the run started: a resume claimed the run), or the end."""
        assert self._started is not None
        await self._started.wait()

    async def wait(self) -> RunResult[Any] | None:
        """Wait for the stretch to end; its result (`None` when it died without one)."""
        assert self._done is not None
        await self._done.wait()
        return self.result

    async def follow(self, after: int) -> AsyncIterator[ev.BaseEvent | None]:
        """The buffered events with `seq > after`, then live ones until the stretch ends.

        Yields `None` after `KEEPALIVE` seconds without an event.
        """
        index = 0
        while True:
            while index < len(self.events):
                event = self.events[index]
                index += 1
                if event.seq > after:
                    yield event
            if self.done:
                return
            changed = self._changed
            assert changed is not None
            with anyio.move_on_after(KEEPALIVE) as timeout:
                await changed.wait()
            if timeout.cancelled_caught:
                yield None
