"""`/v1/evals`: run an eval suite against a served agent or team, and list the reports.

`POST /v1/evals` starts the suite in the background (`EvalJobs`) and answers `202 Accepted` at
once with the report, `running`, and a `Location` to poll; the report is replaced as cases
finish and at the end. `"wait": true` (or `?wait=true`) answers the finished report instead
(201), for scripts and CI. Each case is an ordinary run of the run manager, of the caller's
tenant and user, tagged `metadata["covey.eval"]`. `POST /v1/evals/{id}/cancel` stops one.

Evals spend tokens on the agent's model and on a judge model the request names, so every route
needs the `admin` scope. The judge is a `provider:model` string of an installed model plugin
and nothing else: a request never chooses what the server imports. The runs one request may
start are capped (`MAX_EVAL_RUNS`).

Reports are kept as learnings of the reserved namespace `covey.evals` (see covey-evals), which
`/v1/learnings` never shows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from pydantic import BaseModel, ConfigDict, Field

from covey.core import Runnable
from covey.evals import (
    EvalProgress,
    EvalReport,
    EvalStatus,
    EvalSuite,
    Judge,
    get_report,
    list_reports,
)
from covey.evals.references import is_model_string
from covey.runtime.auth import Principal
from covey.runtime.eval_jobs import EvalJobs, EvalsBusy
from covey.runtime.guards import require_scope
from covey.runtime.problems import ApiError, problem_responses
from covey.runtime.state import RuntimeState
from covey.spec.store import MAX_PAGE_SIZE, Scope

__all__ = ["MAX_EVAL_RUNS", "EvalController", "EvalIn", "EvalPage", "EvalSummary"]

_RETRY_AFTER = "10"
"""Seconds a caller refused for too many evals at once is told to wait."""

MAX_EVAL_RUNS = 1000
"""The most runs of the target one request may start: cases × (1 + warm-up + measured runs)."""


class EvalIn(BaseModel):
    """A suite to run (the same fields as a suite file) and how."""

    model_config = ConfigDict(extra="forbid")

    suite: EvalSuite
    agent: str | None = Field(default=None, min_length=1, max_length=255)
    """The served agent or team (default: the suite's `agent`)."""
    judge: str | None = Field(default=None, min_length=3, max_length=255)
    """The judge model, `provider:model` (default: the suite's `judge`)."""
    save: bool = True
    concurrency: int = Field(default=4, ge=1, le=16)
    wait: bool = False
    """Answer the finished report (201) instead of `202 Accepted` at once; `save: false`
    needs it (a report nobody stores cannot be polled)."""


class EvalSummary(BaseModel):
    """A stored report, without its cases."""

    id: str
    suite: str
    agent: str | None
    status: EvalStatus
    progress: EvalProgress | None
    error: str | None
    passed: bool
    cases: int
    """Cases finished (all of them once the eval completed)."""
    cases_passed: int
    accuracy: float | None
    reliability: float | None
    pass_rate: float
    started_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, report: EvalReport) -> EvalSummary:
        return cls(
            id=report.id,
            suite=report.suite,
            agent=report.agent,
            status=report.status,
            progress=report.progress,
            error=report.error,
            passed=report.passed,
            cases=len(report.cases),
            cases_passed=sum(1 for case in report.cases if case.passed),
            accuracy=report.accuracy,
            reliability=report.reliability,
            pass_rate=report.pass_rate,
            started_at=report.started_at,
            finished_at=report.finished_at,
        )


class EvalPage(BaseModel):
    """One page of reports, newest first."""

    items: list[EvalSummary]
    next_cursor: str | None = None


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(
        400,
        "validation-error",
        f"Invalid value for {field}: {message}",
        errors=[{"field": field, "message": message}],
    )


class EvalController(Controller):
    """Run eval suites and read their reports."""

    path = "/v1/evals"
    tags = ["evals"]  # noqa: RUF012 - Litestar reads these class attributes
    guards = [require_scope]  # noqa: RUF012

    @post(
        "/",
        opt={"scope": "admin"},
        summary="Run an eval suite",
        status_code=202,
        responses=problem_responses(400, 401, 403, 404, 413, 415, 429, 503),
    )
    async def run_eval(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        data: JSONBody[EvalIn],
        wait: Annotated[bool, QueryParameter()] = False,
    ) -> Response[EvalReport]:
        """Start the suite in the background and answer `202 Accepted` with the report,
        `running`, and its `Location`; poll `GET /v1/evals/{id}` for progress and the end.

        With `"wait": true` (or `?wait=true`) the suite runs before the answer: `201` with the
        finished report (stored unless `save` is false). `passed` says whether every threshold
        held. `429` with `Retry-After` when this server already runs `max_concurrent_evals`.
        """
        suite = data.suite
        name = data.agent or suite.agent
        if name is None:
            raise _invalid("agent", "name the agent or team to evaluate")
        found: Any = runtime.registry.find(name)
        if found is None:
            raise ApiError(404, "not-found", f"No agent or team {name!r}")
        if not isinstance(found, Runnable):
            raise _invalid("agent", f"{name!r} is a workflow; evals run agents and teams")
        target = cast("Runnable[Any, Any]", found)
        judge = data.judge or suite.judge
        if judge is not None and not is_model_string(judge):
            raise _invalid("judge", "expected provider:model of an installed model plugin")
        if judge is None and any(case.expected is not None for case in suite.cases):
            raise _invalid(
                "judge",
                f"suite {suite.name!r} has cases with `expected` answers: give a judge model "
                "(the suite's `judge:` or `judge` in the request)",
            )
        per_input = 1 + (suite.performance.warmup + suite.performance.runs) * (
            suite.performance.runs > 0
        )
        runs = len(suite.cases) * per_input
        if runs > MAX_EVAL_RUNS:
            raise _invalid("suite", f"{runs} runs; one request may start {MAX_EVAL_RUNS}")
        waits = data.wait or wait
        if not data.save and not waits:
            raise _invalid("save", "an eval that is not saved cannot be polled: add wait: true")
        jobs = _jobs(runtime)
        try:
            job = await jobs.start(
                principal.write_scope,
                suite,
                target,
                agent_name=name,
                judge=Judge(judge) if judge is not None else None,
                concurrency=data.concurrency,
                save=data.save,
            )
        except EvalsBusy as exc:
            raise ApiError(
                429, "too-many-evals", str(exc), headers={"Retry-After": _RETRY_AFTER}
            ) from None
        except RuntimeError as exc:
            raise ApiError(503, "shutting-down", str(exc), headers={"Retry-After": "1"}) from None
        if not waits:
            return Response(
                job.report, status_code=202, headers={"Location": f"/v1/evals/{job.id}"}
            )
        await job.done.wait()
        return Response(job.report, status_code=201)

    @post(
        "/{report_id:str}/cancel",
        opt={"scope": "admin"},
        summary="Cancel a running eval",
        status_code=200,
        responses=problem_responses(401, 403, 404),
    )
    async def cancel_eval(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        report_id: FromPath[str],
    ) -> Response[EvalReport]:
        """Stop a running eval: its runs in flight are cancelled, the cases not started never
        start, and the report ends `cancelled` with the cases finished so far (200). An eval
        another worker runs is asked through the store and stops there within a third of
        `eval_lease_seconds` (202). An eval that has ended is answered as it is (200)."""
        status, report = await _jobs(runtime).cancel(principal.read_scope, report_id)
        if report is None:
            raise ApiError(404, "not-found", f"No eval report {report_id!r}")
        return Response(report, status_code=status)

    @get(
        "/",
        opt={"scope": "admin"},
        summary="List eval reports",
        responses=problem_responses(400, 401, 403),
    )
    async def list_evals(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)] = 50,
        cursor: Annotated[str | None, QueryParameter(max_length=4096)] = None,
    ) -> EvalPage:
        """The tenant's reports, newest first."""
        scope = principal.read_scope
        jobs = _jobs(runtime)
        page = await list_reports(runtime.store, scope, limit=limit, cursor=cursor)
        items = [await _current(jobs, scope, report) for report in page.items]
        return EvalPage(
            items=[EvalSummary.of(report) for report in items], next_cursor=page.next_cursor
        )

    @get(
        "/{report_id:str}",
        opt={"scope": "admin"},
        summary="Get an eval report",
        responses=problem_responses(401, 403, 404),
    )
    async def get_eval(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        report_id: FromPath[str],
    ) -> EvalReport:
        """A report with every case (while it runs: its status, progress and the cases
        finished so far)."""
        scope = principal.read_scope
        jobs = _jobs(runtime)
        job = jobs.get(report_id)
        if job is not None and job.visible_to(scope):
            return job.report  # this process runs it: fresher than the store
        report = await get_report(runtime.store, scope, report_id)
        if report is None:
            # A running report is replaced as a delete and an add: read again once, in case
            # this read fell between the two writes of another process.
            report = await get_report(runtime.store, scope, report_id)
        if report is None:
            raise ApiError(404, "not-found", f"No eval report {report_id!r}")
        return await _current(jobs, scope, report)


def _jobs(runtime: RuntimeState) -> EvalJobs:
    assert runtime.evals is not None, "the eval routes are served only with covey-evals"
    return cast("EvalJobs", runtime.evals)


async def _current(jobs: EvalJobs, scope: Scope, report: EvalReport) -> EvalReport:
    """The report as it stands: this process's own running eval from memory (fresher than the
    store), and a report whose worker died marked as interrupted."""
    job = jobs.get(report.id)
    if job is not None and report.status == "running":
        return job.report
    return await jobs.settle(scope, report)
