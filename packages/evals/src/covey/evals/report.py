"""What an eval run found: per-case results, aggregates, performance and threshold checks.

Plain pydantic models, so a report is JSON for the API, a stored record and the CLI's
`--json`, and reads back identically.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from covey.evals.judge import JudgeResult
from covey.evals.reliability import ReliabilityResult
from covey.spec.usage import Usage

__all__ = [
    "CaseResult",
    "EvalProgress",
    "EvalReport",
    "EvalStatus",
    "LatencyStats",
    "PerformanceStats",
    "ThresholdCheck",
]

EvalStatus = Literal["running", "completed", "failed", "cancelled"]
"""Where an eval stands: `running` until it ends `completed` (every case ran; `passed` says
whether the thresholds held), `failed` (the suite itself could not run, or its server stopped:
`error` says why) or `cancelled`."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CaseResult(_Model):
    """One case's run and its checks."""

    id: str
    input: str
    output: str | None = None
    """The run's output as text (structured output as JSON)."""
    status: str
    run_id: str | None = None
    error: str | None = None
    duration: float | None = None
    accuracy: JudgeResult | None = None
    reliability: ReliabilityResult | None = None
    passed: bool
    """The run completed and every check the case asks for passed."""


class LatencyStats(_Model):
    """Seconds per run."""

    mean: float
    p50: float
    p95: float
    min: float
    max: float


class PerformanceStats(_Model):
    """Measured runs (after the warm-up): latency and peak Python memory per run."""

    runs: int
    failed_runs: int = 0
    latency: LatencyStats
    memory_peak_mb: float | None = None
    """The largest peak of traced Python allocations of one run, in MiB (`tracemalloc`: what
    Python allocated, not the process's RSS)."""
    memory_mean_mb: float | None = None


class ThresholdCheck(_Model):
    """One threshold of the suite against the value reached."""

    name: str
    threshold: float
    value: float | None
    """`None` when nothing was measured for it (which fails the check)."""
    passed: bool


class EvalProgress(_Model):
    """Cases finished out of the suite's cases (performance runs come after the last case)."""

    done: int
    total: int


class EvalReport(_Model):
    """The outcome of a suite against one target, or how far it got while it runs.

    A running report (served evals run in the background) has the cases finished so far,
    `progress`, and `heartbeat_at`: the worker running it renews that while it runs, so a
    report whose worker died can be told from one still running elsewhere.
    """

    id: str
    suite: str
    agent: str | None = None
    started_at: datetime
    finished_at: datetime | None = None
    """`None` while the eval runs."""
    status: EvalStatus = "completed"
    progress: EvalProgress | None = None
    error: str | None = None
    """Why a `failed` eval failed (not set for a completed eval whose thresholds failed)."""
    heartbeat_at: datetime | None = None
    """When the worker running the eval last said it still runs (running reports only)."""
    cancel_requested: bool = False
    """Someone asked, through the store, that the worker running the eval stop it."""
    cases: list[CaseResult]
    accuracy: float | None = None
    """Mean judge score (0-10) over the judged cases."""
    reliability: float | None = None
    """Share of the cases with expected tool calls whose calls all matched."""
    pass_rate: float
    performance: PerformanceStats | None = None
    thresholds: list[ThresholdCheck] = Field(default_factory=list[ThresholdCheck])
    passed: bool
    """Every threshold held. `covey eval` exits 1 when this is false."""
    usage: Usage = Field(default_factory=Usage)
    """Tokens of the target's case runs."""
    judge_usage: Usage = Field(default_factory=Usage)
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])

    def summary(self) -> str:
        """A few lines for a terminal or a CI log."""
        if self.status != "completed":
            lines = [f"suite {self.suite}: {self.status.upper()}"]
            if self.error:
                lines.append(f"  {self.error}")
        else:
            lines = [f"suite {self.suite}: {'PASSED' if self.passed else 'FAILED'}"]
        lines.append(f"  cases: {sum(c.passed for c in self.cases)}/{len(self.cases)} passed")
        for check in self.thresholds:
            value = "n/a" if check.value is None else f"{check.value:.3g}"
            mark = "ok" if check.passed else "FAIL"
            lines.append(f"  {check.name}: {value} (threshold {check.threshold:g}) {mark}")
        for case in self.cases:
            if not case.passed:
                why = case.error or _why(case)
                lines.append(f"  case {case.id} failed: {why}")
        return "\n".join(lines)


def _why(case: CaseResult) -> str:
    reasons: list[str] = []
    if case.status != "completed":
        reasons.append(f"run {case.status}")
    if case.accuracy is not None:
        if case.accuracy.error:
            reasons.append(f"judge failed: {case.accuracy.error}")
        else:
            reasons.append(f"score {case.accuracy.score}: {case.accuracy.reason}")
    if case.reliability is not None and not case.reliability.passed:
        missing = ", ".join(m.name for m in case.reliability.missing)
        if missing:
            reasons.append(f"missing tool calls: {missing}")
        if case.reliability.unexpected:
            reasons.append(f"other tool calls: {', '.join(case.reliability.unexpected)}")
    return "; ".join(reasons) or "failed"
