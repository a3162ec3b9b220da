"""`TreeLiveRun`: the live run of a team or a workflow, whose stream carries its children's events.

A team's `run_stream` yields the events of its member runs, and a workflow's those of its step
runs, in order with its own. Each child event keeps its own `run_id` and `seq` (its position in
the child's log), so only the parent's own events say where a follower is in the parent's log:
`last_seq` is the parent's, the result is the parent's final event's, and re-attaching after a
parent `seq` replays everything published after that parent event, children's events included.
An agent's live run never carries other runs' events, so agents keep the plainer `LiveRun`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import anyio

from covey.core import Agent
from covey.runtime.live import FINAL_EVENTS, KEEPALIVE, LiveRun
from covey.spec import events as ev

__all__ = ["TreeLiveRun", "live_run_for"]


@dataclass(slots=True, eq=False)
class TreeLiveRun(LiveRun):
    """A `LiveRun` whose buffer interleaves the run's own events with its children's."""

    children: set[str] = field(default_factory=set[str])
    """The child runs (at any depth) running now: started in this stream and not yet ended.
    The run manager renews their leases with the run's own, so a member's long model request
    is not taken for a dead worker's run."""
    _own_seqs: list[int] = field(default_factory=list[int])
    """The `seq` of each of the run's own events in the buffer, in order."""
    _own_index: list[int] = field(default_factory=list[int])
    """Where each of them is in `events`."""

    @property
    def last_seq(self) -> int:
        """The `seq` of the run's own last event published (or `base_seq`)."""
        return self._own_seqs[-1] if self._own_seqs else self.base_seq

    def publish(self, event: ev.BaseEvent) -> None:
        """Append an event; only the run's own final event sets its result."""
        if event.run_id == self.run_id:
            self._own_seqs.append(event.seq)
            self._own_index.append(len(self.events))
            LiveRun.publish(self, event)
            return
        if isinstance(event, ev.RunStarted):
            self.children.add(event.run_id)
        elif isinstance(event, FINAL_EVENTS):
            self.children.discard(event.run_id)
        result = self.result
        LiveRun.publish(self, event)
        self.result = result

    def _start_index(self, after: int) -> int:
        """Where a follower that saw the run's own events up to `after` starts in the buffer."""
        mark = bisect_right(self._own_seqs, after)
        return 0 if mark == 0 else self._own_index[mark - 1] + 1

    async def follow(self, after: int) -> AsyncIterator[ev.BaseEvent | None]:
        """Every event published after the run's own event `after` (children's included), then
        live ones until the stretch ends; `None` after `KEEPALIVE` seconds without one."""
        index = self._start_index(after)
        while True:
            while index < len(self.events):
                event = self.events[index]
                index += 1
                yield event
            if self.done:
                return
            changed: Any = self._changed
            with anyio.move_on_after(KEEPALIVE) as timeout:
                await changed.wait()
            if timeout.cancelled_caught:
                yield None


def live_run_for(runnable: object) -> type[LiveRun]:
    """The live run class for what `runnable` runs: an agent's stream carries only its own
    events, a team's or a workflow's its children's too."""
    return LiveRun if isinstance(runnable, Agent) else TreeLiveRun
