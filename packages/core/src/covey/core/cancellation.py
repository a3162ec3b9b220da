"""Cancelling runs: in-process handles, so `cancel(run_id)` can reach the awaiting step; the
closing of a paused run that waits in the store; and the closing of an orphaned run, whose
worker died without closing it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio

from covey.spec import ErrorInfo, RunStatus, ToolCallRecord, Usage
from covey.spec import events as ev
from covey.spec.errors import ConflictError, Interrupted

if TYPE_CHECKING:
    from covey.spec.store import Run, Scope, Store

__all__ = [
    "RunHandle",
    "active_run",
    "cancel_paused",
    "close_orphaned",
    "lease_lapsed",
    "register",
    "unregister",
]


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


def register(run_id: str, handle: RunHandle | None = None) -> RunHandle:
    """Record the handle of a run starting in this process (a new `RunHandle` by default)."""
    if handle is None:
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


def lease_lapsed(run: Run, lease: timedelta, *, now: datetime | None = None) -> bool:
    """Whether `run` is running and its worker has not renewed its lease for `lease`.

    The lease is renewed by `Store.heartbeat`; a run never beaten counts from its last save.
    """
    if run.status is not RunStatus.RUNNING:
        return False
    seen = run.heartbeat_at or run.updated_at
    return (now or datetime.now(UTC)) - seen > lease


async def close_orphaned(store: Store, scope: Scope, run: Run, *, lease: timedelta) -> Run | None:
    """Close a running run whose worker stopped renewing its lease (it crashed or was killed).

    The run is claimed with `Store.mark_stale_runs_interrupted` for this run alone, an atomic
    compare-and-set: of several workers closing it at once exactly one goes on, the others get
    `None`. Its event log then gets what the dead worker never wrote — an ending for every open
    `*.started` subject, then a final run event carrying the result — and its record the
    outcome: usage and tool calls rebuilt from the log (`model_request.completed` events carry
    usage, `tool_call.*` events the calls), and `interrupted` with an `Interrupted` error
    saying why. A run whose cancel was requested (`cancel_requested`) is closed `cancelled`
    instead: its events closed as cancelled, a `run.cancelled` final event.

    Args:
        store: Where the run is kept.
        scope: The caller's scope (it must see the run).
        run: The run as the caller read it.
        lease: How long a worker may go without renewing the lease.

    Returns:
        The closed run, or `None` when it was not orphaned (its lease is alive, it ended) or
        another worker closed it first.
    """
    from covey.spec.store import Scope

    owner = Scope(scope.tenant_id, run.user_id)
    seconds = f"{lease.total_seconds():g}"
    reason = (
        f"The worker running this run stopped renewing its lease for more than {seconds}s (it "
        "crashed or was killed) before the run finished; start it again"
    )
    # The claim carries the reason: a reader never sees the run `interrupted` without one.
    if run.id not in await store.mark_stale_runs_interrupted(
        owner,
        older_than=lease,
        run_id=run.id,
        error=ErrorInfo.from_exception(Interrupted(reason)),
    ):
        return None
    # Read again after the claim: a cancel asked for meanwhile decides how it ends.
    run = await store.get_run(owner, run.id) or run
    cancelled = run.cancel_requested
    log = _Log.read(await store.list_events(owner, run.id))
    seq = log.last_seq  # the log is what followers read: continue it without a gap
    info = ErrorInfo.from_exception(Interrupted(reason))
    closing: list[ev.BaseEvent] = []

    def event(cls: type[ev.BaseEvent], **fields: Any) -> None:
        nonlocal seq
        seq += 1
        closing.append(
            cls(
                run_id=run.id,
                parent_run_id=run.parent_run_id,
                seq=seq,
                agent_name=run.agent_id,
                **fields,
            )
        )

    if not log.started:
        event(ev.RunStarted, session_id=run.session_id, user_id=run.user_id, input=run.input)
    for call_id, (name, _) in log.open_calls.items():
        if cancelled:
            event(ev.ToolCallCancelled, tool_call_id=call_id, tool_name=name)
        else:
            event(ev.ToolCallFailed, tool_call_id=call_id, tool_name=name, error=reason)
    for started in reversed(log.open_steps.values()):  # innermost first
        fields = {
            "step_name": started.step_name,
            "step_path": started.step_path,
            "step_type": started.step_type,
        }
        if cancelled:
            event(ev.StepCancelled, **fields)
        else:
            event(ev.StepFailed, error=info, **fields)
    if log.open_request is not None:
        model_name, step = log.open_request
        if cancelled:
            event(ev.ModelRequestCancelled, model_name=model_name, step=step)
        else:
            event(ev.ModelRequestFailed, model_name=model_name, step=step, error=info)
    tool_calls = [*log.calls]
    tool_calls.extend(
        ToolCallRecord(
            tool_call_id=call_id, tool_name=name, args=args, error=None if cancelled else reason
        )
        for call_id, (name, args) in log.open_calls.items()
    )
    usage = log.usage if log.usage.requests >= run.usage.requests else run.usage
    closed = run.model_copy(
        update={
            "status": RunStatus.CANCELLED if cancelled else RunStatus.INTERRUPTED,
            "error": None if cancelled else info,
            "usage": usage,
            "tool_calls": tool_calls,
            "requirements": [],
            "finished_at": datetime.now(UTC),
            "metadata": {**run.metadata, "last_seq": seq + 1},
        }
    )
    final_cls = ev.RunCancelled if cancelled else ev.RunFailed
    event(final_cls, result=closed.to_result())
    await store.append_events(owner, run.id, closing)
    try:
        return await store.save_run(owner, closed, expected_status=RunStatus.INTERRUPTED)
    except ConflictError:
        return await store.get_run(owner, run.id)


@dataclass(slots=True)
class _Log:
    """What a run's event log says about it: what is still open, its usage and tool calls."""

    last_seq: int = 0
    started: bool = False
    usage: Usage = field(default_factory=Usage)
    calls: list[ToolCallRecord] = field(default_factory=list[ToolCallRecord])
    open_calls: dict[str, tuple[str, dict[str, Any]]] = field(
        default_factory=dict[str, tuple[str, dict[str, Any]]]
    )
    open_request: tuple[str, int] | None = None
    open_steps: dict[str, ev.StepStarted] = field(default_factory=dict[str, "ev.StepStarted"])
    """A workflow's steps started and not yet ended, by path, in start order."""

    @classmethod
    def read(cls, events: list[ev.BaseEvent]) -> _Log:
        log = cls()
        for e in events:
            log.last_seq = max(log.last_seq, e.seq)
            if isinstance(e, ev.RunStarted):
                log.started = True
            elif isinstance(e, ev.StepStarted):
                log.open_steps[e.step_path] = e
            elif isinstance(
                e,
                ev.StepCompleted
                | ev.StepFailed
                | ev.StepSkipped
                | ev.StepPaused
                | ev.StepCancelled,
            ):
                log.open_steps.pop(e.step_path, None)
            elif isinstance(e, ev.ModelRequestStarted):
                log.open_request = (e.model_name, e.step)
            elif isinstance(e, ev.ModelRequestCompleted):
                log.usage.incr(e.usage)
                log.open_request = None
            elif isinstance(e, ev.ModelRequestFailed | ev.ModelRequestCancelled):
                log.open_request = None
            elif isinstance(e, ev.ToolCallStarted):
                log.open_calls[e.tool_call_id] = (e.tool_name, dict(e.args))
                log.usage.tool_calls += 1
            elif isinstance(e, ev.ToolCallPaused):
                # Not a finished call: the resumed run starts it again.
                log.open_calls.pop(e.tool_call_id, None)
            elif isinstance(e, ev.ToolCallCompleted | ev.ToolCallFailed | ev.ToolCallCancelled):
                name, args = log.open_calls.pop(e.tool_call_id, (e.tool_name, {}))
                log.calls.append(
                    ToolCallRecord(
                        tool_call_id=e.tool_call_id,
                        tool_name=name,
                        args=args,
                        result=e.result if isinstance(e, ev.ToolCallCompleted) else None,
                        error=e.error if isinstance(e, ev.ToolCallFailed) else None,
                        duration=getattr(e, "duration", 0.0),
                    )
                )
        return log
