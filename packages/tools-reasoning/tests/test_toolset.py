"""`ReasoningToolset` passes `ToolsetSuite`, validates what the model sends, and resolves by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from covey.conformance import ToolsetSuite
from covey.spec import RunContext, ToolArgumentsError
from covey.spec.errors import ConfigurationError, ToolNotFoundError
from covey.spec.plugins import describe, load, resolve_toolset
from covey.tools.reasoning import (
    DEFAULT_INSTRUCTIONS,
    MAX_TEXT,
    ReasoningToolset,
    from_reference,
)

CTX: RunContext[Any] = RunContext(run_id="r1")


class TestReasoningToolset(ToolsetSuite):
    @pytest.fixture
    def toolset(self) -> ReasoningToolset:
        return ReasoningToolset()

    @pytest.fixture
    def toolset_calls(self) -> Mapping[str, dict[str, Any]]:
        return {
            "think": {"thought": "The user wants a sum; add first, then check."},
            "analyze": {"result": "5", "analysis": "2 + 3 is 5.", "next_action": "validate"},
        }


class TestThinkOnly(ToolsetSuite):
    @pytest.fixture
    def toolset(self) -> ReasoningToolset:
        return ReasoningToolset(analyze=False)


class TestAnalyzeOnly(ToolsetSuite):
    @pytest.fixture
    def toolset(self) -> ReasoningToolset:
        return ReasoningToolset(think=False)


async def names(toolset: ReasoningToolset) -> list[str]:
    return [t.name for t in await toolset.list_tools(CTX)]


async def test_the_model_sees_both_tools_with_their_arguments_described() -> None:
    tools = {t.name: t for t in await ReasoningToolset().list_tools(CTX)}
    assert list(tools) == ["think", "analyze"]
    think = tools["think"].parameters_json_schema
    assert think["required"] == ["thought"]
    assert think["properties"]["thought"]["maxLength"] == MAX_TEXT
    assert "scratchpad" in tools["think"].description
    analyze = tools["analyze"].parameters_json_schema
    assert analyze["required"] == ["result", "analysis"]
    assert analyze["properties"]["next_action"]["enum"] == ["continue", "validate", "final_answer"]
    assert "final_answer" in analyze["properties"]["next_action"]["description"]


@pytest.mark.parametrize(
    ("next_action", "says"),
    [
        ("continue", "Continue with the next step."),
        ("validate", "Validate the result before you answer"),
        ("final_answer", "Give your final answer now."),
    ],
)
async def test_analyze_answers_with_what_to_do_next(next_action: str, says: str) -> None:
    result = await ReasoningToolset().call_tool(
        "analyze", {"result": "r", "analysis": "a", "next_action": next_action}, CTX
    )
    assert not result.is_error
    assert says in result.content


async def test_think_acknowledges_without_echoing_the_thought() -> None:
    thought = "secret plan: " + "x" * 500
    result = await ReasoningToolset().call_tool("think", {"thought": thought}, CTX)
    assert result.content == "Thought recorded. Continue."


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("think", {"thought": ""}),
        ("think", {"thought": "x" * (MAX_TEXT + 1)}),
        ("think", {}),
        ("think", {"thought": ["a", "list"]}),
        ("analyze", {"result": "r", "analysis": "a", "next_action": "reset"}),
        ("analyze", {"result": "r", "analysis": "a", "next_action": "rm -rf /"}),
        ("analyze", {"result": "", "analysis": "a"}),
        ("analyze", {"analysis": "a"}),
    ],
)
async def test_bad_arguments_go_back_to_the_model_as_a_retry(
    tool: str, args: dict[str, Any]
) -> None:
    with pytest.raises(ToolArgumentsError):
        await ReasoningToolset().call_tool(tool, args, CTX)


async def test_a_turned_off_tool_is_neither_listed_nor_callable() -> None:
    think_only = ReasoningToolset(analyze=False)
    assert await names(think_only) == ["think"]
    with pytest.raises(ToolNotFoundError):
        await think_only.call_tool("analyze", {"result": "r", "analysis": "a"}, CTX)
    assert await names(ReasoningToolset(think=False)) == ["analyze"]


def test_no_tools_at_all_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="offers no tools"):
        ReasoningToolset(think=False, analyze=False)


def test_instructions_speak_of_the_tools_offered_and_can_be_replaced() -> None:
    assert ReasoningToolset().instructions == DEFAULT_INSTRUCTIONS
    think_only = ReasoningToolset(analyze=False).instructions
    assert "`think`" in think_only
    assert "analyze" not in think_only
    analyze_only = ReasoningToolset(think=False).instructions
    assert "`analyze`" in analyze_only
    assert "`think`" not in analyze_only
    assert ReasoningToolset(instructions="Think first.").instructions == "Think first."
    # Agent instructions fill `{name}` placeholders from state: the default text has none.
    assert "{" not in DEFAULT_INSTRUCTIONS


def test_id_defaults_to_the_entry_point_name_and_shows_in_the_repr() -> None:
    toolset = ReasoningToolset()
    assert toolset.id == "reasoning"
    assert ReasoningToolset(id="r2").id == "r2"
    assert repr(toolset) == "ReasoningToolset(id='reasoning', tools=['think', 'analyze'])"


async def test_from_reference_gives_both_tools_and_refuses_an_argument() -> None:
    toolset = from_reference(None)
    assert await names(toolset) == ["think", "analyze"]
    with pytest.raises(ConfigurationError, match="takes no argument"):
        from_reference("deep")


async def test_the_entry_point_is_registered_in_covey_tools() -> None:
    infos = [i for i in describe()["tools"] if i.name == "reasoning"]
    assert [(i.distribution, i.value) for i in infos] == [
        ("covey-tools-reasoning", "covey.tools.reasoning:from_reference")
    ]
    factory = load("tools", "reasoning")
    toolset = factory(None)
    assert isinstance(toolset, ReasoningToolset)
    assert await names(toolset) == ["think", "analyze"]


@pytest.mark.parametrize("reference", ["reasoning:deep", "reasoning:"])
def test_resolve_toolset_by_reference(reference: str) -> None:
    assert isinstance(resolve_toolset("reasoning"), ReasoningToolset)
    with pytest.raises(ConfigurationError, match="takes no argument"):
        resolve_toolset(reference)
