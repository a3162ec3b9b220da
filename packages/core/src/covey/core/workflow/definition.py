"""`Workflow`: an immutable definition of steps that any number of concurrent runs share."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

import anyio
from typing_extensions import Unpack

from covey.core.run.options import RunKwargs, check_run_kwargs
from covey.core.workflow.plan import Node, compile_steps
from covey.core.workflow.steps import StepLike
from covey.spec import RunContext, RunResult, RunStatus
from covey.spec import events as ev
from covey.spec.errors import ConfigurationError, ConflictError, NotFoundError

if TYPE_CHECKING:
    from covey.core.run.plan import PausedRuns
    from covey.core.workflow.executor import WorkflowRun
    from covey.spec.function_toolset import Tool
    from covey.spec.learning import Learner
    from covey.spec.store import Store

__all__ = ["Workflow"]

_FINAL = (ev.RunCompleted, ev.RunFailed, ev.RunPaused, ev.RunCancelled)


class _WorkflowCache:
    __slots__ = ("paused",)

    def __init__(self) -> None:
        self.paused: PausedRuns | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Workflow:
    """Steps — agents, teams, workflows and functions, arranged with `Steps`, `Parallel`,
    `Condition`, `Loop` and `Router` — run in order as one durable run.

    Each step runs as a child run (`parent_run_id` = the workflow run) and, with a store, is
    written there as soon as it finishes, so a run that paused, or whose process died, resumes
    from its first unfinished step in any process: a finished step never runs again. The run
    API is the agent's: `run`, `run_stream`, `run_sync`, `resume`, `resume_stream`, `cancel`,
    `print_response`, `as_tool`.

    Example:
        ```python
        flow = Workflow(name="report", steps=[fetch, Step(writer, name="write"), publish])
        result = await flow.run("Q3 sales", store=store)
        ```
    """

    name: str
    """The workflow's id in the runtime's API and in stored runs (`Run.agent_id`)."""
    steps: Sequence[StepLike] = ()
    description: str | None = None
    store: Store | None = None
    """Where runs, steps and sessions are kept (a `store=` given to a run wins)."""
    DEFAULT_MAX_PAUSED_RUNS: ClassVar[int] = 100
    max_paused_runs: int = DEFAULT_MAX_PAUSED_RUNS
    """Without a store, the paused runs kept in memory for `resume` (the most recent)."""
    resume_lease: float = 15.0
    """Seconds without a heartbeat after which `resume` takes over a run left `running` (its
    process died): it is closed as interrupted, then resumed."""
    learning: Learner | Sequence[Learner] | None = None
    """What the workflow learns from its runs (`covey.learn.MemoryManager`,
    `covey.learn.LearningMachine`, any `covey.spec.learning.Learner`): each completed run is
    shown to them as its input and final output. They only learn (a workflow has no system
    prompt or model of its own); agents inside steps learn through their own `learning=`."""
    _learners: tuple[Learner, ...] = field(init=False, repr=False, compare=False)
    _nodes: tuple[Node, ...] = field(init=False, repr=False, compare=False)
    _cache: _WorkflowCache = field(
        default_factory=_WorkflowCache, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigurationError("Workflow(name=...) must be a non-empty string")
        if not self.steps:
            raise ConfigurationError(f"Workflow {self.name!r} has no steps: pass steps=[...]")
        object.__setattr__(self, "_nodes", compile_steps(self.name, list(self.steps)))
        from covey.spec.learning import learners

        object.__setattr__(self, "_learners", learners(self.learning))

    # --- definition ------------------------------------------------------------------------------

    def to_mermaid(self) -> str:
        """The workflow drawn as Mermaid `flowchart TD` text."""
        from covey.core.workflow.mermaid import to_mermaid

        return to_mermaid(self.name, self._nodes)

    def describe_steps(self) -> list[dict[str, Any]]:
        """The steps as JSON-like data (for an API or a console): each step's `name`, `type`
        (`function`, `agent`, `steps`, `parallel`, `condition`, `loop`, `router`),
        `description` and, for a construct, its `steps`."""

        def describe(node: Node) -> dict[str, Any]:
            source = node.source
            found: dict[str, Any] = {"name": node.name, "type": node.kind}
            description = getattr(source, "description", None) or getattr(
                node.target, "description", None
            )
            if isinstance(description, str):
                found["description"] = description
            if node.children:
                found["steps"] = [describe(child) for child in node.children]
            return found

        return [describe(node) for node in self._nodes]

    def _paused_runs(self) -> PausedRuns:
        from covey.core.run.plan import PausedRuns

        paused = self._cache.paused
        if paused is None:
            paused = self._cache.paused = PausedRuns(self.max_paused_runs)
        return paused

    # --- running ---------------------------------------------------------------------------------

    def _runner(
        self, where: str, input: Any, options: RunKwargs[Any], *, stream: bool
    ) -> WorkflowRun:
        from covey.core.workflow.executor import WorkflowOptions, WorkflowRun

        check_run_kwargs(where, options)
        for unused in ("model", "model_settings", "message_history"):
            if options.get(unused) is not None:
                raise ConfigurationError(
                    f"{where}(): a workflow has no {unused} of its own; set it on its agents"
                )
        store = options.get("store")
        stream_model = options.get("stream_model")
        built = WorkflowOptions(
            input=input,
            run_id=options.get("run_id") or uuid.uuid4().hex,
            session_id=options.get("session_id"),
            user_id=options.get("user_id"),
            tenant_id=options.get("tenant_id"),
            parent_run_id=options.get("parent_run_id"),
            deps=options.get("deps"),
            state=options.get("state"),
            store=store if store is not None else self.store,
            stream=stream if stream_model is None else stream_model,
            metadata=dict(options.get("metadata") or {}),
            forward=stream,
            learners=self._learners,
        )
        return WorkflowRun(self.name, self._nodes, built, self._paused_runs())

    async def run_stream(
        self, input: Any = None, **options: Unpack[RunKwargs[Any]]
    ) -> AsyncIterator[ev.BaseEvent]:
        """Run, yielding every event as it happens — the workflow's (`run.*`, `step.*`) and its
        child runs' (each with its own `run_id`, `parent_run_id` = this run) — ending with the
        final `run.*` event of this run, which carries the `RunResult`.

        Options: see `RunKwargs` (`model`, `model_settings` and `message_history` belong on
        the agents and are refused here); any other keyword is a `TypeError`.
        """
        async for event in self._runner("run_stream", input, options, stream=True).events():
            yield event

    async def run(self, input: Any = None, **options: Unpack[RunKwargs[Any]]) -> RunResult[Any]:
        """Run to the end and return the result (`completed`, `failed`, `paused` or
        `cancelled`); the output is the last step's."""
        return await _last_result(self._runner("run", input, options, stream=False).events())

    def run_sync(self, input: Any = None, **options: Unpack[RunKwargs[Any]]) -> RunResult[Any]:
        """`run` for code without an event loop. Raises `RuntimeError` inside a running loop."""
        _refuse_inside_loop("run_sync")
        runner = self._runner("run_sync", input, options, stream=False)
        return anyio.run(_last_result_and_learning, runner.events())

    async def _resumer(
        self,
        run_id: str,
        *,
        stream: bool,
        forward: bool,
        approvals: dict[str, Any] | None,
        inputs: dict[str, dict[str, Any]] | None,
        results: dict[str, Any] | None,
        store: Store | None,
        user_id: str | None,
        tenant_id: str | None,
        deps: Any,
    ) -> WorkflowRun:
        from covey.core.workflow.durability import claim, load_resume_state
        from covey.core.workflow.executor import WorkflowOptions, WorkflowRun
        from covey.spec.store import Scope

        store = store if store is not None else self.store
        scope = Scope(tenant_id=tenant_id or "default", user_id=user_id)
        lease = timedelta(seconds=self.resume_lease)
        run = await claim(
            name=self.name,
            run_id=run_id,
            store=store,
            scope=scope,
            paused_runs=self._paused_runs(),
            lease=lease,
            approvals=approvals or {},
            inputs=inputs or {},
            results=results or {},
        )
        resume = await load_resume_state(
            store,
            scope,
            run,
            lease=lease,
            approvals=approvals or {},
            inputs=inputs or {},
            results=results or {},
        )
        reserved = ("kind", "last_seq", "ordinal", "state", "decisions", "paused_steps", "finished")
        options = WorkflowOptions(
            input=run.input,
            run_id=run.id,
            session_id=run.session_id,
            user_id=user_id if user_id is not None else run.user_id,
            tenant_id=tenant_id,
            parent_run_id=run.parent_run_id,
            deps=deps,
            state=None,
            store=store,
            stream=stream,
            metadata={k: v for k, v in run.metadata.items() if k not in reserved},
            forward=forward,
            learners=self._learners,
        )
        return WorkflowRun(self.name, self._nodes, options, self._paused_runs(), resume)

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
        deps: Any = None,
    ) -> RunResult[Any]:
        """Continue a run from its first unfinished step, in this process or any other sharing
        its store: a paused run (every requirement answered), or one whose process died — left
        `interrupted` by the runtime's sweeper, or still `running` with no heartbeat for
        `resume_lease` seconds (closed as interrupted first). Finished steps are not run again.

        Args:
            run_id: The workflow run.
            approvals: `{request_id: True | False | {"approved": bool, "note": str}}` for a
                step's `confirm` or an agent step's tool approval.
            inputs: `{request_id: {field: value}}` for a step's `ask` or a tool's input.
            results: `{tool_call_id: value}` for external tools of an agent step.
            store: Where the run was persisted (defaults to the workflow's store).
            user_id: The run's user (scopes the store lookup).
            tenant_id: The run's tenant.
            deps: Dependencies for the rest of the run.

        Raises:
            NotFoundError: no such run of this workflow.
            ConflictError: the run is running with a live lease, has ended, or another resume
                claimed it first.
            ConfigurationError: a requirement has no decision.
        """
        runner = await self._resumer(
            run_id,
            stream=False,
            forward=False,
            approvals=approvals,
            inputs=inputs,
            results=results,
            store=store,
            user_id=user_id,
            tenant_id=tenant_id,
            deps=deps,
        )
        return await _last_result(runner.events())

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
        deps: Any = None,
        stream_model: bool = True,
    ) -> AsyncIterator[ev.BaseEvent]:
        """`resume`, yielding the events of the rest of the run (`stream_model`: see
        `RunKwargs`)."""
        runner = await self._resumer(
            run_id,
            stream=stream_model,
            forward=True,
            approvals=approvals,
            inputs=inputs,
            results=results,
            store=store,
            user_id=user_id,
            tenant_id=tenant_id,
            deps=deps,
        )
        async for event in runner.events():
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
        """Cancel a run wherever it is, with the step (and child run) in flight.

        A run of this process stops at once. A paused run is ended on the spot, its paused
        step runs too. A run of another process sharing the store is flagged through
        `Store.request_cancel` (its running step runs too) and stops there at its next step.

        Args:
            run_id: The workflow run.
            store: Where the run is kept (defaults to the workflow's store).
            user_id: The run's user (scopes the store lookup).
            tenant_id: The run's tenant.
            error: End the run `failed` with this error instead of `cancelled`.

        Returns:
            Whether a running or paused run was found.
        """
        from covey.core.cancellation import active_run, cancel_paused
        from covey.core.workflow.durability import step_runs
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
        if run is None or run.agent_id != self.name:
            return False
        children = await step_runs(store, scope, run_id)
        if run.status is RunStatus.PAUSED:
            try:
                await cancel_paused(store, scope, run, error=error)
            except ConflictError:
                pass  # resumed meanwhile: ask the process running it to stop
            else:
                for child in children:
                    if child.status is RunStatus.PAUSED:
                        with contextlib.suppress(ConflictError):  # resumed meanwhile
                            await cancel_paused(store, scope, child, error=error)
                return True
        for child in children:
            if child.status is RunStatus.RUNNING:
                with contextlib.suppress(NotFoundError):
                    await store.request_cancel(scope, child.id)
        try:
            return await store.request_cancel(scope, run_id)
        except NotFoundError:
            return False

    async def print_response(
        self,
        input: Any = None,
        *,
        file: TextIO | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        deps: Any = None,
    ) -> RunResult[Any]:
        """Stream the run to a terminal (or `file`): each step as it starts and ends, agents'
        text as it comes, then the output; returns the result."""
        out = file or sys.stdout
        last: ev.BaseEvent | None = None
        async for event in self.run_stream(
            input, session_id=session_id, user_id=user_id, deps=deps
        ):
            last = event
            if isinstance(event, ev.TextDelta):
                out.write(event.delta)
            elif isinstance(event, ev.StepStarted):
                out.write(f"\n[step {event.step_path}]\n")
            elif isinstance(event, ev.StepFailed):
                out.write(f"\n[step {event.step_path} failed: {event.error.message}]\n")
            out.flush()
        assert isinstance(last, _FINAL), "a workflow run always ends with its final run event"
        result = last.result
        if result.status is RunStatus.COMPLETED:
            out.write(f"\n{result.output}\n")
        else:
            detail = f": {result.error.message}" if result.error else ""
            out.write(f"\n[run {result.status.value}{detail}]\n")
        return result

    def as_tool(self, *, name: str | None = None, description: str | None = None) -> Tool[..., Any]:
        """This workflow as a tool an agent can call; the run gets `parent_run_id`."""
        from covey.spec.function_toolset import Tool

        workflow = self
        tool_name = name or self.name

        async def delegate(ctx: RunContext[Any], request: str) -> Any:
            result = await workflow.run(
                request,
                deps=ctx.deps,
                user_id=ctx.user_id,
                tenant_id=ctx.tenant_id,
                parent_run_id=ctx.run_id,
            )
            if result.status is not RunStatus.COMPLETED:
                detail = result.error.message if result.error else result.status.value
                return f"The {tool_name} workflow did not finish: {detail}"
            return result.output

        delegate.__doc__ = (
            f"{description or self.description or f'Run the {tool_name} workflow.'}\n\n"
            "Args:\n    request: What to run it on, in full sentences.\n"
        )
        return Tool(delegate, name=tool_name)


async def _last_result(events: AsyncIterator[ev.BaseEvent]) -> RunResult[Any]:
    result: RunResult[Any] | None = None
    last: ev.BaseEvent | None = None
    async for event in events:
        last = event
    if isinstance(last, _FINAL):
        result = last.result
    assert result is not None, "a workflow run always ends with its final run event"
    return result


async def _last_result_and_learning(events: AsyncIterator[ev.BaseEvent]) -> RunResult[Any]:
    """`_last_result`, then the run's background learning (the loop closes when this returns)."""
    from covey.core.learning import wait_for_learning

    result = await _last_result(events)
    await wait_for_learning()
    return result


def _refuse_inside_loop(name: str) -> None:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"Workflow.{name}() cannot be called from a running event loop: use await run()"
    )
