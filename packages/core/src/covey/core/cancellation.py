"""In-process handles of running runs, so `cancel(run_id)` can reach the awaiting step."""

from __future__ import annotations

from dataclasses import dataclass

import anyio

__all__ = ["RunHandle", "active_run", "register", "unregister"]


@dataclass(slots=True, eq=False)
class RunHandle:
    """The cancellation switch of one run in this process.

    The run loop enters a fresh cancel scope around each await (never around a `yield`, so a
    streaming consumer's own code is never cancelled) and records it here.
    """

    run_id: str
    cancelled: bool = False
    scope: anyio.CancelScope | None = None

    def cancel(self) -> None:
        """Cancel the run: the step in flight stops at once, the loop then closes the run."""
        self.cancelled = True
        if self.scope is not None:
            self.scope.cancel()


_ACTIVE: dict[str, RunHandle] = {}


def register(run_id: str) -> RunHandle:
    """Create and record the handle of a run starting in this process."""
    handle = RunHandle(run_id)
    _ACTIVE[run_id] = handle
    return handle


def unregister(handle: RunHandle) -> None:
    """Forget a run that has ended."""
    if _ACTIVE.get(handle.run_id) is handle:
        del _ACTIVE[handle.run_id]


def active_run(run_id: str) -> RunHandle | None:
    """The handle of a run running in this process, if any."""
    return _ACTIVE.get(run_id)
