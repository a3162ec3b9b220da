"""`ReasoningToolset`: `think` and `analyze`, a scratchpad the model reasons in between calls.

Why tools and not a prompt alone: a model that must call `think` before acting writes its plan
down where the run keeps it. Each call's arguments are a `ToolCallPart` in the run's messages and
a `ToolCallRecord` in `RunResult.tool_calls`, both saved with the run by any store, so the
reasoning can be read back afterwards (`reasoning_steps`) without a second copy in the
session state. The tools answer with a short acknowledgement only: echoing the thought back would
send the same tokens to the model twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, get_args

from pydantic import Field

from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.spec.function_toolset import FunctionToolset, Tool
from covey.spec.tools import ToolDefinition, ToolResult, Toolset

if TYPE_CHECKING:
    from covey.spec.runs import RunResult
    from covey.spec.store import Run

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "MAX_TEXT",
    "NextAction",
    "ReasoningStep",
    "ReasoningToolset",
    "from_reference",
    "reasoning_steps",
]

NextAction = Literal["continue", "validate", "final_answer"]
"""What the model means to do after an `analyze`: take another step, check the result, or
answer."""

_NEXT_ACTIONS: Final = get_args(NextAction)

MAX_TEXT = 20_000
"""Characters a thought, a result or an analysis may have: a scratchpad entry, not a document.
Longer arguments go back to the model as a retry."""

DEFAULT_INSTRUCTIONS = """\
You have a `think` tool and an `analyze` tool to reason step by step.
- Before you act or answer, call `think` with your plan: what the question asks, what you know,
  which step comes next. It is a scratchpad: nobody else reads it and it changes nothing.
- After each tool result or calculation, call `analyze` with the result, what it means, and a
  next_action: "continue" (another step is needed), "validate" (check the result another way
  first) or "final_answer" (you are sure; answer now).
- Keep each thought short and concrete; do not repeat earlier thoughts."""
"""The text `ReasoningToolset.instructions` gives when no other is passed."""

_THINK_ONLY = """\
You have a `think` tool. Before you act or answer, call it with your plan: what the question
asks, what you know, which step comes next. It is a scratchpad: nobody else reads it and it
changes nothing. Keep each thought short and concrete."""

_ANALYZE_ONLY = """\
You have an `analyze` tool. After each tool result or calculation, call it with the result, what
it means, and a next_action: "continue" (another step is needed), "validate" (check the result
another way first) or "final_answer" (you are sure; answer now)."""

_AFTER_ANALYSIS: Final[dict[str, str]] = {
    "continue": "Analysis recorded. Continue with the next step.",
    "validate": (
        "Analysis recorded. Validate the result before you answer: check it another way "
        "(another tool call, a second calculation), then analyze again."
    ),
    "final_answer": "Analysis recorded. Give your final answer now.",
}

Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


def think(thought: Text) -> str:
    """Think before acting: write down a plan, a hypothesis or what is still unknown.

    A private scratchpad: it fetches nothing and changes nothing, it only records the thought
    in the run. Use it before calling other tools and before answering.

    Args:
        thought: The reasoning: what the question asks, what is known, the next step.
    """
    return "Thought recorded. Continue."


def analyze(result: Text, analysis: Text, next_action: NextAction = "continue") -> str:
    """Analyse a result (of a tool call or a step) and decide what to do next.

    Args:
        result: The result to assess, briefly (what came back).
        analysis: What the result means: is it right, complete, enough to answer?
        next_action: "continue" to take another step, "validate" to check the result another
            way first, "final_answer" to answer now.
    """
    return _AFTER_ANALYSIS[next_action]


# `ReasoningToolset.__init__` has parameters named like the tools; these names reach the functions.
_think_tool = think
_analyze_tool = analyze


@dataclass(frozen=True, slots=True)
class ReasoningStep:
    """One `think` or `analyze` call of a run, as `reasoning_steps` reads it back.

    Attributes:
        kind: `"think"` or `"analyze"`.
        text: The thought (`think`) or the analysis (`analyze`).
        result: The result analysed (`analyze` only).
        next_action: What the model chose to do next (`analyze` only).
        tool_call_id: The call's id in the run, to find it among the messages.
    """

    kind: Literal["think", "analyze"]
    text: str
    result: str | None = None
    next_action: NextAction | None = None
    tool_call_id: str | None = None


class ReasoningToolset(Toolset):
    """`think(thought)` and `analyze(result, analysis, next_action)` for an agent.

    The reasoning is kept in the run (its tool calls), not in session state; read it back with
    `reasoning_steps(result)`. Add `instructions` to the agent's instructions so the model uses
    the tools: models call them far more reliably when told when to.

    Args:
        think: Offer the `think` tool.
        analyze: Offer the `analyze` tool.
        instructions: The text `instructions` returns; default: how to use the tools offered.
        id: The toolset's name, the prefix of its tools when their names clash with another
            toolset's.

    Raises:
        ConfigurationError: both tools are turned off.

    Example:
        ```python
        from covey.tools.reasoning import ReasoningToolset

        reasoning = ReasoningToolset()
        # Agent(model=..., tools=[reasoning], instructions=[reasoning.instructions])
        ```
    """

    def __init__(
        self,
        *,
        think: bool = True,
        analyze: bool = True,
        instructions: str | None = None,
        id: str = "reasoning",
    ) -> None:
        if not (think or analyze):
            raise ConfigurationError(
                "ReasoningToolset(think=False, analyze=False) offers no tools; keep at least "
                "one of them, or leave the toolset out."
            )
        self.id = id
        tools: list[Tool[..., Any]] = []
        if think:
            tools.append(Tool(_think_tool))
        if analyze:
            tools.append(Tool(_analyze_tool))
        self._tools = FunctionToolset(tools, id=id)
        if instructions is None:
            instructions = (
                DEFAULT_INSTRUCTIONS
                if think and analyze
                else _THINK_ONLY
                if think
                else _ANALYZE_ONLY
            )
        self._instructions = instructions

    @property
    def instructions(self) -> str:
        """Text for the agent's instructions saying when to think and analyse."""
        return self._instructions

    @property
    def tool_names(self) -> tuple[str, ...]:
        """The names of the tools offered, in order."""
        return tuple(self._tools.tools)

    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        """`think` and/or `analyze`, as configured."""
        return await self._tools.list_tools(ctx)

    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        """Validate the arguments and acknowledge the step.

        Raises:
            ToolNotFoundError: `name` is not one of the tools offered.
            ToolArgumentsError: an argument is missing, empty, too long or of the wrong type.
        """
        return await self._tools.call_tool(name, args, ctx)

    def __repr__(self) -> str:
        return f"ReasoningToolset(id={self.id!r}, tools={list(self.tool_names)})"


def reasoning_steps(run: RunResult[Any] | Run, *, prefix: str | None = None) -> list[ReasoningStep]:
    """The `think` and `analyze` steps of a run, in the order the model took them.

    Works on a `RunResult` and on a stored `Run` (`await store.get_run(scope, run_id)`): the
    steps are read from the run's tool calls. Calls that failed (bad arguments) are left out.

    Args:
        run: The run.
        prefix: The prefix the tools were shown with when their names clashed (the toolset's
            `id`, e.g. `"reasoning"` for `reasoning_think`); `None` reads the plain names.
    """
    think_name, analyze_name = (
        ("think", "analyze") if prefix is None else (f"{prefix}_think", f"{prefix}_analyze")
    )
    steps: list[ReasoningStep] = []
    for call in run.tool_calls:
        if call.error is not None:
            continue
        args = call.args
        if call.tool_name == think_name:
            thought = args.get("thought")
            if isinstance(thought, str):
                steps.append(ReasoningStep("think", thought, tool_call_id=call.tool_call_id))
        elif call.tool_name == analyze_name:
            analysis, result = args.get("analysis"), args.get("result")
            action = args.get("next_action", "continue")
            if isinstance(analysis, str) and isinstance(result, str) and action in _NEXT_ACTIONS:
                steps.append(
                    ReasoningStep(
                        "analyze",
                        analysis,
                        result=result,
                        next_action=action,
                        tool_call_id=call.tool_call_id,
                    )
                )
    return steps


def from_reference(arg: str | None = None) -> ReasoningToolset:
    """The `reasoning` tool reference (`Agent(tools=["reasoning"])`): both tools, defaults.

    Raises:
        ConfigurationError: an argument was given (`"reasoning:x"`); the toolset takes none.
    """
    if arg is not None:
        raise ConfigurationError(
            f"The tool reference 'reasoning' takes no argument, got 'reasoning:{arg}'. Write "
            "'reasoning', or build ReasoningToolset(...) in code to configure it."
        )
    return ReasoningToolset()
