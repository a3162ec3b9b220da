"""`Scheduler`: fires due schedules as ordinary background runs, once across every process.

Every runtime process may run a scheduler on the same store. Each one, every `poll` seconds,
asks the store which tenants have due schedules (`Store.list_due_tenants`, the one store call
across tenants: tenant ids only), lists each such tenant's due schedules under that tenant's
scope, and claims each due firing with a compare-and-set on the schedule's version (`Store.save_schedule(expected_updated_at=...)`): the write that moves
`next_run_at` on and records the firing's run id happens only over the version that was read,
so of several processes seeing the same firing exactly one wins; the others get a
`ConflictError` and move on. Only the winner starts the run, in its own `RunManager`, with the
schedule's id and the firing's time in the run's metadata. So a schedule fires whichever
process is up, also one just restarted or one its tenant never used.

Misfires (the policy, documented in docs/operations.md): a firing found at most
`misfire_grace` seconds late still runs, late, one run per firing; older ones are skipped,
counted in the schedule's `missed`, and the schedule moves to its first firing inside the grace
window. A paused schedule keeps no backlog: resuming it starts from the next firing after now.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import anyio

from covey.runtime.runnables import Runnable, check_ready
from covey.runtime.schedules.timing import cron_times, next_fire
from covey.runtime.tree import live_run_for
from covey.spec import RunStatus
from covey.spec.errors import ConflictError
from covey.spec.runs import ErrorInfo
from covey.spec.store import Run, Schedule, Scope, Store, new_id

if TYPE_CHECKING:
    from covey.runtime.registry import Registry
    from covey.runtime.run_manager import RunManager

__all__ = ["HISTORY_LIMIT", "Scheduler", "advance"]

log = logging.getLogger("covey.runtime.schedules")

HISTORY_LIMIT = 100
"""Firings kept in a schedule's history (`metadata["firings"]`), newest last."""

WORKER = f"{socket.gethostname()}:{os.getpid()}"
"""Which process fired a firing, as its history records it (host and process id)."""

_COUNT_CAP = 1_000
"""Past this many skipped cron firings in one catch-up, `missed` stops counting them."""

_TENANTS_PER_TICK = 1_000
"""At most this many tenants with due schedules are asked of the store per tick."""


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def advance(schedule: Schedule, after: datetime) -> datetime:
    """The schedule's first firing strictly after `after` (UTC)."""
    return next_fire(
        schedule.trigger,
        schedule.spec,
        schedule.timezone,
        after=after,
        anchor=schedule.created_at,
    )


def _skip(schedule: Schedule, due: datetime, horizon: datetime) -> tuple[datetime, int]:
    """The first firing at or after `horizon`, and how many firings from `due` come before it
    (for cron, counted up to `_COUNT_CAP`: a second-by-second cron down for a day is 86,400
    firings, too many to walk in the event loop)."""
    if schedule.trigger == "interval":
        step = timedelta(seconds=float(schedule.spec))
        count = math.ceil((horizon - due) / step)
        return due + count * step, count
    count, at = 1, due
    times = cron_times(schedule.spec, schedule.timezone, after=due)
    while count < _COUNT_CAP:
        at = next(times)
        if at >= horizon:
            return at, count
        count += 1
    return advance(schedule, horizon - timedelta(microseconds=1)), count


class Scheduler:
    """Fires the due schedules of every tenant through `manager`; see the module docstring.

    A plain class, not a dataclass: Litestar injects it into handlers and would read a
    dataclass's fields as a request model.

    Args:
        store: Where schedules and runs live.
        registry: What can be run.
        manager: Starts the runs (background, visible, cancellable like any other).
        poll: Seconds between looks for due schedules.
        misfire_grace: How late a firing may start; older firings are skipped.
        tenants: Tenants looked at on every poll besides those the store lists as due (the
            deprecated `schedule_tenants` setting; no longer needed for firing).
    """

    def __init__(
        self,
        store: Store,
        registry: Registry,
        manager: RunManager,
        *,
        poll: float = 1.0,
        misfire_grace: float = 60.0,
        tenants: set[str] | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.manager = manager
        self.poll = poll
        self.misfire_grace = misfire_grace
        self.tenants: set[str] = set(tenants) if tenants is not None else {"default"}
        self._wake: anyio.Event | None = None
        """Set to look now; made in the loop that runs the scheduler."""

    def watch_tenant(self, tenant_id: str) -> None:
        """A schedule was created in `tenant_id`: look at its schedules on every poll, and now."""
        self.tenants.add(tenant_id)
        self.wake()

    def wake(self) -> None:
        """Look for due schedules now rather than at the next poll."""
        if self._wake is not None:
            self._wake.set()

    async def run_forever(self) -> None:
        """Tick every `poll` seconds until cancelled; a failing tick is logged, not fatal."""
        while True:
            self._wake = anyio.Event()
            try:
                await self.tick()
            except Exception:
                log.exception("the scheduler's look for due schedules failed; retrying")
            with anyio.move_on_after(self.poll):
                await self._wake.wait()

    async def tick(self, now: datetime | None = None) -> int:
        """Fire every firing due at `now` (default: the clock); how many runs this process started.

        The tenants are those the store lists as due plus the known ones. One tenant's failure
        (a row the store cannot write, a lost connection) is logged and does not keep the
        others' schedules from firing; its firings stay due for the next poll. Past
        `_TENANTS_PER_TICK` due tenants, the rest come in the next ticks: a fired schedule
        moves on, and its tenant leaves the list."""
        due = await self.store.list_due_tenants(now or datetime.now(UTC), limit=_TENANTS_PER_TICK)
        started = 0
        for tenant in sorted(self.tenants.union(due)):
            at = now or datetime.now(UTC)
            try:
                for schedule in await self.store.list_due(Scope(tenant), at):
                    started += await self._fire_due(tenant, schedule, at)
            except Exception:
                log.exception("firing the due schedules of tenant %r failed; retrying", tenant)
        return started

    async def _fire_due(self, tenant: str, schedule: Schedule, now: datetime) -> int:
        started = 0
        owner = Scope(tenant, schedule.user_id)
        current = schedule
        while current.enabled and current.next_run_at is not None and current.next_run_at <= now:
            due = current.next_run_at
            metadata = dict(current.metadata)
            run_id: str | None = None
            horizon = now - timedelta(seconds=self.misfire_grace)
            if due < horizon:
                next_at, skipped = _skip(current, due, horizon)
                metadata["missed"] = int(metadata.get("missed", 0)) + skipped
                changes: dict[str, Any] = {"next_run_at": next_at, "metadata": metadata}
            else:
                run_id = new_id()
                firings = [*metadata.get("firings", []), _firing(run_id, due, now)]
                metadata["firings"] = firings[-HISTORY_LIMIT:]
                metadata["fired"] = int(metadata.get("fired", 0)) + 1
                changes = {
                    "next_run_at": advance(current, due),
                    "last_run_at": due,
                    "metadata": metadata,
                }
            try:
                current = await self.store.save_schedule(
                    owner,
                    current.model_copy(update=changes),
                    expected_updated_at=current.updated_at,
                )
            except ConflictError:
                return started  # another process claimed it, or it was edited: it is theirs
            if run_id is None:
                log.warning(
                    "schedule %s: skipped %s firing(s) missed by more than %ss",
                    current.id,
                    changes["metadata"]["missed"],
                    self.misfire_grace,
                )
                continue
            await self._start(owner, current, run_id, due)
            started += 1
        return started

    async def _start(self, owner: Scope, schedule: Schedule, run_id: str, due: datetime) -> None:
        """Start the claimed firing's run; when it cannot start, store it as failed, so the
        schedule's history says why rather than pointing at nothing."""
        payload = schedule.payload
        session_id: str = payload.get("session_id") or new_id()
        metadata = {
            "schedule_id": schedule.id,
            "scheduled_for": _iso(due),
            "kind": schedule.target_kind,
        }
        try:
            runnable = self._target(schedule)
            check_ready(runnable)
            live = live_run_for(runnable)(
                run_id=run_id,
                agent_id=runnable.name or "",
                session_id=session_id,
                scope=owner,
            )
            store = self.store

            def events() -> Any:
                return runnable.run_stream(
                    payload.get("input"),
                    session_id=session_id,
                    user_id=owner.user_id,
                    tenant_id=owner.tenant_id,
                    state=payload.get("state"),
                    store=store,
                    run_id=run_id,
                    metadata=metadata,
                    stream_model=False,
                )

            self.manager.start(live, events)
        except Exception as exc:
            log.warning("schedule %s: its run %s could not start: %s", schedule.id, run_id, exc)
            now = datetime.now(UTC)
            await self.store.save_run(
                owner,
                Run(
                    id=run_id,
                    session_id=session_id,
                    agent_id=schedule.target_id,
                    user_id=owner.user_id,
                    status=RunStatus.FAILED,
                    input=payload.get("input"),
                    error=ErrorInfo.from_exception(exc),
                    started_at=now,
                    finished_at=now,
                    metadata=metadata,
                ),
            )

    def _target(self, schedule: Schedule) -> Runnable:
        found = self.registry.of_kind(schedule.target_kind, schedule.target_id)
        if found is None:
            raise LookupError(
                f"this server serves no {schedule.target_kind} {schedule.target_id!r}"
            )
        return found


def _firing(run_id: str, due: datetime, now: datetime) -> dict[str, Any]:
    return {"run_id": run_id, "scheduled_for": _iso(due), "fired_at": _iso(now), "by": WORKER}
