"""Eval suites and their cases, read from YAML or JSON.

A suite file is data a CI job checks in next to the agent. It is validated strictly (unknown
keys are errors: a typo such as `tool_call:` must not silently turn a check off) and read with
`yaml.safe_load`, which builds plain data only (no Python objects from tags).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from covey.spec.errors import CoveyError

__all__ = [
    "DEFAULT_RUBRIC",
    "EvalCase",
    "EvalSuite",
    "ExpectedToolCall",
    "Performance",
    "SuiteError",
    "Thresholds",
    "load_suite",
    "parse_suite",
]


class SuiteError(CoveyError, ValueError):
    """A suite file or body that cannot be read or is not a valid suite."""


MAX_SUITE_BYTES = 2_000_000
"""A suite file larger than this is refused before it is parsed."""

DEFAULT_RUBRIC = (
    "Score 10 when the answer states the same facts as the expected answer (wording may "
    "differ), lower for each missing or wrong fact, and 0 when it contradicts it or does not "
    "answer."
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpectedToolCall(_Strict):
    """A tool call the run must make.

    `args` is matched as a subset: every key given must be present with an equal value (nested
    dicts are matched the same way); keys the model adds are allowed unless `exact_args`.
    """

    name: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict[str, Any])
    exact_args: bool = False


class EvalCase(_Strict):
    """One input and what to check about the run it starts."""

    id: str = Field(min_length=1, max_length=200)
    input: str = Field(min_length=1)
    expected: str | None = None
    """The expected answer; with it the case is scored by the judge (accuracy)."""
    rubric: str | None = None
    """How the judge scores this case (default: the suite's rubric)."""
    tool_calls: list[ExpectedToolCall] | None = None
    """The tool calls the run must make (reliability); `[]` means no tool call at all."""
    ordered: bool = False
    """The expected calls must happen in this order."""
    forbid_other_tools: bool = False
    """A call to a tool not listed fails the case."""


class Thresholds(_Strict):
    """What the suite must reach; `None` checks nothing. A failed threshold fails the suite
    (and `covey eval` exits 1); so does a threshold set on something the suite did not
    measure (say `latency_p95` without performance runs): a check that cannot run is not a
    pass."""

    accuracy: float | None = Field(default=None, ge=0, le=10)
    """The least mean judge score (0-10) over the cases with `expected`."""
    reliability: float | None = Field(default=None, ge=0, le=1)
    """The least share of the cases with `tool_calls` whose calls all matched."""
    pass_rate: float | None = Field(default=None, ge=0, le=1)
    """The least share of all cases that passed every check."""
    latency_p95: float | None = Field(default=None, gt=0)
    """The most seconds a run may take at the 95th percentile (performance runs)."""
    memory_mb: float | None = Field(default=None, gt=0)
    """The most MiB of Python allocations a run may peak at (performance runs)."""


class Performance(_Strict):
    """Repeat each case's input `runs` times after `warmup` unmeasured runs."""

    runs: int = Field(default=0, ge=0, le=1000)
    warmup: int = Field(default=1, ge=0, le=100)
    memory: bool = True
    """Trace Python allocations with `tracemalloc` (slows the measured runs)."""


class EvalSuite(_Strict):
    """A named set of cases, the judge's rubric, thresholds and performance settings."""

    name: str = Field(min_length=1, max_length=200)
    agent: str | None = None
    """The agent (or team) to evaluate, by its name in the runtime (`POST /v1/evals`) or a
    `module:attribute` reference (`covey eval`); a command-line `--agent` wins."""
    judge: str | None = None
    """The judge model (`provider:model`) for accuracy; a command-line `--judge` wins."""
    rubric: str = DEFAULT_RUBRIC
    pass_score: float = Field(default=7.0, ge=0, le=10)
    """A case's judge score must reach this for the case to pass."""
    thresholds: Thresholds = Field(default_factory=Thresholds)
    performance: Performance = Field(default_factory=Performance)
    cases: list[EvalCase] = Field(min_length=1, max_length=10_000)

    @model_validator(mode="after")
    def _unique_ids(self) -> EvalSuite:
        seen: set[str] = set()
        for case in self.cases:
            if case.id in seen:
                raise ValueError(f"case id {case.id!r} appears twice")
            seen.add(case.id)
        return self


def parse_suite(data: Any) -> EvalSuite:
    """Validate already-parsed data (a dict from JSON or YAML) as a suite.

    Raises:
        SuiteError: the data is not a valid suite; the message names the fields.
    """
    try:
        return EvalSuite.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'suite'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise SuiteError(f"invalid eval suite: {problems}") from None


def load_suite(path: str | Path) -> EvalSuite:
    """Read a suite from a `.yaml`/`.yml` or `.json` file.

    Raises:
        SuiteError: the file is missing, too large, not valid YAML/JSON, or not a suite.
    """
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_SUITE_BYTES:
            raise SuiteError(f"eval suite {file} is {size} bytes; the limit is {MAX_SUITE_BYTES}")
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"cannot read eval suite {file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SuiteError(f"eval suite {file} is not UTF-8 text") from None
    if file.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SuiteError(f"eval suite {file} is not valid JSON: {exc}") from None
    elif file.suffix.lower() in {".yaml", ".yml"}:
        import yaml  # lazily: only suite files need it

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SuiteError(f"eval suite {file} is not valid YAML: {exc}") from None
    else:
        raise SuiteError(f"eval suite {file}: expected a .yaml, .yml or .json file")
    return parse_suite(data)
