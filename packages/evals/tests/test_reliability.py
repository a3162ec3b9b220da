"""Matching expected tool calls against a run's calls."""

from __future__ import annotations

from typing import Any

from covey.evals import ExpectedToolCall, args_match, check_tool_calls
from covey.spec.runs import ToolCallRecord


def calls(*pairs: tuple[str, dict[str, Any]]) -> list[ToolCallRecord]:
    return [
        ToolCallRecord(tool_call_id=f"c{i}", tool_name=name, args=args)
        for i, (name, args) in enumerate(pairs)
    ]


def want(name: str, **args: Any) -> ExpectedToolCall:
    return ExpectedToolCall(name=name, args=args)


def test_arguments_match_as_a_subset_unless_exact() -> None:
    actual = calls(("search", {"query": "covey", "limit": 5}))
    assert check_tool_calls([want("search", query="covey")], actual).passed
    exact = ExpectedToolCall(name="search", args={"query": "covey"}, exact_args=True)
    assert not check_tool_calls([exact], actual).passed
    assert not check_tool_calls([want("search", query="Covey")], actual).passed


def test_nested_values_lists_and_types_are_compared_strictly() -> None:
    assert args_match({"a": {"b": [1, 2]}}, {"a": {"b": [1, 2], "c": 3}})
    assert not args_match({"a": {"b": [1, 2]}}, {"a": {"b": [2, 1]}})
    assert not args_match({"flag": True}, {"flag": 1})  # 1 is not true
    assert not args_match({"n": 1}, {"n": True})
    assert args_match({"n": 1}, {"n": 1.0})  # a number is a number


def test_each_actual_call_satisfies_one_expectation_only() -> None:
    actual = calls(("search", {"query": "a"}))
    result = check_tool_calls([want("search"), want("search")], actual)
    assert not result.passed and len(result.missing) == 1
    twice = calls(("search", {"query": "a"}), ("search", {"query": "b"}))
    assert check_tool_calls([want("search"), want("search")], twice).passed


def test_order_is_checked_when_asked() -> None:
    actual = calls(("fetch", {}), ("search", {}))
    expected = [want("search"), want("fetch")]
    assert check_tool_calls(expected, actual).passed
    result = check_tool_calls(expected, actual, ordered=True)
    assert not result.passed and [m.name for m in result.missing] == ["fetch"]


def test_other_tools_fail_only_when_forbidden() -> None:
    actual = calls(("search", {}), ("delete_everything", {}))
    assert check_tool_calls([want("search")], actual).passed
    result = check_tool_calls([want("search")], actual, forbid_other_tools=True)
    assert not result.passed and result.unexpected == ["delete_everything"]


def test_an_empty_expectation_means_no_tool_call() -> None:
    assert check_tool_calls([], []).passed
    assert not check_tool_calls([], calls(("search", {}))).passed
