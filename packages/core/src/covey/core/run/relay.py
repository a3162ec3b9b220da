"""`RunRelay`: what the tools of a run that starts child runs (a team's leader) reach while they
run — a channel into the run's own event stream, the child runs to cancel with it, the decisions
a resumed paused call gets back, and where the run keeps what it adds to its record.

The engine drains the channel while the tool batch runs (`relayed`), so a child run's events
come out of the parent's stream in order, where they happen, each with its own `run_id` and
`seq`; they are not part of the parent's stored log (each child keeps its own). Plain agents
never take this path (`RunPlan.relay_events` is off): their tool batches cost what they did.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Coroutine
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from covey.core.cancellation import active_run
from covey.core.run.state import Cancelled
from covey.spec import events as ev

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from covey.core.limits import Budget
    from covey.core.run.engine import RunEngine
    from covey.spec.store import Store

__all__ = ["CANCEL_POLL_SECONDS", "ResumedCall", "RunRelay", "current_relay", "relayed"]

T = TypeVar("T")
CANCEL_POLL_SECONDS = 1.0
"""While child runs work, how often a run with a store beats its heartbeat and looks for a
cancel asked for by another process (which then cancels the children)."""
_CURRENT: ContextVar[RunRelay | None] = ContextVar("covey_run_relay", default=None)


@dataclass(slots=True, kw_only=True)
class ResumedCall:
    """The decisions for one paused tool call, given to the tool when the run resumes."""

    token: Any
    """What the tool gave `CallPaused(token=...)` when it paused."""
    approvals: dict[str, Any] = field(default_factory=dict[str, Any])
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    results: dict[str, Any] = field(default_factory=dict[str, Any])


@dataclass(slots=True, kw_only=True, eq=False)
class RunRelay:
    """One tool batch's link back to its run (see the module docstring)."""

    store: Store | None
    """The run's store: child runs are kept there too."""
    stream: bool
    """Whether the run asks its model to stream (child runs do as their parent)."""
    budgets: tuple[Budget, ...]
    """The budgets a child run counts against: the run's own, then its ancestors'."""
    metadata: dict[str, Any]
    """Added to the run's stored metadata (kept across a pause)."""
    resumed: dict[str, ResumedCall] = field(default_factory=dict[str, ResumedCall])
    """Decisions for the paused calls this batch runs again, by tool call id."""
    children: set[str] = field(default_factory=set[str])
    cancelled: bool = False
    _send: MemoryObjectSendStream[ev.BaseEvent] | None = None

    def send(self, event: ev.BaseEvent) -> None:
        """Hand a child run's event to the run's stream."""
        if self._send is not None:
            # The run stopped reading (its consumer left): the child closes on its own.
            with suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._send.send_nowait(event)

    def cancel_children(self) -> None:
        """Cancel every child run still running; later ones are refused (`cancelled`)."""
        self.cancelled = True
        for run_id in list(self.children):
            handle = active_run(run_id)
            if handle is not None:
                handle.cancel()


def current_relay() -> RunRelay | None:
    """The relay of the tool batch this code runs in, if its run relays events."""
    return _CURRENT.get()


async def relayed(
    e: RunEngine, relay: RunRelay, work: Coroutine[Any, Any, T], out: list[T]
) -> AsyncIterator[ev.BaseEvent]:
    """Run `work` (a tool batch) in its own task, yielding the events its tools relay as they
    come; its value is appended to `out`.

    A cancelled run cancels the child runs through their handles, so each closes its own events
    (which are still yielded), then raises `Cancelled` once the batch is over.
    """
    send, receive = anyio.create_memory_object_stream[ev.BaseEvent](math.inf)
    relay._send = send  # pyright: ignore[reportPrivateUsage]

    async def run() -> T:
        try:
            return await work
        finally:
            send.close()

    token = _CURRENT.set(relay)
    try:
        # The task copies this context, so the tools see the relay; the run's own code not.
        task = asyncio.ensure_future(run())
    finally:
        _CURRENT.reset(token)
    cancelled = False
    try:
        while True:
            try:
                if cancelled:
                    event = await receive.receive()
                else:
                    event = await e.step(_next(e, receive))
            except anyio.EndOfStream:
                break
            except Cancelled:
                cancelled = True
                relay.cancel_children()
                continue  # the children end, then their closing events come
            yield event
        if cancelled:
            raise Cancelled
        out.append(await task)
    finally:
        receive.close()
        if not task.done():
            task.cancel()
            with anyio.CancelScope(shield=True):
                await asyncio.wait([task])


async def _next(e: RunEngine, receive: MemoryObjectReceiveStream[ev.BaseEvent]) -> ev.BaseEvent:
    """The next relayed event; with a store, the run's heartbeat and cancel flag are checked
    every `CANCEL_POLL_SECONDS` meanwhile, as between the run's own steps."""
    store = e.persist.store
    if store is None:
        return await receive.receive()
    while True:
        with anyio.move_on_after(CANCEL_POLL_SECONDS):
            return await receive.receive()
        if await store.heartbeat(e.persist.scope, e.ctx.run_id):
            assert e.handle is not None
            e.handle.cancelled = True
            raise Cancelled
