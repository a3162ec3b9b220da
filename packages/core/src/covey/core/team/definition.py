"""`Team`: agents (or teams) led by a model, an immutable definition that any number of
concurrent runs share. It compiles to a `RunPlan` whose tools delegate to its members, and runs
on the same engine as an agent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from covey.core.instructions import Instructions
from covey.core.limits import DEFAULT_USAGE_LIMITS, UsageLimits
from covey.core.output import OutputModeChoice, OutputSpec
from covey.core.retry import DEFAULT_RETRY, RetryPolicy
from covey.core.runnable import DepsT, OutputT, Runnable, resolve_model_once
from covey.core.tool_calls import ToolHook
from covey.spec import ChatModel, ModelSettings
from covey.spec.errors import ConfigurationError

if TYPE_CHECKING:
    from covey.core.agent import RunHook
    from covey.core.run.plan import PausedRuns, RunPlan
    from covey.core.summaries import SessionSummary
    from covey.spec.learning import Learner
    from covey.spec.store import Run, Store

__all__ = ["Member", "Team", "TeamMode"]

TeamMode = Literal["coordinate", "route", "broadcast", "tasks"]
"""How the leader works with its members:

- `coordinate`: it delegates sub-tasks (`delegate_task`), then composes the answer;
- `route`: it hands the request to one member (`route_to_member`), whose answer is the team's;
- `broadcast`: every member gets the task at once (`delegate_task_to_all_members`), then the
  leader synthesises;
- `tasks`: it keeps a task list (`create_task`, `run_task`, `update_task`, `list_tasks`) until
  the goal is met or a limit is hit.
"""

Member = Runnable[Any, Any]
"""A team member: an `Agent` or a `Team` (anything with the run API and a `plan()`)."""


class _TeamCache:
    """Work done once per team on first use, never at construction."""

    __slots__ = ("model", "output_spec", "paused", "plan", "roster")

    def __init__(self) -> None:
        self.model: ChatModel | None = None
        self.output_spec: OutputSpec | None = None
        self.plan: RunPlan | None = None
        self.paused: PausedRuns | None = None
        self.roster: dict[str, Member] | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Team(Runnable[DepsT, OutputT]):
    """A leader model and its members (agents or teams), run as one run.

    Every member run is a run of its own, stored with `parent_run_id` set to the team run; its
    events come out of the team's `run_stream` as they happen. Construction only checks the
    member names; the plan (tools, prompt, schemas) is built on the first run and cached.

    Example:
        ```python
        team = Team(name="desk", members=[writer, critic], model=TestModel())
        result = await team.run("Write a haiku about tea")
        ```
    """

    name: str  # pyright: ignore[reportIncompatibleVariableOverride] - required, never None
    """The team's id in the runtime's API and in stored runs."""
    members: Sequence[Member]
    """Agents or teams, each with a unique, non-empty `name` (what the leader calls them by)."""
    mode: TeamMode = "coordinate"
    model: ChatModel | str | None = None
    """The leader's model: a `ChatModel` or a model string such as `"openai:gpt-4.1"`."""
    instructions: Instructions = None
    description: str | None = None
    """What the team does (shown to a leader that has this team as a member, and by `as_tool`)."""
    expected_output: str | None = None
    additional_context: str | None = None
    add_datetime: bool = False
    markdown: bool = False
    output_type: type[OutputT] | Any = str
    """The leader's output type (in `route` mode the chosen member's output is the team's)."""
    output_mode: OutputModeChoice = "auto"
    output_retries: int = 1
    model_settings: ModelSettings | None = None
    usage_limits: UsageLimits = DEFAULT_USAGE_LIMITS
    """Caps for the whole team run: the leader's requests and tool calls plus every member's."""
    retry: RetryPolicy | None = DEFAULT_RETRY
    store: Store | None = None
    """Where the team run, its member runs, their events and the session are kept."""
    history_tokens: int | None = 8000
    """Token budget of the leader's earlier team runs of the session loaded as history."""
    tool_result_chars: int | None = 2000
    """In the leader's history, a tool result (a member's answer, say) longer than this is cut
    with a marker naming the stored run that holds it whole (`None`: never cut)."""
    session_summary: SessionSummary | None = None
    """A rolling summary of the session for the leader (see `Agent.session_summary`); member
    runs keep their own history rules."""
    hooks: Sequence[ToolHook] = ()
    """Tool middleware around the leader's tool calls (delegations)."""
    pre_hooks: Sequence[RunHook] = ()
    post_hooks: Sequence[RunHook] = ()
    learning: Learner | Sequence[Learner] | None = None
    """What the team learns from its runs (see `Agent.learning`): the leader gets what is known
    in its system prompt and the learners' tools; learners read each completed team run."""
    share_member_interactions: bool = False
    """Give each member what earlier members of this team run were asked and answered."""
    max_tasks: int = 20
    """`tasks` mode: how many tasks the leader may create in one run."""
    DEFAULT_MAX_PAUSED_RUNS: ClassVar[int] = 100
    max_paused_runs: int = DEFAULT_MAX_PAUSED_RUNS
    """Without a store, the paused team runs kept in memory for `resume`."""
    _cache: _TeamCache = field(default_factory=_TeamCache, init=False, repr=False, compare=False)
    _KIND: ClassVar[str] = "team"

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigurationError("Team(name=...) must be a non-empty string")
        if self.mode not in get_args(TeamMode):
            raise ConfigurationError(
                f"Team {self.name!r}: mode must be one of {', '.join(get_args(TeamMode))}, "
                f"got {self.mode!r}"
            )
        if not self.members:
            raise ConfigurationError(f"Team {self.name!r} has no members: pass members=[...]")
        seen: set[str] = set()
        for member in self.members:
            member_name = getattr(member, "name", None)
            if not isinstance(member, Runnable):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise ConfigurationError(
                    f"Team {self.name!r}: a member must be an Agent or a Team, got {member!r}"
                )
            if not member_name:
                raise ConfigurationError(
                    f"Team {self.name!r}: every member needs a name (the leader calls members "
                    "by name): give it name=..."
                )
            if member_name in seen:
                raise ConfigurationError(
                    f"Team {self.name!r}: two members are named {member_name!r}; member names "
                    "must be unique"
                )
            seen.add(member_name)
        if self.max_tasks < 1:
            raise ConfigurationError(f"Team(max_tasks=...) must be 1 or more, got {self.max_tasks}")

    # --- lazily built, cached --------------------------------------------------------------------

    def roster(self) -> dict[str, Member]:
        """The members by name, in order."""
        cached = self._cache.roster
        if cached is None:
            cached = self._cache.roster = {str(m.name): m for m in self.members}
        return cached

    def resolved_model(self, override: ChatModel | str | None = None) -> ChatModel:
        """The leader's model: `override`, else the team's (model strings resolved once)."""
        return resolve_model_once(
            self.model,
            override,
            self._cache,
            lambda: (
                f"Team {self.name!r} has no model for its leader: pass model=... (a ChatModel "
                "or a string such as 'openai:gpt-4.1') to Team() or to run()"
            ),
        )

    def plan(self, model: ChatModel | str | None = None) -> RunPlan:
        """This team compiled into the plan the run engine runs (cached for its own model)."""
        from covey.core.run.plan import InstructionsPlan, RunPlan
        from covey.core.team.prompt import team_context
        from covey.core.team.toolset import TeamToolset

        cached = self._cache.plan
        if cached is not None and model is None:
            return cached
        if self.max_paused_runs < 1:
            raise ConfigurationError(
                f"Team(max_paused_runs=...) must be 1 or more, got {self.max_paused_runs}"
            )
        with_output = self.output_type is not str and self.output_type is not None
        output = None
        if with_output:
            output = self._cache.output_spec
            if output is None:
                output = self._cache.output_spec = OutputSpec.build(self.output_type)
        from covey.core.summaries import check_tool_result_chars, summary_learners
        from covey.spec.learning import learners as checked_learners

        check_tool_result_chars(self.tool_result_chars, "Team")
        learners = checked_learners(self.learning)
        toolsets = (TeamToolset(self), *(t for x in learners for t in x.toolsets()))
        learners = summary_learners(
            learners,
            self.session_summary,
            lambda: self.resolved_model(model),
            history_tokens=self.history_tokens,
            tool_result_chars=self.tool_result_chars,
        )
        context = team_context(self)
        if self.additional_context:
            context = f"{self.additional_context}\n\n{context}"
        built = RunPlan(
            name=self.name,
            model=self.resolved_model(model),
            toolsets=toolsets,
            learners=learners,
            output=output,
            output_mode=self.output_mode,
            output_retries=self.output_retries,
            instructions=InstructionsPlan(
                instructions=self.instructions,
                description=self.description,
                expected_output=self.expected_output,
                additional_context=context,
                add_datetime=self.add_datetime,
                markdown=self.markdown,
            ),
            # A delegation lasts as long as the member's run: the team's limits bound it.
            tool_timeout=None,
            tool_errors="return",
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
            relay_events=True,
        )
        if model is None:
            self._cache.plan = built
        return built

    def _paused_runs(self) -> PausedRuns:
        from covey.core.run.plan import PausedRuns

        paused = self._cache.paused
        if paused is None:
            paused = self._cache.paused = PausedRuns(self.max_paused_runs)
        return paused

    async def _cancelled_paused(
        self, run: Run, *, store: Store | None, user_id: str | None, tenant_id: str | None
    ) -> None:
        from covey.core.team.members import cancel_paused_members

        await cancel_paused_members(self, run, store=store, user_id=user_id, tenant_id=tenant_id)
