"""`Agent`: an immutable definition that any number of concurrent runs share."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from covey.core.instructions import Instructions
from covey.core.knowledge import KnowledgeMode
from covey.core.limits import DEFAULT_USAGE_LIMITS, UsageLimits
from covey.core.output import OutputModeChoice, OutputSpec
from covey.core.retry import DEFAULT_RETRY, RetryPolicy
from covey.core.runnable import DepsT, OutputT, Runnable, resolve_model_once
from covey.core.tool_calls import ToolErrorPolicy, ToolHook
from covey.spec import (
    ChatModel,
    ModelSettings,
    RunContext,
    ToolChoice,
    Toolset,
)
from covey.spec.errors import ConfigurationError

if TYPE_CHECKING:
    from covey.core.knowledge import KnowledgePlan
    from covey.core.run.plan import PausedRuns, RunPlan
    from covey.core.summaries import SessionSummary
    from covey.spec.function_toolset import Tool
    from covey.spec.knowledge import KnowledgeBase
    from covey.spec.learning import Learner
    from covey.spec.store import Store

__all__ = ["Agent", "RunHook"]

RunHook = Callable[[RunContext[Any], Any], Any | Awaitable[Any]]
"""`hook(ctx, value)`, sync or async. Pre-run hooks get the input, post-run hooks the result,
output validators the output (and return it, possibly changed). Raising `GuardrailTripped` stops
the run; an output validator raising `ModelRetry` sends the model back to try again."""


class _AgentCache:
    """Work done once per agent on first use, never at construction."""

    __slots__ = ("knowledge", "learners", "model", "output_spec", "paused", "plan", "toolsets")

    def __init__(self) -> None:
        self.learners: tuple[Learner, ...] | None = None
        self.knowledge: KnowledgePlan | None = None
        self.model: ChatModel | None = None
        self.toolsets: tuple[Toolset, ...] | None = None
        self.output_spec: OutputSpec | None = None
        self.plan: RunPlan | None = None
        self.paused: PausedRuns | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Agent(Runnable[DepsT, OutputT]):
    """A model with instructions, tools and an output type.

    Construction does no I/O and builds no schema; tool schemas, the output schema and the model
    are built once, on first use, and cached. Per-run state lives in the run's `RunContext`, so
    one agent serves many users and sessions at once.

    Example:
        ```python
        agent = Agent(model=TestModel(), instructions="Be brief.", tools=[get_weather])
        result = await agent.run("Weather in Paris?")
        ```
    """

    model: ChatModel | str | None = None
    """A `ChatModel`, or a model string such as `"openai:gpt-4.1"` resolved through plugins."""
    name: str | None = None
    """The agent's id in the runtime's API and in stored runs."""
    instructions: Instructions = None
    description: str | None = None
    expected_output: str | None = None
    additional_context: str | None = None
    add_datetime: bool = False
    markdown: bool = False
    tools: Sequence[Callable[..., Any] | Tool[..., Any] | Toolset | str] = ()
    """Functions, `@tool` objects, `Toolset`s, or references to installed tool plugins:
    `"files"`, `"mcp:everything"`, `"sql:sqlite:///app.db"` (resolved on the first run through
    `covey.spec.plugins.resolve_toolset`; a missing plugin says what to install). One
    reference is one toolset per process: agents naming `"mcp:github"` share its connection."""
    knowledge: KnowledgeBase | Sequence[KnowledgeBase] | None = None
    """Knowledge bases to answer from (`covey.knowledge.Knowledge`, or anything with a `name`
    and an async `search`); searched in the run's tenant and user scope."""
    knowledge_mode: KnowledgeMode = "tool"
    """`tool`: the model gets a search tool and searches when it wants (agentic search).
    `context`: each run searches with the user's input and puts the passages in the
    instructions. Either way the passages given to the model are in `RunResult.references`."""
    knowledge_results: int = 5
    """Passages per search (per knowledge base in `context` mode)."""
    learning: Learner | Sequence[Learner] | None = None
    """What the agent learns from its runs: `covey.learn.MemoryManager` (user memories),
    `covey.learn.LearningMachine` (profiles, memories, entities, learned knowledge, decisions),
    or any `covey.spec.learning.Learner`. What they know goes into the system prompt; they learn
    from each completed run, in the background by default."""
    output_type: type[OutputT] | Any = str
    output_mode: OutputModeChoice = "auto"
    output_retries: int = 1
    output_validators: Sequence[RunHook] = ()
    tool_retries: int = 1
    tool_timeout: float | None = 60.0
    tool_errors: ToolErrorPolicy = "return"
    """`return`: a tool's exception goes back to the model as an error result. `raise`: it
    fails the run."""
    tool_choice: ToolChoice = "auto"
    model_settings: ModelSettings | None = None
    usage_limits: UsageLimits = DEFAULT_USAGE_LIMITS
    retry: RetryPolicy | None = DEFAULT_RETRY
    store: Store | None = None
    history_tokens: int | None = 8000
    """Token budget for earlier runs of the session loaded as history (`0`: none)."""
    tool_result_chars: int | None = 2000
    """In the history of earlier runs, a tool result longer than this many characters is cut
    to it with a marker naming the stored run that holds it whole (`None`: never cut). The
    stored runs and the current run's own messages keep every result whole."""
    session_summary: SessionSummary | None = None
    """A rolling summary of the session (`covey.core.SessionSummary`): sent in the system
    prompt instead of the runs it covers, updated after completed runs by a learner named
    `summary`. `None`: older runs past `history_tokens` are just not sent."""
    hooks: Sequence[ToolHook] = ()
    """Tool middleware, around every tool call."""
    pre_hooks: Sequence[RunHook] = ()
    post_hooks: Sequence[RunHook] = ()
    deps_type: type[DepsT] | Any = None
    DEFAULT_MAX_PAUSED_RUNS: ClassVar[int] = 100
    max_paused_runs: int = DEFAULT_MAX_PAUSED_RUNS
    """Without a store, the paused runs this agent keeps in memory for `resume`: the most
    recent ones, up to this many (older ones can no longer be resumed)."""
    _cache: _AgentCache = field(default_factory=_AgentCache, init=False, repr=False, compare=False)

    # --- lazily built, cached --------------------------------------------------------------------

    def resolved_model(self, override: ChatModel | str | None = None) -> ChatModel:
        """The model a run uses: `override`, else the agent's (model strings resolved once)."""
        return resolve_model_once(
            self.model,
            override,
            self._cache,
            lambda: (
                f"Agent {self.name or ''!r} has no model: pass model=... (a ChatModel or a "
                "string such as 'openai:gpt-4.1') to Agent() or to run()"
            ),
        )

    def toolsets(self) -> tuple[Toolset, ...]:
        """The agent's tools as toolsets; plain functions are gathered into one."""
        cached = self._cache.toolsets
        if cached is not None:
            return cached
        from covey.spec.function_toolset import FunctionToolset

        functions: list[Any] = []
        toolsets: list[Toolset] = []
        for item in self.tools:
            if isinstance(item, Toolset):
                toolsets.append(item)
            elif isinstance(item, str):
                toolsets.append(_referenced_toolset(item))
            elif callable(item):
                functions.append(item)
            else:
                raise ConfigurationError(
                    "Agent tools must be functions, @tool objects, Toolsets or tool plugin "
                    f"references like 'files', got {item!r}"
                )
        if functions:
            toolsets.insert(0, FunctionToolset(functions, id=self.name))
        knowledge = self.knowledge_plan()
        if knowledge is not None and knowledge.mode == "tool":
            toolsets.append(knowledge.toolset())
        for learner in self.learners():
            toolsets.extend(learner.toolsets())
        built = tuple(toolsets)
        self._cache.toolsets = built
        return built

    def knowledge_plan(self) -> KnowledgePlan | None:
        """How runs use `knowledge` (checked once), or `None` without knowledge."""
        cached = self._cache.knowledge
        if cached is None and self.knowledge is not None:
            from covey.core.knowledge import KnowledgePlan, knowledge_bases

            bases = knowledge_bases(self.knowledge)
            if bases:
                cached = KnowledgePlan(bases, self.knowledge_mode, self.knowledge_results)
                self._cache.knowledge = cached
        return cached

    def learners(self) -> tuple[Learner, ...]:
        """`learning` as a checked tuple of learners (checked once)."""
        cached = self._cache.learners
        if cached is None:
            from covey.spec.learning import learners

            cached = self._cache.learners = learners(self.learning)
        return cached

    def output_spec(self) -> OutputSpec:
        """The structured-output spec of `output_type`, built once."""
        cached = self._cache.output_spec
        if cached is None:
            cached = OutputSpec.build(self.output_type)
            self._cache.output_spec = cached
        return cached

    # --- running -----------------------------------------------------------------------------------

    def plan(self, model: ChatModel | str | None = None) -> RunPlan:
        """This agent compiled into the plan the run engine runs (cached for its own model)."""
        from covey.core.run.plan import InstructionsPlan, RunPlan

        cached = self._cache.plan
        if cached is not None and model is None:
            return cached
        if self.max_paused_runs < 1:
            raise ConfigurationError(
                f"Agent(max_paused_runs=...) must be 1 or more, got {self.max_paused_runs}"
            )
        with_output = self.output_type is not str and self.output_type is not None
        built = RunPlan(
            name=self.name,
            model=self.resolved_model(model),
            toolsets=self.toolsets(),
            output=self.output_spec() if with_output else None,
            output_mode=self.output_mode,
            output_retries=self.output_retries,
            output_validators=tuple(self.output_validators),
            knowledge=self._context_knowledge(),
            learners=self._plan_learners(model),
            instructions=InstructionsPlan(
                instructions=self.instructions,
                description=self.description,
                expected_output=self.expected_output,
                additional_context=self.additional_context,
                add_datetime=self.add_datetime,
                markdown=self.markdown,
            ),
            tool_retries=self.tool_retries,
            tool_timeout=self.tool_timeout,
            tool_errors=self.tool_errors,
            tool_choice=self.tool_choice,
            tool_hooks=tuple(self.hooks),
            model_settings=self.model_settings,
            usage_limits=self.usage_limits,
            retry=self.retry,
            history_tokens=self.history_tokens,
            tool_result_chars=self.tool_result_chars,
            session_summary=self.session_summary,
            pre_hooks=tuple(self.pre_hooks),
            post_hooks=tuple(self.post_hooks),
            paused_runs=self._paused_runs(),
        )
        if model is None:
            self._cache.plan = built
        return built

    def _plan_learners(self, model: ChatModel | str | None) -> tuple[Learner, ...]:
        """`learners()` plus the session summary's updater when `session_summary` is set."""
        from covey.core.summaries import check_tool_result_chars, summary_learners

        check_tool_result_chars(self.tool_result_chars, "Agent")
        return summary_learners(
            self.learners(),
            self.session_summary,
            lambda: self.resolved_model(model),
            history_tokens=self.history_tokens,
            tool_result_chars=self.tool_result_chars,
        )

    def _context_knowledge(self) -> KnowledgePlan | None:
        knowledge = self.knowledge_plan()
        return knowledge if knowledge is not None and knowledge.mode == "context" else None

    def _paused_runs(self) -> PausedRuns:
        from covey.core.run.plan import PausedRuns

        paused = self._cache.paused
        if paused is None:
            paused = self._cache.paused = PausedRuns(self.max_paused_runs)
        return paused


_REFERENCED: dict[tuple[str, str], Toolset] = {}


def _referenced_toolset(reference: str) -> Toolset:
    """The toolset a tool plugin reference names, made once per process and working directory
    (the same string in several agents is one toolset: one MCP server process, one connection;
    a relative argument such as the `"files"` root means the directory it was resolved in)."""
    import os

    key = (os.getcwd(), reference.strip())
    found = _REFERENCED.get(key)
    if found is None:
        from covey.spec.plugins import resolve_toolset

        found = _REFERENCED.setdefault(key, resolve_toolset(key[1]))
    return found
