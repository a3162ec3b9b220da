"""Evals for Covey agents and teams: accuracy, reliability and performance, in CI.

- **accuracy**: a judge model scores each answer against the expected one with a rubric
  (`Judge`, an integer 0-10 per case);
- **reliability**: the run made the expected tool calls, with the expected arguments
  (`check_tool_calls`);
- **performance**: latency and peak Python memory over N runs (`Performance`).

Cases come from a YAML or JSON file (`load_suite`); `run_suite` runs them and returns an
`EvalReport` whose `passed` says whether every threshold held; `save_report`/`list_reports`
keep reports in any Covey store. `covey eval` and `POST /v1/evals` (covey-runtime) are built
on these.
"""

from covey.evals.cases import (
    DEFAULT_RUBRIC,
    EvalCase,
    EvalSuite,
    ExpectedToolCall,
    Performance,
    SuiteError,
    Thresholds,
    load_suite,
    parse_suite,
)
from covey.evals.judge import Judge, JudgeResult, Verdict
from covey.evals.reliability import ReliabilityResult, args_match, check_tool_calls
from covey.evals.report import (
    CaseResult,
    EvalProgress,
    EvalReport,
    EvalStatus,
    LatencyStats,
    PerformanceStats,
    ThresholdCheck,
)
from covey.evals.runner import CaseRunner, run_suite
from covey.evals.storage import (
    EVALS_NAMESPACE,
    get_report,
    list_reports,
    replace_report,
    save_report,
)

__all__ = [
    "DEFAULT_RUBRIC",
    "EVALS_NAMESPACE",
    "CaseResult",
    "CaseRunner",
    "EvalCase",
    "EvalProgress",
    "EvalReport",
    "EvalStatus",
    "EvalSuite",
    "ExpectedToolCall",
    "Judge",
    "JudgeResult",
    "LatencyStats",
    "Performance",
    "PerformanceStats",
    "ReliabilityResult",
    "SuiteError",
    "ThresholdCheck",
    "Thresholds",
    "Verdict",
    "args_match",
    "check_tool_calls",
    "get_report",
    "list_reports",
    "load_suite",
    "parse_suite",
    "replace_report",
    "run_suite",
    "save_report",
]
