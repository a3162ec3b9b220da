"""Run a suite against an agent or team and build the report.

Each case is an ordinary run of the target (stored, traced and metered like any other when the
target has a store), tagged with `metadata["covey.eval"] = {"report": ..., "case": ...}` so a
run can be traced back to the eval that started it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

import anyio
from pydantic import BaseModel

from covey.core import Runnable
from covey.evals.cases import EvalCase, EvalSuite, SuiteError
from covey.evals.judge import Judge, JudgeResult
from covey.evals.performance import measure
from covey.evals.reliability import check_tool_calls
from covey.evals.report import CaseResult, EvalReport, ThresholdCheck
from covey.spec.models import ChatModel
from covey.spec.runs import RunResult, RunStatus
from covey.spec.store import Store, new_id
from covey.spec.usage import Usage

__all__ = ["CaseRunner", "output_text", "run_suite"]

CaseRunner = Callable[[str, dict[str, Any]], Awaitable[RunResult[Any]]]
"""Starts one run of the target with an input and the run's metadata, and returns its result:
how a server runs case runs in its run manager, where they are leased and cancellable like any
run."""

RUN_METADATA_KEY = "covey.eval"


def output_text(output: Any) -> str | None:
    """A run's output as the text the judge reads: strings as they are, models as JSON."""
    if output is None or isinstance(output, str):
        return output
    if isinstance(output, BaseModel):
        return output.model_dump_json()
    try:
        return json.dumps(output, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(output)


async def run_suite(
    suite: EvalSuite,
    target: Runnable[Any, Any],
    *,
    judge: Judge | ChatModel | str | None = None,
    user_id: str | None = None,
    tenant_id: str | None = None,
    concurrency: int = 4,
    agent_name: str | None = None,
    store: Store | None = None,
    report_id: str | None = None,
    run: CaseRunner | None = None,
    on_case: Callable[[CaseResult], Awaitable[None]] | None = None,
) -> EvalReport:
    """Run every case of `suite` against `target`, judge and check them, then measure
    performance when `suite.performance.runs > 0`.

    Args:
        suite: The cases and thresholds.
        target: An `Agent` or a `Team`.
        judge: The judge for cases with `expected` (a `Judge`, a model or a model string);
            default: `suite.judge`.
        user_id: The user the runs run as (memory, sessions, scoping).
        tenant_id: The tenant the runs run in.
        concurrency: Case runs at once (performance runs are always one at a time).
        agent_name: The name recorded in the report (default: the target's name).
        store: The store the runs are kept in (default: the target's own, if any).
        report_id: The report's id (default: a new one), so a caller can store a running
            report under it before the suite ends.
        run: Starts each run of the target (default: `target.run` with the options above).
        on_case: Called with each case's result as the case finishes (progress), in the order
            cases finish; an exception from it stops the suite.

    Raises:
        SuiteError: a case needs a judge and none is given, or `concurrency < 1`.
    """
    if concurrency < 1:
        raise SuiteError("concurrency must be at least 1")
    judge_obj = _judge(judge if judge is not None else suite.judge)
    if judge_obj is None and any(case.expected is not None for case in suite.cases):
        raise SuiteError(
            f"suite {suite.name!r} has cases with `expected` answers: give a judge model "
            "(the suite's `judge:` or --judge)"
        )
    report_id = report_id or new_id()
    started = datetime.now(UTC)

    async def run_case_input(text: str, case_id: str) -> RunResult[Any]:
        meta: dict[str, Any] = {
            RUN_METADATA_KEY: {"report": report_id, "suite": suite.name, "case": case_id}
        }
        if run is not None:
            return await run(text, meta)
        return await target.run(
            text, metadata=meta, user_id=user_id, tenant_id=tenant_id, store=store
        )

    results: dict[str, CaseResult] = {}
    usage = Usage()
    judge_usage = Usage()
    limiter = anyio.Semaphore(concurrency)

    async def one(case: EvalCase) -> None:
        nonlocal usage, judge_usage
        async with limiter:
            result, case_usage, case_judge_usage = await _run_case(
                case, suite, judge_obj, partial(run_case_input, case_id=case.id)
            )
        results[case.id] = result
        usage = usage + case_usage
        judge_usage = judge_usage + case_judge_usage
        if on_case is not None:
            await on_case(result)

    async with anyio.create_task_group() as group:
        for case in suite.cases:
            group.start_soon(one, case)
    cases = [results[case.id] for case in suite.cases]

    performance = None
    if suite.performance.runs > 0:
        performance = await measure(
            partial(run_case_input, case_id="performance"),
            [case.input for case in suite.cases],
            runs=suite.performance.runs,
            warmup=suite.performance.warmup,
            memory=suite.performance.memory,
        )

    # A case the judge could not score (its run failed, or the judge did) counts as 0.
    scores = [c.accuracy.score or 0 for c in cases if c.accuracy is not None]
    accuracy = sum(scores) / len(scores) if scores else None
    checked = [c for c in cases if c.reliability is not None]
    reliability = (
        sum(1 for c in checked if c.reliability and c.reliability.passed) / len(checked)
        if checked
        else None
    )
    pass_rate = sum(1 for c in cases if c.passed) / len(cases)
    values: Mapping[str, float | None] = {
        "accuracy": accuracy,
        "reliability": reliability,
        "pass_rate": pass_rate,
        "latency_p95": performance.latency.p95 if performance else None,
        "memory_mb": performance.memory_peak_mb if performance else None,
    }
    checks: list[ThresholdCheck] = []
    for name, threshold in suite.thresholds.model_dump().items():
        if threshold is None:
            continue
        value = values[name]
        upper_bound = name in {"latency_p95", "memory_mb"}
        ok = value is not None and (value <= threshold if upper_bound else value >= threshold)
        checks.append(ThresholdCheck(name=name, threshold=threshold, value=value, passed=ok))
    return EvalReport(
        id=report_id,
        suite=suite.name,
        agent=agent_name or getattr(target, "name", None),
        started_at=started,
        finished_at=datetime.now(UTC),
        cases=cases,
        accuracy=accuracy,
        reliability=reliability,
        pass_rate=pass_rate,
        performance=performance,
        thresholds=checks,
        passed=all(check.passed for check in checks),
        usage=usage,
        judge_usage=judge_usage,
    )


def _judge(judge: Judge | ChatModel | str | None) -> Judge | None:
    if judge is None or isinstance(judge, Judge):
        return judge
    return Judge(judge)


async def _run_case(
    case: EvalCase,
    suite: EvalSuite,
    judge: Judge | None,
    run: Callable[[str], Awaitable[RunResult[Any]]],
) -> tuple[CaseResult, Usage, Usage]:
    try:
        result: RunResult[Any] = await run(case.input)
    except Exception as exc:  # a target that raises fails its case, not the suite run
        return (
            CaseResult(
                id=case.id, input=case.input, status="failed", error=_describe(exc), passed=False
            ),
            Usage(),
            Usage(),
        )
    completed = result.status is RunStatus.COMPLETED
    text = output_text(result.output)
    passed = completed
    accuracy = None
    judge_usage = Usage()
    if case.expected is not None and judge is not None:
        if completed:
            accuracy, judge_usage = await judge.score(
                question=case.input,
                expected=case.expected,
                answer=text or "",
                rubric=case.rubric or suite.rubric,
            )
        else:
            accuracy = JudgeResult(error=f"not judged: the run is {result.status}")
        passed = passed and accuracy.score is not None and accuracy.score >= suite.pass_score
    reliability = None
    if case.tool_calls is not None:
        reliability = check_tool_calls(
            case.tool_calls,
            result.tool_calls,
            ordered=case.ordered,
            forbid_other_tools=case.forbid_other_tools,
        )
        passed = passed and reliability.passed
    return (
        CaseResult(
            id=case.id,
            input=case.input,
            output=text,
            status=str(result.status),
            run_id=result.run_id,
            error=result.error.message if result.error else None,
            duration=result.duration,
            accuracy=accuracy,
            reliability=reliability,
            passed=passed,
        ),
        result.usage,
        judge_usage,
    )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
