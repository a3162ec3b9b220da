"""`AgentRun`: a run stepped through node by node (`async with agent.iter(...) as run`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Generic

from typing_extensions import TypeVar

from covey.core.run.engine import RunEngine
from covey.core.run.nodes import End, RunNode
from covey.spec import RunResult
from covey.spec import events as ev

__all__ = ["AgentRun"]

OutputT = TypeVar("OutputT", default=Any)


class AgentRun(Generic[OutputT]):
    """One run, stepped through: iterate it for its nodes, each yielded before its step runs.

    `events` holds every event so far; `result` is set once the run has ended. Leaving the
    `async with` block before the end cancels the run (it ends `cancelled`, recorded as such).
    """

    __slots__ = ("_engine", "_items", "events", "result")

    def __init__(self, engine: RunEngine) -> None:
        self._engine = engine
        self._items: AsyncIterator[ev.BaseEvent | RunNode] | None = None
        self.events: list[ev.BaseEvent] = []
        """Every event of the run so far, in order."""
        self.result: RunResult[OutputT] | None = None
        """The result, once an `End` node has been reached."""

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self._engine.ctx.run_id

    async def __aenter__(self) -> AgentRun[OutputT]:
        self._items = self._engine.items()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        items = self._items
        if items is None:
            return
        if self.result is None and self._engine.handle is not None:
            # Left early: stop the run and let it close its events and record.
            self._engine.handle.cancel()
            async for item in items:
                self._take(item)
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()

    def __aiter__(self) -> AsyncIterator[RunNode]:
        return self._nodes()

    async def next(self) -> RunNode | None:
        """Run up to the next node and return it (`None` after the end)."""
        assert self._items is not None, "use `async with agent.iter(...) as run`"
        async for item in self._items:
            node = self._take(item)
            if node is not None:
                return node
        return None

    async def _nodes(self) -> AsyncIterator[RunNode]:
        while (node := await self.next()) is not None:
            yield node

    def _take(self, item: ev.BaseEvent | RunNode) -> RunNode | None:
        if isinstance(item, ev.BaseEvent):
            self.events.append(item)
            return None
        if isinstance(item, End):
            self.result = item.result
        return item
