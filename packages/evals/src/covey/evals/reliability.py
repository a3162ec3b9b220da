"""Reliability: did the run make the tool calls a case expects, with the expected arguments?

Pure functions over `RunResult.tool_calls`, so the check is the same for a run that just ended
and one read back from the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field

from covey.evals.cases import ExpectedToolCall
from covey.spec.runs import ToolCallRecord

__all__ = ["ReliabilityResult", "args_match", "check_tool_calls"]


class ReliabilityResult(BaseModel):
    """What matched and what did not."""

    model_config = ConfigDict(extra="forbid")

    passed: bool
    missing: list[ExpectedToolCall] = Field(default_factory=list[ExpectedToolCall])
    """Expected calls no actual call matched."""
    unexpected: list[str] = Field(default_factory=list[str])
    """Tools called that the case did not list (a failure with `forbid_other_tools`)."""
    actual: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]])
    """The calls the run made, as `{"name", "args"}`."""


def args_match(expected: Any, actual: Any, *, exact: bool = False) -> bool:
    """Whether `actual` has every key of `expected` with an equal value (dicts recursively;
    lists element by element). With `exact`, dicts must have the same keys too."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        exp = cast("dict[Any, Any]", expected)
        act = cast("dict[Any, Any]", actual)
        if exact and set(exp) != set(act):
            return False
        return all(
            key in act and args_match(value, act[key], exact=exact) for key, value in exp.items()
        )
    if isinstance(expected, list) and isinstance(actual, list):
        exp_list = cast("list[Any]", expected)
        act_list = cast("list[Any]", actual)
        return len(exp_list) == len(act_list) and all(
            args_match(e, a, exact=exact) for e, a in zip(exp_list, act_list, strict=True)
        )
    # bool is an int in Python; a model sending `1` for `true` did not send what was expected.
    if isinstance(expected, bool) != isinstance(actual, bool):
        return False
    return bool(expected == actual)


def check_tool_calls(
    expected: Sequence[ExpectedToolCall],
    actual: Sequence[ToolCallRecord],
    *,
    ordered: bool = False,
    forbid_other_tools: bool = False,
) -> ReliabilityResult:
    """Match each expected call to a distinct actual call.

    `expected=[]` passes only when no tool was called. With `ordered`, the matches must follow
    the expected order; a call may match one expectation only, so "search twice" needs two
    calls.
    """
    calls = [(record.tool_name, record.args) for record in actual]
    used: set[int] = set()
    missing: list[ExpectedToolCall] = []
    start = 0
    for want in expected:
        found = None
        for index in range(start if ordered else 0, len(calls)):
            name, args = calls[index]
            if index in used or name != want.name:
                continue
            if args_match(want.args, args, exact=want.exact_args):
                found = index
                break
        if found is None:
            missing.append(want)
        else:
            used.add(found)
            if ordered:
                start = found + 1
    listed = {want.name for want in expected}
    unexpected = [name for name, _ in calls if name not in listed]
    passed = not missing
    if not expected and calls:
        passed = False
    if forbid_other_tools and unexpected:
        passed = False
    return ReliabilityResult(
        passed=passed,
        missing=missing,
        unexpected=unexpected,
        actual=[{"name": name, "args": args} for name, args in calls],
    )
