"""Cancelling runs: in-process handles, so `cancel(run_id)` can reach the awaiting step, and the
closing of a paused run that waits in the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import anyio

from covey.spec import ErrorInfo, RunStatus
from covey.spec import events as ev

if TYPE_CHECKING:
    from covey.spec.store import Run, Scope, Store

__all__ = ["RunHandle", "active_run", "cancel_paused", "register", "unregister"]


@dataclass(slots=True, eq=False)
class RunHandle:
    """The cancellation switch of one run in this process.

    The run loop enters a fresh cancel scope around each await (never around a `yield`, so a
    streaming consumer's own code is never cancelled) and records it here.
    """

    run_id: str
    cancelled: bool = False
    error: BaseException | None = None
    """Why the run was stopped, when it was stopped as a failure (see `cancel`)."""
    scope: anyio.CancelScope | None = None

    def cancel(self, *, error: BaseException | None = None) -> None:
        """Cancel the run: the step in flight stops at once, the loop then closes the run.

        Args:
            error: Stop the run as a failure with this error (a time limit, a shutdown): it
                ends `failed` with the error in `result.error`, a `run.failed` final event, and
                its open events closed as failed. Without it the run ends `cancelled`. When the
                run is cancelled twice, the first call decides how it ends.
        """
        if not self.cancelled:
            self.cancelled = True
            self.error = error
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


async def cancel_paused(
    store: Store, scope: Scope, run: Run, *, error: BaseException | None = None
) -> Run:
    """End a paused run kept in `store`: `cancelled`, or `failed` with `error`.

    The status change is a compare-and-set from `paused`, so a resume racing with this cancel
    either claimed the run first (this raises `ConflictError`, nothing is written) or finds it
    ended. The log gets what a resume stopped at once would write: `run.started`
    (`resumed=True`), then `run.cancelled` (or `run.failed`), after the run's last `seq`.

    Args:
        store: Where the run is kept.
        scope: The caller's scope.
        run: The paused run, as read from the store.
        error: End the run `failed` with this error instead of `cancelled`.

    Returns:
        The stored run.

    Raises:
        ConflictError: the run is no longer paused (resumed or ended meanwhile).
    """
    seq = int(run.metadata.get("last_seq", 0))
    metadata = {k: v for k, v in run.metadata.items() if k != "pending_parts"}
    metadata["last_seq"] = seq + 2
    ended = run.model_copy(
        update={
            "status": RunStatus.CANCELLED if error is None else RunStatus.FAILED,
            "error": None if error is None else ErrorInfo.from_exception(error),
            "requirements": [],
            "finished_at": datetime.now(UTC),
            "cancel_requested": True,
            "metadata": metadata,
        }
    )
    stored = await store.save_run(scope, ended, expected_status=RunStatus.PAUSED)
    started = ev.RunStarted(
        run_id=run.id,
        parent_run_id=run.parent_run_id,
        seq=seq + 1,
        agent_name=run.agent_id,
        session_id=run.session_id,
        user_id=run.user_id,
        resumed=True,
    )
    final_cls = ev.RunCancelled if error is None else ev.RunFailed
    final = final_cls(
        run_id=run.id,
        parent_run_id=run.parent_run_id,
        seq=seq + 2,
        agent_name=run.agent_id,
        result=stored.to_result(),
    )
    await store.append_events(scope, run.id, [started, final])
    return stored
