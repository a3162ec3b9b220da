"""`Agent`: an immutable definition that any number of concurrent runs share."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TextIO

import anyio
from typing_extensions import TypeVar, Unpack

from covey.core.instructions import Instructions
from covey.core.limits import UsageLimits
from covey.core.output import OutputModeChoice, OutputSpec
from covey.core.retry import RetryPolicy
from covey.core.run.options import RunKwargs
from covey.core.tool_calls import ToolErrorPolicy, ToolHook
from covey.spec import (
    ChatModel,
    ModelSettings,
    RunContext,
    RunResult,
    RunStatus,
    ToolChoice,
    Toolset,
    UserContent,
)
from covey.spec import events as ev
from covey.spec.errors import ConfigurationError, ConflictError, NotFoundError

if TYPE_CHECKING:
    from covey.core.run.engine import RunEngine
    from covey.core.run.iteration import AgentRun
    from covey.core.run.plan import PausedRuns, RunPlan
    from covey.spec.function_toolset import Tool
    from covey.spec.store import Run, Scope, Store

__all__ = ["Agent", "RunHook"]

DepsT = TypeVar("DepsT", default=Any)
OutputT = TypeVar("OutputT", default=str)

RunHook = Callable[[RunContext[Any], Any], Any | Awaitable[Any]]
"""`hook(ctx, value)`, sync or async. Pre-run hooks get the input, post-run hooks the result,
output validators the output (and return it, possibly changed). Raising `GuardrailTripped` stops
the run; an output validator raising `ModelRetry` sends the model back to try again."""


class _AgentCache:
    """Work done once per agent on first use, never at construction."""

    __slots__ = ("model", "output_spec", "paused", "plan", "toolsets")

    def __init__(self) -> None:
        self.model: ChatModel | None = None
        self.toolsets: tuple[Toolset, ...] | None = None
        self.output_spec: OutputSpec | None = None
        self.plan: RunPlan | None = None
        self.paused: PausedRuns | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Agent(Generic[DepsT, OutputT]):
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
    tools: Sequence[Callable[..., Any] | Tool[..., Any] | Toolset] = ()
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
    usage_limits: UsageLimits = field(default_factory=UsageLimits)
    retry: RetryPolicy | None = field(default_factory=RetryPolicy)
    store: Store | None = None
    history_tokens: int | None = 8000
    """Token budget for earlier runs of the session loaded as history (`0`: none)."""
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
        from covey.spec.plugins import resolve_model

        if override is not None:
            return override if isinstance(override, ChatModel) else resolve_model(override)
        cached = self._cache.model
        if cached is not None:
            return cached
        if self.model is None:
            raise ConfigurationError(
                f"Agent {self.name or ''!r} has no model: pass model=... (a ChatModel or a string "
                "such as 'openai:gpt-4.1') to Agent() or to run()"
            )
        model = self.model if isinstance(self.model, ChatModel) else resolve_model(self.model)
        self._cache.model = model
        return model

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
            elif callable(item):
                functions.append(item)
            else:
                raise ConfigurationError(
                    f"Agent tools must be functions, @tool objects or Toolsets, got {item!r}"
                )
        if functions:
            toolsets.insert(0, FunctionToolset(functions, id=self.name))
        built = tuple(toolsets)
        self._cache.toolsets = built
        return built

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
            pre_hooks=tuple(self.pre_hooks),
            post_hooks=tuple(self.post_hooks),
            paused_runs=self._paused_runs(),
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

    def _engine(
        self,
        where: str,
        input: str | Sequence[UserContent] | None,
        options: RunKwargs[DepsT],
        *,
        stream: bool,
    ) -> RunEngine:
        from covey.core.run.engine import RunEngine
        from covey.core.run.options import RunOptions, check_run_kwargs

        check_run_kwargs(where, options)
        model = options.get("model")
        store = options.get("store")
        stream_model = options.get("stream_model")
        plan = self.plan(model)
        built = RunOptions(
            input=input,
            run_id=options.get("run_id") or uuid.uuid4().hex,
            session_id=options.get("session_id"),
            user_id=options.get("user_id"),
            tenant_id=options.get("tenant_id"),
            parent_run_id=options.get("parent_run_id"),
            deps=options.get("deps"),
            state=options.get("state"),
            message_history=options.get("message_history"),
            model=plan.model,
            model_settings=options.get("model_settings"),
            store=store if store is not None else self.store,
            stream=stream if stream_model is None else stream_model,
            metadata=dict(options.get("metadata") or {}),
        )
        return RunEngine(plan, built)

    def iter(
        self, input: str | Sequence[UserContent] | None = None, **options: Unpack[RunKwargs[DepsT]]
    ) -> AgentRun[OutputT]:
        """Step through a run: `async with agent.iter(...) as run: async for node in run`.

        Each node (`ModelRequestNode`, `CallToolsNode`, `End`) is yielded before its step runs;
        `run.events` holds the events so far and `run.result` the result once the run ended.
        Leaving the block early cancels the run. Takes the same options as `run`.
        """
        from covey.core.run.iteration import AgentRun

        return AgentRun(self._engine("iter", input, options, stream=False))

    async def run_stream(
        self, input: str | Sequence[UserContent] | None = None, **options: Unpack[RunKwargs[DepsT]]
    ) -> AsyncIterator[ev.BaseEvent]:
        """Run, yielding every event as it happens; the last carries the `RunResult`.

        The model is asked to stream, so `text.delta` events arrive token by token
        (`stream_model=False` asks for whole responses: the same events without the deltas).
        Options: see `RunKwargs` (`session_id`, `user_id`, `tenant_id`, `deps`, `state`,
        `message_history`, `model`, `model_settings`, `store`, `run_id`, `parent_run_id`,
        `metadata`, `stream_model`); any other keyword is a `TypeError`.
        """
        engine = self._engine("run_stream", input, options, stream=True)
        async for event in engine.events():
            yield event

    async def run(
        self, input: str | Sequence[UserContent] | None = None, **options: Unpack[RunKwargs[DepsT]]
    ) -> RunResult[OutputT]:
        """Run to the end and return the result (status `completed`, `failed`, `paused` or
        `cancelled`; a failed run carries its error in `result.error`).

        Options: see `RunKwargs`; any other keyword is a `TypeError`.
        """
        engine = self._engine("run", input, options, stream=False)
        return await _last_result(engine.events())

    def run_sync(
        self, input: str | Sequence[UserContent] | None = None, **options: Unpack[RunKwargs[DepsT]]
    ) -> RunResult[OutputT]:
        """`run` for code without an event loop. Raises `RuntimeError` inside a running loop."""
        _refuse_inside_loop("run_sync")
        engine = self._engine("run_sync", input, options, stream=False)
        return anyio.run(_last_result, engine.events())

    async def _resume_engine(
        self,
        run_id: str,
        *,
        stream: bool,
        approvals: dict[str, Any] | None,
        inputs: dict[str, dict[str, Any]] | None,
        results: dict[str, Any] | None,
        store: Store | None,
        user_id: str | None,
        tenant_id: str | None,
        deps: DepsT | None,
        model: ChatModel | str | None,
    ) -> RunEngine:
        from covey.core.run.engine import RunEngine
        from covey.core.run.options import ResumeInput, RunOptions
        from covey.spec.store import Scope

        store = store if store is not None else self.store
        scope = Scope(tenant_id=tenant_id or "default", user_id=user_id)
        run = await store.get_run(scope, run_id) if store is not None else None
        if run is None:
            run = self._paused_runs().get(run_id)
        if run is None:
            raise NotFoundError(
                f"No paused run {run_id!r} in this scope (is the store shared? Without a store "
                f"an agent keeps only its {self.max_paused_runs} most recent paused runs)"
            )
        if run.status is not RunStatus.PAUSED:
            hint = " (another caller resumed it)" if run.status is RunStatus.RUNNING else ""
            raise ConflictError(
                f"Run {run_id!r} is {run.status.value}{hint}, not paused: only paused runs resume"
            )
        given = {"approval": approvals or {}, "input": inputs or {}, "external": results or {}}
        missing = [
            f"{r.tool_call_id} ({r.kind} for {r.tool_name})"
            for r in run.requirements
            if r.tool_call_id not in given[r.kind]
        ]
        if missing:
            raise ConfigurationError(
                f"Run {run_id!r} cannot resume: no decision given for {', '.join(missing)}. "
                "Pass approvals={id: True|False|{'approved': bool, 'note': str}}, "
                "inputs={id: {field: value}} or results={id: value}."
            )
        plan = self.plan(model)
        if store is not None:
            await _claim(store, scope, run)
        self._paused_runs().pop(run_id)
        options = RunOptions(
            input=None,
            run_id=run.id,
            session_id=run.session_id,
            user_id=user_id if user_id is not None else run.user_id,
            tenant_id=tenant_id,
            parent_run_id=run.parent_run_id,
            deps=deps,
            state=None,
            message_history=None,
            model=plan.model,
            model_settings=None,
            store=store,
            stream=stream,
            metadata={
                k: v
                for k, v in run.metadata.items()
                if k not in ("pending_parts", "last_seq", "step")
            },
        )
        resume = ResumeInput(
            run=run,
            approvals=dict(approvals or {}),
            inputs=dict(inputs or {}),
            results=dict(results or {}),
        )
        return RunEngine(plan, options, resume)

    async def resume(
        self,
        run_id: str,
        *,
        approvals: dict[str, Any] | None = None,
        inputs: dict[str, dict[str, Any]] | None = None,
        results: dict[str, Any] | None = None,
        store: Store | None = None,
        user_id: str | None = None,
        tenant_id: str | None = None,
        deps: DepsT | None = None,
        model: ChatModel | str | None = None,
    ) -> RunResult[OutputT]:
        """Continue a paused run, in this process or any other sharing its store.

        Args:
            run_id: The paused run.
            approvals: `{tool_call_id: True | False | {"approved": bool, "note": str}}`; a
                rejection's note goes back to the model.
            inputs: `{tool_call_id: {field: value}}` for tools waiting for user input.
            results: `{tool_call_id: value}` for external tools the caller ran.
            store: Where the run was persisted (defaults to the agent's store).
            user_id: The run's user (scopes the store lookup).
            tenant_id: The run's tenant.
            deps: Dependencies for the rest of the run.
            model: Use another model from here on.
        """
        engine = await self._resume_engine(
            run_id,
            stream=False,
            approvals=approvals,
            inputs=inputs,
            results=results,
            store=store,
            user_id=user_id,
            tenant_id=tenant_id,
            deps=deps,
            model=model,
        )
        return await _last_result(engine.events())

    async def resume_stream(
        self,
        run_id: str,
        *,
        approvals: dict[str, Any] | None = None,
        inputs: dict[str, dict[str, Any]] | None = None,
        results: dict[str, Any] | None = None,
        store: Store | None = None,
        user_id: str | None = None,
        tenant_id: str | None = None,
        deps: DepsT | None = None,
        model: ChatModel | str | None = None,
        stream_model: bool = True,
    ) -> AsyncIterator[ev.BaseEvent]:
        """`resume`, yielding the events of the rest of the run (`stream_model`: see
        `RunKwargs`)."""
        engine = await self._resume_engine(
            run_id,
            stream=stream_model,
            approvals=approvals,
            inputs=inputs,
            results=results,
            store=store,
            user_id=user_id,
            tenant_id=tenant_id,
            deps=deps,
            model=model,
        )
        async for event in engine.events():
            yield event

    async def cancel(
        self,
        run_id: str,
        *,
        store: Store | None = None,
        user_id: str | None = None,
        tenant_id: str | None = None,
        error: BaseException | None = None,
    ) -> bool:
        """Cancel a run wherever it is.

        A run of this process stops at once. A paused run is ended on the spot: its stored
        record and its event log (`run.started` with `resumed=True`, then the final event) are
        closed, and it can no longer be resumed. A run of another process sharing the store is
        flagged through `Store.request_cancel` and stops at its next step there.

        Args:
            run_id: The run.
            store: Where the run is kept (defaults to the agent's store).
            user_id: The run's user (scopes the store lookup).
            tenant_id: The run's tenant.
            error: End the run `failed` with this error (a time limit, a shutdown) instead of
                `cancelled`. It applies to a run of this process and to a paused run; the
                store's cancel flag carries no reason, so a run of another process ends
                `cancelled`.

        Returns:
            Whether a running or paused run was found.
        """
        from covey.core.cancellation import active_run, cancel_paused
        from covey.spec.store import Scope

        handle = active_run(run_id)
        if handle is not None:
            handle.cancel(error=error)
            return True
        store = store if store is not None else self.store
        if store is None:
            return self._paused_runs().pop(run_id) is not None
        scope = Scope(tenant_id=tenant_id or "default", user_id=user_id)
        run = await store.get_run(scope, run_id)
        if run is not None and run.status is RunStatus.PAUSED:
            try:
                await cancel_paused(store, scope, run, error=error)
                return True
            except ConflictError:
                pass  # resumed meanwhile, by some process: ask it to stop, as any running run
        try:
            return await store.request_cancel(scope, run_id)
        except NotFoundError:
            return False

    async def print_response(
        self,
        input: str | Sequence[UserContent] | None = None,
        *,
        file: TextIO | None = None,
        show_tool_calls: bool = True,
        session_id: str | None = None,
        user_id: str | None = None,
        deps: DepsT | None = None,
    ) -> RunResult[OutputT]:
        """Stream the answer to a terminal (or `file`), with tool calls, and return the result."""
        out = file or sys.stdout
        result: RunResult[Any] | None = None
        async for event in self.run_stream(
            input, session_id=session_id, user_id=user_id, deps=deps
        ):
            if isinstance(event, ev.TextDelta):
                out.write(event.delta)
                out.flush()
            elif isinstance(event, ev.ToolCallStarted) and show_tool_calls:
                out.write(f"\n[tool] {event.tool_name}({event.args})\n")
            elif isinstance(event, ev.ToolCallFailed) and show_tool_calls:
                out.write(f"[tool failed] {event.tool_name}: {event.error}\n")
            elif isinstance(event, ev.RunPaused | ev.RunFailed | ev.RunCancelled | ev.RunCompleted):
                result = event.result
        assert result is not None
        if result.status is RunStatus.COMPLETED and not isinstance(result.output, str):
            out.write(f"{result.output!r}")
        elif result.status is not RunStatus.COMPLETED:
            detail = f": {result.error.message}" if result.error else ""
            out.write(f"\n[run {result.status.value}{detail}]")
        out.write("\n")
        return result

    def as_tool(self, *, name: str | None = None, description: str | None = None) -> Tool[..., Any]:
        """This agent as a tool another agent can call; the nested run gets `parent_run_id`."""
        from covey.spec.function_toolset import Tool

        agent = self
        tool_name = name or agent.name
        if not tool_name:
            raise ConfigurationError("as_tool() needs a name: give the agent a name or pass name=")

        async def delegate(ctx: RunContext[Any], request: str) -> Any:
            result = await agent.run(
                request,
                deps=ctx.deps,
                user_id=ctx.user_id,
                tenant_id=ctx.tenant_id,
                parent_run_id=ctx.run_id,
            )
            if result.status is not RunStatus.COMPLETED:
                detail = result.error.message if result.error else result.status.value
                return f"The {tool_name} agent did not finish: {detail}"
            return result.output

        delegate.__doc__ = (
            f"{description or agent.description or f'Ask the {tool_name} agent.'}\n\n"
            "Args:\n    request: What to ask, in full sentences.\n"
        )
        return Tool(delegate, name=tool_name)


async def _claim(store: Store, scope: Scope, run: Run) -> None:
    """Mark a paused run running before resuming it, so of two resumes racing, one runs it."""
    claimed = run.model_copy(
        update={"status": RunStatus.RUNNING, "heartbeat_at": datetime.now(UTC)}
    )
    try:
        await store.save_run(scope, claimed, expected_status=RunStatus.PAUSED)
    except ConflictError as exc:
        raise ConflictError(
            f"Run {run.id!r} was resumed or cancelled by another caller while this resume "
            "started; nothing was run here. Read the run to see where it stands."
        ) from exc


async def _last_result(events: AsyncIterator[ev.BaseEvent]) -> RunResult[Any]:
    result: RunResult[Any] | None = None
    async for event in events:
        if isinstance(event, ev.RunCompleted | ev.RunFailed | ev.RunPaused | ev.RunCancelled):
            result = event.result
    assert result is not None, "a run always ends with a final run event"
    return result


def _refuse_inside_loop(name: str) -> None:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"Agent.{name}() cannot be called from a running event loop: use await run()"
    )
