"""`RunManager`: runs owned by the server, not by the connection that started them.

Every run started over HTTP or WebSocket runs in a task of the manager, so it goes on when its
client leaves. Clients follow a run through its `LiveRun` when it runs in this process, or by
polling the store's event log when it runs in another one (the run loop writes its events before
each model request and tool batch, so what is in flight is in the log).

Every run holds a lease in the store (`Run.heartbeat_at`). A watcher, every half second, renews
the lease of each run of this process that has not renewed it for a third of `lease` — even
while a long model request or tool call is in flight — and polls, more often, runs whose request
or call is in flight: it cancels them when another process asked for it through the store, and
stops them with `RunTimeout` when they pass their time limit. It also sweeps the store for runs
of other workers whose lease lapsed (the worker crashed or was killed) and closes them as
`interrupted` (`covey.core.cancellation.close_orphaned`); reading, following or cancelling
such a run closes it too. On shutdown running runs get a grace period, then are stopped with
`Interrupted` and stored as `interrupted`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from anyio.abc import TaskGroup

from covey.core.cancellation import close_orphaned, lease_lapsed
from covey.runtime.live import KEEPALIVE, LiveRun, ended_after
from covey.runtime.runnables import Runnable
from covey.spec import RunResult, RunStatus
from covey.spec import events as ev
from covey.spec.errors import ConflictError, Interrupted, NotFoundError, RunTimeout
from covey.spec.runs import ErrorInfo
from covey.spec.store import Run, Scope, Store

__all__ = ["WATCH_INTERVAL", "RunManager", "ShuttingDown"]

log = logging.getLogger("covey.runtime")

WATCH_INTERVAL = 0.5
"""Seconds between the watcher's checks of in-flight runs."""

_PAGE = 500

EventStream = AsyncIterator[ev.BaseEvent]


class ShuttingDown(Exception):  # noqa: N818 - a state, not a failure
    """The server is shutting down and takes no new runs."""


class RunManager:
    """Starts, tracks, follows and cancels the runs of this process.

    Args:
        store: The store every run is persisted in.
        run_timeout: Seconds a run may take before it is cancelled; `None` for no limit.
        shutdown_grace: Seconds running runs get to finish when the server stops.
        lease: Seconds a run's lease lasts: this process renews the lease of its runs every
            third of it, and closes runs of other processes whose lease lapsed.
        poll_interval: Seconds between store polls when following a run of another process.
    """

    def __init__(
        self,
        store: Store,
        *,
        run_timeout: float | None,
        shutdown_grace: float,
        lease: float,
        poll_interval: float,
    ) -> None:
        self.store = store
        self.run_timeout = run_timeout
        self.shutdown_grace = shutdown_grace
        self.lease = lease
        self.poll_interval = poll_interval
        self._live: dict[str, LiveRun] = {}
        self._tenants: set[str] = {"default"}
        """Tenants whose orphaned runs the watcher sweeps: the default one and those seen here."""
        self._swept_at = 0.0
        self._sweeping = False
        self._tg: TaskGroup | None = None
        self._accepting = False
        self._idle: anyio.Event | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncGenerator[RunManager]:
        """Run the manager: its task group and watcher live inside this context.

        On exit, running runs get `shutdown_grace` seconds to finish; the rest are cancelled and
        marked `interrupted`.
        """
        async with anyio.create_task_group() as tg:
            self._tg = tg
            self._accepting = True
            tg.start_soon(self._watch)
            try:
                yield self
            finally:
                with anyio.CancelScope(shield=True):
                    await self._drain()
                tg.cancel_scope.cancel()
        self._tg = None

    async def _drain(self) -> None:
        self._accepting = False
        if self._live:
            log.info(
                "waiting up to %ss for %d running run(s)", self.shutdown_grace, len(self._live)
            )
            await self._wait_idle(self.shutdown_grace)
        if self._live:
            log.warning("interrupting %d run(s) still running at shutdown", len(self._live))
            for live in list(self._live.values()):
                self._cancel(
                    live,
                    Interrupted("The server shut down before the run finished; start it again"),
                )
            await self._wait_idle(5.0)

    async def _wait_idle(self, seconds: float) -> None:
        with anyio.move_on_after(seconds):
            while self._live:
                self._idle = anyio.Event()
                await self._idle.wait()

    @property
    def accepting(self) -> bool:
        """Whether new runs are taken (false before start and during shutdown)."""
        return self._accepting

    # --- starting runs -------------------------------------------------------------------------

    def start(
        self,
        live: LiveRun,
        events: Callable[[], EventStream],
    ) -> LiveRun:
        """Run `events()` (an agent's `run_stream` or `resume_stream`) in the manager.

        Raises:
            ShuttingDown: the server takes no new runs.
            ConflictError: the run is already running in this process.
        """
        if not self._accepting or self._tg is None:
            raise ShuttingDown("The server is shutting down; retry on another instance")
        if live.run_id in self._live:
            raise ConflictError(f"Run {live.run_id!r} is already running in this process")
        if self.run_timeout is not None:
            live.deadline = time.monotonic() + self.run_timeout
        live.renewed_at = time.monotonic()
        self._tenants.add(live.scope.tenant_id)
        self._live[live.run_id] = live
        self._tg.start_soon(self._drive, live, events)
        return live

    def get(self, run_id: str) -> LiveRun | None:
        """The run if it runs in this process."""
        return self._live.get(run_id)

    def __len__(self) -> int:
        return len(self._live)

    async def _drive(self, live: LiveRun, events: Callable[[], EventStream]) -> None:
        try:
            async for event in events():
                live.publish(event)
                if live.cancel_requested:
                    self._cancel(live)
        except Exception as exc:
            if isinstance(exc, ConflictError) and not live.events:
                # Refused before it started (another process claimed the paused run first):
                # the stored run is not this process's to end.
                live.refused = exc
            else:
                log.exception(
                    "run %s stopped with an error the run loop did not handle", live.run_id
                )
                with anyio.CancelScope(shield=True):
                    await self._fail(live, exc)
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    if isinstance(live.cancel_error, Interrupted):
                        await self._mark_interrupted(live, live.cancel_error)
                finally:
                    self._live.pop(live.run_id, None)
                    live.finish()
                    if not self._live and self._idle is not None:
                        self._idle.set()

    async def _mark_interrupted(self, live: LiveRun, error: Interrupted) -> None:
        """Store a run stopped by the shutdown as `interrupted`.

        The run loop ended it `failed` with the `Interrupted` error (its final event is
        `run.failed` carrying that error); `interrupted` is the status the API promises for runs
        a server stopped, so the stored record moves there, keeping the same error. A run that
        ended otherwise before the stop took effect (completed, paused, failed for its own
        reason) is left as it is.
        """
        info = ErrorInfo.from_exception(error)
        try:
            run = await self.store.get_run(live.scope, live.run_id)
            if run is None:
                return
            ours = run.status is RunStatus.FAILED and run.error == info
            # RUNNING/CANCELLED: the loop could not close it in time and was cancelled itself.
            if not ours and run.status not in (RunStatus.RUNNING, RunStatus.CANCELLED):
                return
            interrupted = run.model_copy(
                update={
                    "status": RunStatus.INTERRUPTED,
                    "error": info,
                    "finished_at": run.finished_at or datetime.now(UTC),
                }
            )
            await self.store.save_run(live.scope, interrupted, expected_status=run.status)
        except Exception:
            log.exception("could not record the interruption of run %s", live.run_id)
            return
        if live.result is not None:
            live.result = live.result.model_copy(
                update={"status": RunStatus.INTERRUPTED, "error": info}
            )

    async def _fail(self, live: LiveRun, exc: Exception) -> None:
        """End a run the run loop could not end itself (the store failed, say)."""
        if live.result is not None:
            return
        info = ErrorInfo.from_exception(exc)
        result: RunResult[Any] = RunResult(
            run_id=live.run_id,
            session_id=live.session_id,
            agent_id=live.agent_id,
            user_id=live.scope.user_id,
            status=RunStatus.FAILED,
            error=info,
            finished_at=datetime.now(UTC),
        )
        final = ev.RunFailed(
            run_id=live.run_id, seq=live.last_seq + 1, agent_name=live.agent_id, result=result
        )
        try:
            run = await self.store.get_run(live.scope, live.run_id)
            if run is not None and not run.status.is_final:
                run.status = RunStatus.FAILED
                run.error = info
                run.finished_at = result.finished_at
                await self.store.save_run(live.scope, run)
                await self.store.append_events(live.scope, live.run_id, [final])
        except Exception:
            log.exception("could not record the failure of run %s", live.run_id)
        live.publish(final)

    # --- cancelling ----------------------------------------------------------------------------

    def _cancel(self, live: LiveRun, error: BaseException | None = None) -> None:
        """Stop a run of this process: `cancelled`, or `failed` with `error`.

        The first stop decides; it is kept on the live run, so a run whose handle does not
        exist yet (still starting) is stopped the same way at its first event.
        """
        from covey.core.cancellation import active_run

        if not live.cancel_requested:
            live.cancel_requested = True
            live.cancel_error = error
        handle = active_run(live.run_id)
        if handle is not None and not handle.cancelled:
            handle.cancel(error=live.cancel_error)

    async def cancel(
        self, scope: Scope, run: Run | None, run_id: str, agent: Runnable
    ) -> RunStatus:
        """Cancel a run wherever it runs; returns the status it has now.

        A run of this process stops at once; a run of another process stops at its next step,
        or within `WATCH_INTERVAL` while a model request or tool call is in flight there. A
        paused run is cancelled on the spot (by `Agent.cancel`, which closes its record and its
        log), and so is an orphaned run (its worker died: its lease lapsed). A run whose worker
        dies after the cancel is closed `cancelled` once its lease lapses.

        Args:
            scope: The caller's scope.
            run: The stored run, as the caller read it (`None` when not stored).
            run_id: The run.
            agent: What ran it: the agent, team or workflow, whose `cancel` also ends its
                children (any `Agent` will do for a run of a definition not served here).

        Raises:
            NotFoundError: the run is not in the scope.
        """
        live = self._live.get(run_id)
        if live is not None and live.visible_to(scope):
            self._cancel(live)
            return RunStatus.RUNNING
        if run is None:
            raise NotFoundError(f"No run {run_id!r}")
        if run.status.is_final:
            return run.status
        await agent.cancel(run_id, store=self.store, user_id=run.user_id, tenant_id=scope.tenant_id)
        now = await self.store.get_run(scope, run_id)
        if now is None:
            return run.status
        closed = await self.close_if_orphaned(scope, now)
        if closed is None and now.status is RunStatus.RUNNING:
            # Another worker may have closed it meanwhile: answer with what is stored.
            now = await self.store.get_run(scope, run_id) or now
        return (closed or now).status

    async def _watch(self) -> None:
        async with anyio.create_task_group() as background:
            while True:
                await anyio.sleep(WATCH_INTERVAL)
                now = time.monotonic()
                due: list[LiveRun] = []
                for live in list(self._live.values()):
                    if live.done:
                        continue
                    if (
                        live.deadline is not None
                        and now >= live.deadline
                        and not live.cancel_requested
                    ):
                        assert self.run_timeout is not None
                        self._cancel(
                            live,
                            RunTimeout(
                                f"The run took longer than run_timeout={self.run_timeout:g}s "
                                "and was stopped; raise run_timeout or make the run shorter",
                                timeout=self.run_timeout,
                            ),
                        )
                    in_flight = (
                        live.in_flight_since is not None
                        and now - live.in_flight_since >= WATCH_INTERVAL
                        and not live.cancel_requested
                    )
                    if in_flight or now - live.renewed_at >= self.lease / 3:
                        due.append(live)
                if due:
                    async with anyio.create_task_group() as tg:
                        for live in due:
                            tg.start_soon(self._renew, live)
                if not self._sweeping and now - self._swept_at >= self.lease / 3:
                    self._sweeping = True
                    background.start_soon(self._sweep)

    async def _renew(self, live: LiveRun) -> None:
        """Renew a run's lease, and see if another process asked to cancel it."""
        live.renewed_at = time.monotonic()
        try:
            if await self.store.heartbeat(live.scope, live.run_id) and not live.cancel_requested:
                log.info("run %s: cancel requested through the store", live.run_id)
                self._cancel(live)
        except NotFoundError:
            pass  # not saved yet
        except Exception:
            log.exception("renewing the lease of run %s failed", live.run_id)
        for child in list(getattr(live, "children", ())):
            await self._renew_child(live.scope, child)

    async def _renew_child(self, scope: Scope, run_id: str) -> None:
        """Renew the lease of a team member's or workflow step's run running here, and stop it
        when another process asked for its cancel (its parent goes on)."""
        from covey.core.cancellation import active_run

        try:
            if await self.store.heartbeat(scope, run_id):
                handle = active_run(run_id)
                if handle is not None and not handle.cancelled:
                    log.info("run %s: cancel requested through the store", run_id)
                    handle.cancel()
        except NotFoundError:
            pass
        except Exception:
            log.exception("renewing the lease of run %s failed", run_id)

    def runs_here(self, run_id: str) -> bool:
        """Whether `run_id` runs in this process: a run of the manager, or a child of one."""
        return run_id in self._live or any(
            run_id in getattr(live, "children", ()) for live in self._live.values()
        )

    async def _sweep(self) -> None:
        """Close the runs of other workers whose lease lapsed, in the tenants seen here."""
        try:
            for tenant in sorted(self._tenants):
                scope = Scope(tenant)
                cursor: str | None = None
                while True:
                    page = await self.store.list_runs(
                        scope, status=RunStatus.RUNNING, limit=_PAGE, cursor=cursor
                    )
                    for run in page.items:
                        await self.close_if_orphaned(scope, run)
                    cursor = page.next_cursor
                    if cursor is None:
                        break
        except Exception:
            log.exception("sweeping the store for orphaned runs failed")
        finally:
            self._swept_at = time.monotonic()
            self._sweeping = False

    async def close_if_orphaned(self, scope: Scope, run: Run) -> Run | None:
        """Close `run` if it runs elsewhere and its lease lapsed; the closed run, else `None`.

        A run whose cancel was requested is closed `cancelled`, any other `interrupted` with the
        reason. When several workers try at once exactly one closes it (the others get `None`).
        """
        self._tenants.add(scope.tenant_id)
        lease = timedelta(seconds=self.lease)
        if run.id in self._live or not lease_lapsed(run, lease) or self.runs_here(run.id):
            return None
        closed = await close_orphaned(self.store, scope, run, lease=lease)
        if closed is not None:
            log.warning(
                "run %s: its worker stopped renewing its lease (crashed or killed); closed it as %s",
                run.id,
                closed.status.value,
            )
        return closed

    # --- following -----------------------------------------------------------------------------

    async def follow(
        self, scope: Scope, run_id: str, after: int
    ) -> AsyncIterator[ev.BaseEvent | None]:
        """A run's events with `seq > after`, then live ones until it stops running.

        In this process the events come from the run's `LiveRun`; otherwise from the store,
        polled every `poll_interval` seconds. Yields `None` as a keep-alive when idle. Ends after
        a final run event once the run is no longer running (paused runs end the stream too).
        """
        last = after
        ended = False
        idle_since = time.monotonic()
        while True:
            live = self._live.get(run_id)
            if live is not None and live.visible_to(scope):
                if last < live.base_seq:
                    for event in await self.store.list_events(scope, run_id, after_seq=last):
                        if event.seq > live.base_seq:
                            break
                        yield event
                        last = event.seq
                async for item in live.follow(max(last, live.base_seq)):
                    # A team's or workflow's stream carries its children's events too; their
                    # seq counts in their own logs.
                    if item is not None and item.run_id == run_id:
                        last = item.seq
                    yield item
                if live.refused is None and (live.result is not None or last >= live.last_seq):
                    return
                continue  # a refused resume: the run goes on elsewhere, follow the store
            events = await self.store.list_events(scope, run_id, after_seq=last, limit=_PAGE)
            for event in events:
                yield event
                last = event.seq
            ended = ended_after(events, ended)
            if len(events) == _PAGE:
                continue
            if events:
                idle_since = time.monotonic()
                if ended:
                    run = await self.store.get_run(scope, run_id)
                    if run is None or run.status is not RunStatus.RUNNING:
                        return
                continue
            run = await self.store.get_run(scope, run_id)
            if run is None:
                return
            if run.status is not RunStatus.RUNNING:
                if ended:  # its final event (and the learning after it) was read
                    return
                # Final events are flushed right after the final save (and an orphan's closing
                # events right after it is marked): read until the final event, briefly.
                async for event in self._rest(scope, run_id, last):
                    yield event
                return
            await self.close_if_orphaned(scope, run)
            if time.monotonic() - idle_since >= KEEPALIVE:
                idle_since = time.monotonic()
                yield None
            await anyio.sleep(self.poll_interval)

    async def _rest(self, scope: Scope, run_id: str, after: int) -> AsyncIterator[ev.BaseEvent]:
        """The events after `after` of a run that is no longer running, up to its final one."""
        give_up = time.monotonic() + max(2.0, 8 * self.poll_interval)
        while True:
            events = await self.store.list_events(scope, run_id, after_seq=after)
            for event in events:
                yield event
                after = event.seq
            if ended_after(events) or time.monotonic() > give_up:
                return
            await anyio.sleep(self.poll_interval)
