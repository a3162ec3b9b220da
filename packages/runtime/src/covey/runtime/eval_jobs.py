"""`EvalJobs`: eval suites the server runs in the background, one task per eval.

`POST /v1/evals` answers at once: the report is stored `running` under its id, the suite runs
in a task of this service, and the report is replaced as each case finishes (the cases so far,
`progress`) and at the end (`completed`, `failed` with a reason, or `cancelled`). Each case run
is an ordinary run of the run manager: leased, time-limited, stopped at shutdown and cancelled
like any run.

Crash safety is a lease, as for runs: the worker running an eval renews `heartbeat_at` on its
report as each case finishes and at least every third of `eval_lease_seconds`. A running report
whose lease lapsed belongs to a worker that died (kill -9, a lost container); any worker that
sees it (at startup and every third of the lease for the tenants it has seen, or when a
request reads it) marks it `failed`, "interrupted: the server stopped while the eval ran". A
report another live worker runs keeps being renewed and is left alone. Before each renewal the
worker reads its report back: when someone else ended it (a lapsed lease, a slow store) or
asked for its cancel through the store (`cancel_requested`, another worker's
`POST /cancel`), it stops its eval.

At most `max_concurrent_evals` evals run in one process; one more is refused (`EvalsBusy`, a
429) rather than queued.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from anyio.abc import TaskGroup

from covey.core import Runnable
from covey.evals import (
    CaseResult,
    EvalProgress,
    EvalReport,
    EvalStatus,
    EvalSuite,
    Judge,
    get_report,
    list_reports,
    replace_report,
    run_suite,
)
from covey.runtime.live import LiveRun
from covey.runtime.run_manager import RunManager
from covey.runtime.tree import live_run_for
from covey.spec.errors import NotFoundError
from covey.spec.runs import RunResult
from covey.spec.store import Scope, Store, new_id

__all__ = ["INTERRUPTED", "EvalJob", "EvalJobs", "EvalsBusy"]

log = logging.getLogger("covey.runtime")

INTERRUPTED = "interrupted: the server stopped while the eval ran"
"""The `error` of a report whose worker stopped (or died) before the eval ended."""

_SWEEP_PAGES = 2
"""Pages (of 100 reports, newest first) the background sweep reads per tenant; an older report
left running is marked when a request reads it."""
_RUN_STOP_WAIT = 5.0
"""Seconds a stopped eval waits for its in-flight runs to close their records."""


class EvalsBusy(Exception):  # noqa: N818 - a state, not a failure
    """This process already runs `max_concurrent_evals` evals."""


@dataclass(slots=True, eq=False)
class EvalJob:
    """One eval running in this process."""

    report: EvalReport
    """The report as it stands: the cases finished so far, then the final one."""
    scope: Scope
    """Whose it is: the caller's tenant and user; runs and the report are written under it."""
    target: Runnable[Any, Any]
    suite: EvalSuite
    judge: Judge | None
    concurrency: int
    save: bool
    runs: dict[str, LiveRun] = field(default_factory=dict[str, LiveRun])
    """The case runs in flight."""
    stop_reason: str | None = None
    """Why the eval was stopped: `None` for a cancel, a reason for a failure."""
    stopped: bool = False
    cancel_scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    done: anyio.Event = field(default_factory=anyio.Event)

    @property
    def id(self) -> str:
        return self.report.id

    def visible_to(self, scope: Scope) -> bool:
        """Whether a caller with `scope` may see this eval (same tenant, same or any user)."""
        return _visible(self.scope, scope)


class EvalJobs:
    """Starts, renews, stops and recovers the evals of this process.

    Args:
        store: Where reports (and the case runs) are kept.
        manager: The run manager the case runs run in.
        limit: Evals running at once in this process.
        lease: Seconds a running report's lease lasts.
    """

    def __init__(self, store: Store, manager: RunManager, *, limit: int, lease: float) -> None:
        self.store = store
        self.manager = manager
        self.limit = limit
        self.lease = lease
        self._jobs: dict[str, EvalJob] = {}
        self._tenants: set[str] = {"default"}
        self._tg: TaskGroup | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncGenerator[EvalJobs]:
        """Run the service; on exit the evals still running are stopped as interrupted."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self._sweep_forever)
            try:
                yield self
            finally:
                self._tg = None
                with anyio.CancelScope(shield=True):
                    jobs = list(self._jobs.values())
                    for job in jobs:
                        await self.stop(job, INTERRUPTED)
                    with anyio.move_on_after(_RUN_STOP_WAIT * 2):
                        for job in jobs:
                            await job.done.wait()
                tg.cancel_scope.cancel()

    def get(self, report_id: str) -> EvalJob | None:
        """The eval if it runs in this process."""
        return self._jobs.get(report_id)

    def __len__(self) -> int:
        return len(self._jobs)

    # --- starting ------------------------------------------------------------------------------

    async def start(
        self,
        scope: Scope,
        suite: EvalSuite,
        target: Runnable[Any, Any],
        *,
        agent_name: str,
        judge: Judge | None,
        concurrency: int,
        save: bool,
    ) -> EvalJob:
        """Store the report as running (when `save`) and start the suite in the background.

        Raises:
            EvalsBusy: `limit` evals already run here.
            RuntimeError: the service is not running (the server is stopping).
        """
        if self._tg is None:
            raise RuntimeError("The server is shutting down; retry on another instance")
        if len(self._jobs) >= self.limit:
            raise EvalsBusy(
                f"This server already runs {self.limit} eval(s) at once "
                "(max_concurrent_evals); retry when one has finished"
            )
        now = datetime.now(UTC)
        report = EvalReport(
            id=new_id(),
            suite=suite.name,
            agent=agent_name,
            started_at=now,
            status="running",
            progress=EvalProgress(done=0, total=len(suite.cases)),
            heartbeat_at=now,
            cases=[],
            pass_rate=0.0,
            passed=False,
        )
        job = EvalJob(
            report=report,
            scope=scope,
            target=target,
            suite=suite,
            judge=judge,
            concurrency=concurrency,
            save=save,
        )
        self._jobs[job.id] = job  # counted at once: a burst of requests cannot pass the limit
        self._tenants.add(scope.tenant_id)
        try:
            if save:
                await replace_report(self.store, scope, report)
        except BaseException:
            del self._jobs[job.id]
            raise
        self._tg.start_soon(self._execute, job)
        return job

    # --- running -------------------------------------------------------------------------------

    async def _execute(self, job: EvalJob) -> None:
        try:
            final: EvalReport | None = None
            report: EvalReport | None = None
            try:
                with job.cancel_scope:
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(self._renew_forever, job)
                        report = await run_suite(
                            job.suite,
                            job.target,
                            judge=job.judge,
                            user_id=job.scope.user_id,
                            tenant_id=job.scope.tenant_id,
                            concurrency=job.concurrency,
                            agent_name=job.report.agent,
                            store=self.store,
                            report_id=job.id,
                            run=lambda text, meta: self._run_case(job, text, meta),
                            on_case=lambda case: self._case_done(job, case),
                        )
                        tg.cancel_scope.cancel()
                if report is not None and not job.stopped:
                    final = report.model_copy(
                        update={
                            "status": "completed",
                            "progress": _progress(job, len(report.cases)),
                        }
                    )
            except Exception as exc:
                log.exception("eval %s stopped with an error", job.id)
                job.stopped = True
                job.stop_reason = f"the eval stopped with an error: {_kind(exc)}"
            if final is None:
                status: EvalStatus = "cancelled" if job.stop_reason is None else "failed"
                final = _ended(job.report, status, job.stop_reason)
            job.report = final
            with anyio.CancelScope(shield=True):
                await self._write(job, final=True)
        finally:
            self._jobs.pop(job.id, None)
            job.done.set()

    async def _run_case(self, job: EvalJob, text: str, meta: dict[str, Any]) -> RunResult[Any]:
        """One case run, in the run manager (so it is leased and cancellable like any run)."""
        if job.stopped:  # its cancel scope is cancelled: this waits for the cancellation
            await anyio.sleep_forever()
        target = job.target
        run_id = new_id()
        scope = job.scope
        live = live_run_for(target)(
            run_id=run_id, agent_id=job.report.agent or "", session_id=None, scope=scope
        )
        store = self.store

        def events() -> Any:
            return target.run_stream(
                text,
                metadata=meta,
                user_id=scope.user_id,
                tenant_id=scope.tenant_id,
                store=store,
                run_id=run_id,
                stream_model=False,
            )

        live = self.manager.start(live, events)
        job.runs[run_id] = live
        try:
            await live.wait()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._stop_run(job, live)
            raise
        finally:
            job.runs.pop(run_id, None)
        if live.result is None:  # the run loop always ends with a result; fail the case if not
            raise RuntimeError(f"run {run_id} ended without a result")
        return live.result

    async def _stop_run(self, job: EvalJob, live: LiveRun) -> None:
        await self._cancel_run(job, live)
        with anyio.move_on_after(_RUN_STOP_WAIT):
            await live.wait()

    async def _cancel_run(self, job: EvalJob, live: LiveRun) -> None:
        if live.done:
            return
        with suppress(NotFoundError):  # it ended meanwhile
            await self.manager.cancel(job.scope, None, live.run_id, job.target)

    async def _case_done(self, job: EvalJob, case: CaseResult) -> None:
        cases = [*job.report.cases, case]
        job.report = job.report.model_copy(
            update={"cases": cases, "progress": _progress(job, len(cases))}
        )
        await self._write(job)

    async def _renew_forever(self, job: EvalJob) -> None:
        while True:
            await anyio.sleep(self.lease / 3)
            await self._write(job)

    async def _write(self, job: EvalJob, *, final: bool = False) -> None:
        """Store the report as it stands; while it runs, renew its lease, and stop the eval
        when the stored report says someone ended it or asked for its cancel."""
        if not job.save:
            return
        async with job.lock:
            try:
                stored = await get_report(self.store, job.scope, job.id)
                if not final and stored is not None:
                    if stored.status != "running":
                        log.warning("eval %s was ended elsewhere (%s)", job.id, stored.status)
                        job.report = stored
                        why = None if stored.status == "cancelled" else stored.error or INTERRUPTED
                        await self.stop(job, why, write=False)
                        return
                    if stored.cancel_requested:
                        log.info("eval %s: cancel requested through the store", job.id)
                        await self.stop(job, None)
                        return
                now = datetime.now(UTC)
                report = job.report
                if report.status == "running":
                    report = report.model_copy(update={"heartbeat_at": now})
                await replace_report(self.store, job.scope, report)
            except Exception:
                log.exception("storing eval report %s failed", job.id)

    # --- stopping ------------------------------------------------------------------------------

    async def stop(self, job: EvalJob, reason: str | None, *, write: bool = True) -> None:
        """Stop a running eval of this process: its in-flight runs are cancelled through the
        run manager, the cases not started never start. It ends `cancelled` (no `reason`) or
        `failed` with `reason`. The first stop decides."""
        if job.stopped:
            return
        job.stopped = True
        job.stop_reason = reason
        if not write:
            job.save = False  # someone else ended the stored report: leave it as they wrote it
        for live in list(job.runs.values()):
            await self._cancel_run(job, live)
        job.cancel_scope.cancel()

    async def cancel(self, scope: Scope, report_id: str) -> tuple[int, EvalReport | None]:
        """Cancel an eval wherever it runs; the HTTP status and the report as it stands.

        One of this process ends at once (200). One of another live worker is asked through the
        store (`cancel_requested`) and stops at that worker's next renewal (202). A report whose
        worker died is closed `cancelled` at once; an ended one is answered as it is (200).
        `None` when there is no such report.
        """
        job = self._jobs.get(report_id)
        if job is not None and job.visible_to(scope):
            await self.stop(job, None)
            with anyio.move_on_after(_RUN_STOP_WAIT * 2):
                await job.done.wait()
            return 200, job.report
        report = await get_report(self.store, scope, report_id)
        if report is None:
            return 404, None
        if report.status != "running":
            return 200, report
        if self._lapsed(report):
            ended = _ended(report, "cancelled", None)
            await replace_report(self.store, scope, ended)
            return 200, ended
        asked = report.model_copy(update={"cancel_requested": True})
        await replace_report(self.store, scope, asked)
        return 202, asked

    # --- recovery ------------------------------------------------------------------------------

    def _lapsed(self, report: EvalReport) -> bool:
        seen = report.heartbeat_at or report.started_at
        return datetime.now(UTC) - seen > timedelta(seconds=self.lease)

    async def settle(self, scope: Scope, report: EvalReport) -> EvalReport:
        """`report`, or, when it is left running by a worker whose lease lapsed, the report
        marked failed (interrupted). Reports of this process are never touched."""
        self._tenants.add(scope.tenant_id)
        if report.status != "running" or report.id in self._jobs or not self._lapsed(report):
            return report
        current = await get_report(self.store, scope, report.id)
        if current is None or current.status != "running" or not self._lapsed(current):
            return current or report  # renewed or ended meanwhile
        status: EvalStatus = "cancelled" if current.cancel_requested else "failed"
        ended = _ended(current, status, None if status == "cancelled" else INTERRUPTED)
        await replace_report(self.store, scope, ended)
        log.warning(
            "eval %s: its worker stopped renewing its lease (crashed or killed); marked %s",
            report.id,
            status,
        )
        return ended

    async def _sweep_forever(self) -> None:
        while True:
            for tenant in sorted(self._tenants):
                try:
                    await self._sweep(Scope(tenant))
                except Exception:
                    log.exception("sweeping eval reports of tenant %s failed", tenant)
            await anyio.sleep(self.lease / 3)

    async def _sweep(self, scope: Scope) -> None:
        cursor: str | None = None
        for _ in range(_SWEEP_PAGES):
            page = await list_reports(self.store, scope, limit=100, cursor=cursor)
            for report in page.items:
                await self.settle(scope, report)
            cursor = page.next_cursor
            if cursor is None:
                return


def _kind(exc: BaseException) -> str:
    """The type of the error (the message may carry what no report should: keys, paths)."""
    current: BaseException = exc
    while True:  # an exception group of one: the one
        inner: tuple[BaseException, ...] = getattr(current, "exceptions", ())
        if len(inner) != 1:
            return type(current).__name__
        current = inner[0]


def _visible(owner: Scope, caller: Scope) -> bool:
    if owner.tenant_id != caller.tenant_id:
        return False
    return caller.user_id is None or caller.user_id == owner.user_id


def _progress(job: EvalJob, done: int) -> EvalProgress:
    return EvalProgress(done=done, total=len(job.suite.cases))


def _ended(report: EvalReport, status: EvalStatus, error: str | None) -> EvalReport:
    """A report that stopped before the end: the cases it finished, none passed as a suite."""
    cases = report.cases
    return report.model_copy(
        update={
            "status": status,
            "error": error,
            "finished_at": datetime.now(UTC),
            "pass_rate": sum(1 for c in cases if c.passed) / len(cases) if cases else 0.0,
            "passed": False,
            "heartbeat_at": None,
        }
    )
