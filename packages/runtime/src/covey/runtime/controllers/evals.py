"""`/v1/evals`: run an eval suite against a served agent or team, and list the reports.

`POST /v1/evals` runs the suite in the request (each case is an ordinary stored run of the
caller's tenant and user, tagged `metadata["covey.eval"]`), stores the report and answers it.
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

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from pydantic import BaseModel, ConfigDict, Field

from covey.core import Runnable
from covey.evals import EvalReport, EvalSuite, SuiteError, get_report, list_reports, run_suite
from covey.evals import save_report as store_report
from covey.evals.references import is_model_string
from covey.runtime.auth import Principal
from covey.runtime.guards import require_scope
from covey.runtime.problems import ApiError, problem_responses
from covey.runtime.state import RuntimeState
from covey.spec.store import MAX_PAGE_SIZE

__all__ = ["MAX_EVAL_RUNS", "EvalController", "EvalIn", "EvalPage", "EvalSummary"]

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


class EvalSummary(BaseModel):
    """A stored report, without its cases."""

    id: str
    suite: str
    agent: str | None
    passed: bool
    cases: int
    cases_passed: int
    accuracy: float | None
    reliability: float | None
    pass_rate: float
    started_at: datetime
    finished_at: datetime

    @classmethod
    def of(cls, report: EvalReport) -> EvalSummary:
        return cls(
            id=report.id,
            suite=report.suite,
            agent=report.agent,
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
        status_code=201,
        responses=problem_responses(400, 401, 403, 404, 413, 415),
    )
    async def run_eval(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        data: JSONBody[EvalIn],
    ) -> EvalReport:
        """Run every case against the agent, judge and check them, measure performance, store
        the report (unless `save` is false) and answer it. `passed` says whether every
        threshold held."""
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
        per_input = 1 + (suite.performance.warmup + suite.performance.runs) * (
            suite.performance.runs > 0
        )
        runs = len(suite.cases) * per_input
        if runs > MAX_EVAL_RUNS:
            raise _invalid("suite", f"{runs} runs; one request may start {MAX_EVAL_RUNS}")
        try:
            report = await run_suite(
                suite,
                target,
                judge=judge,
                user_id=principal.user_id,
                tenant_id=principal.tenant_id,
                concurrency=data.concurrency,
                agent_name=name,
                store=runtime.store,
            )
        except SuiteError as exc:
            raise _invalid("judge", str(exc)) from None
        if data.save:
            await store_report(runtime.store, principal.write_scope, report)
        return report

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
        page = await list_reports(runtime.store, principal.read_scope, limit=limit, cursor=cursor)
        return EvalPage(
            items=[EvalSummary.of(report) for report in page.items], next_cursor=page.next_cursor
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
        """A report with every case."""
        report = await get_report(runtime.store, principal.read_scope, report_id)
        if report is None:
            raise ApiError(404, "not-found", f"No eval report {report_id!r}")
        return report
