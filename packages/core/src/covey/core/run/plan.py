"""`RunPlan`: what the engine runs, compiled from a definition (an agent today; teams and
workflows build plans too). The engine knows plans, never the definitions behind them."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from covey.core.instructions import Instructions, render_instructions
from covey.core.limits import UsageLimits

if TYPE_CHECKING:
    from covey.core.knowledge import KnowledgePlan
    from covey.core.output import OutputModeChoice, OutputSpec
    from covey.core.retry import RetryPolicy
    from covey.core.summaries import SessionSummary
    from covey.core.tool_calls import ToolErrorPolicy, ToolHook
    from covey.spec import ChatModel, ModelSettings, RunContext, ToolChoice, Toolset
    from covey.spec.learning import Learner
    from covey.spec.store import Run

__all__ = ["Hook", "InstructionsPlan", "PausedRuns", "RunPlan"]

Hook = Callable[["RunContext[Any]", Any], Any | Awaitable[Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class InstructionsPlan:
    """How the system prompt of a run is rendered."""

    instructions: Instructions = None
    description: str | None = None
    expected_output: str | None = None
    additional_context: str | None = None
    add_datetime: bool = False
    markdown: bool = False

    async def render(self, ctx: RunContext[Any], output_instructions: str | None) -> str:
        """The system prompt for `ctx`, with the output mode's instructions appended."""
        return await render_instructions(
            self.instructions,
            ctx,
            description=self.description,
            expected_output=self.expected_output,
            additional_context=self.additional_context,
            add_datetime=self.add_datetime,
            markdown=self.markdown,
            output_instructions=output_instructions,
        )


class PausedRuns:
    """Paused runs kept in this process when there is no store: the `limit` most recent."""

    __slots__ = ("_runs", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._runs: OrderedDict[str, Run] = OrderedDict()

    def keep(self, run: Run) -> None:
        """Keep `run`, forgetting the oldest kept run past the limit."""
        self._runs[run.id] = run
        self._runs.move_to_end(run.id)
        while len(self._runs) > self.limit:
            self._runs.popitem(last=False)

    def get(self, run_id: str) -> Run | None:
        """The kept run, if it is still kept."""
        return self._runs.get(run_id)

    def pop(self, run_id: str) -> Run | None:
        """Forget the run and return it, if it was kept."""
        return self._runs.pop(run_id, None)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunPlan:
    """Everything the engine needs to run one definition; immutable and shared by runs."""

    name: str | None
    model: ChatModel
    toolsets: tuple[Toolset, ...] = ()
    output: OutputSpec | None = None
    """The structured output, or `None` for text."""
    output_mode: OutputModeChoice = "auto"
    output_retries: int = 1
    output_validators: Sequence[Hook] = ()
    instructions: InstructionsPlan = field(default_factory=InstructionsPlan)
    knowledge: KnowledgePlan | None = None
    """Knowledge searched with the user's input and put in the instructions (`context` mode;
    in `tool` mode the search tool is one of `toolsets`)."""
    tool_retries: int = 1
    tool_timeout: float | None = 60.0
    tool_errors: ToolErrorPolicy = "return"
    tool_choice: ToolChoice = "auto"
    tool_hooks: Sequence[ToolHook] = ()
    model_settings: ModelSettings | None = None
    usage_limits: UsageLimits = field(default_factory=UsageLimits)
    retry: RetryPolicy | None = None
    history_tokens: int | None = 8000
    tool_result_chars: int | None = 2000
    """Earlier runs' tool results longer than this are sent cut, with a marker (`None`: whole)."""
    session_summary: SessionSummary | None = None
    """The rolling session summary sent before the runs it does not cover (its updater is one
    of `learners`)."""
    pre_hooks: Sequence[Hook] = ()
    post_hooks: Sequence[Hook] = ()
    paused_runs: PausedRuns | None = None
    """Where paused runs are kept when the run has no store (`None`: nowhere)."""
    learners: tuple[Learner, ...] = ()
    """What learns from the runs: their `context` goes into the system prompt, their `learn`
    reads each completed run (their tools, if any, are among `toolsets`)."""
    relay_events: bool = False
    """The tools start child runs whose events stream through this run's (a team's leader):
    tool batches run beside a relay channel (`run/relay.py`)."""
