"""`Runnable`: the run API every definition shares (agents and teams): `run`, `run_stream`,
`run_sync`, `iter`, `resume`, `resume_stream`, `cancel`, `print_response` and `as_tool`, all on
the one engine. A definition supplies `plan()` (what the engine runs), `name`, `description`
and `store`."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TextIO

import anyio
from typing_extensions import TypeVar, Unpack

from covey.core.run.options import RunKwargs
from covey.spec import ChatModel, RunContext, RunResult, RunStatus, UserContent
from covey.spec import events as ev
from covey.spec.errors import ConfigurationError, ConflictError, NotFoundError

if TYPE_CHECKING:
    from covey.core.run.engine import RunEngine
    from covey.core.run.iteration import AgentRun
    from covey.core.run.plan import PausedRuns, RunPlan
    from covey.spec.function_toolset import Tool
    from covey.spec.store import Run, Store

__all__ = ["DepsT", "OutputT", "Runnable", "resolve_model_once"]

DepsT = TypeVar("DepsT", default=Any)
OutputT = TypeVar("OutputT", default=str)


class Runnable(Generic[DepsT, OutputT]):
    """The run API of a definition (see the module docstring). Nothing per run is kept on it."""

    __slots__ = ()
    _KIND = "agent"
    """What `as_tool` and error messages call this kind of definition."""

    if TYPE_CHECKING:
        name: str | None
        description: str | None
        store: Store | None

        def plan(self, model: ChatModel | str | None = None) -> RunPlan: ...
        def _paused_runs(self) -> PausedRuns: ...

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
        _refuse_inside_loop("run_sync", type(self).__name__)
        engine = self._engine("run_sync", input, options, stream=False)
        return anyio.run(_last_result_and_learning, engine.events())

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
        from covey.core.run.resuming import resume_engine

        return await resume_engine(
            self.plan(model),
            run_id,
            stream=stream,
            approvals=approvals,
            inputs=inputs,
            results=results,
            store=store if store is not None else self.store,
            user_id=user_id,
            tenant_id=tenant_id,
            deps=deps,
        )

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
            store: Where the run was persisted (defaults to the definition's store).
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
            store: Where the run is kept (defaults to the definition's store).
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
            run = self._paused_runs().pop(run_id)
            if run is not None:
                await self._cancelled_paused(run, store=None, user_id=user_id, tenant_id=tenant_id)
            return run is not None
        scope = Scope(tenant_id=tenant_id or "default", user_id=user_id)
        run = await store.get_run(scope, run_id)
        if run is not None and run.status is RunStatus.PAUSED:
            try:
                await cancel_paused(store, scope, run, error=error)
                await self._cancelled_paused(run, store=store, user_id=user_id, tenant_id=tenant_id)
                return True
            except ConflictError:
                pass  # resumed meanwhile, by some process: ask it to stop, as any running run
        try:
            return await store.request_cancel(scope, run_id)
        except NotFoundError:
            return False

    async def _cancelled_paused(
        self, run: Run, *, store: Store | None, user_id: str | None, tenant_id: str | None
    ) -> None:
        """Called once paused `run` was cancelled (a team cancels its paused members here)."""

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
        """This definition as a tool an agent (or a team's leader) can call; the nested run
        gets `parent_run_id`."""
        from covey.spec.function_toolset import Tool

        agent = self
        kind = self._KIND
        tool_name = name or agent.name
        if not tool_name:
            raise ConfigurationError(
                f"as_tool() needs a name: give the {kind} a name or pass name="
            )

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
                return f"The {tool_name} {kind} did not finish: {detail}"
            return result.output

        delegate.__doc__ = (
            f"{description or agent.description or f'Ask the {tool_name} {kind}.'}\n\n"
            "Args:\n    request: What to ask, in full sentences.\n"
        )
        return Tool(delegate, name=tool_name)


async def _last_result(events: AsyncIterator[ev.BaseEvent]) -> RunResult[Any]:
    result: RunResult[Any] | None = None
    async for event in events:
        if isinstance(event, ev.RunCompleted | ev.RunFailed | ev.RunPaused | ev.RunCancelled):
            result = event.result
    assert result is not None, "a run always ends with a final run event"
    return result


class _HoldsModel(Protocol):
    model: ChatModel | None


def resolve_model_once(
    model: ChatModel | str | None,
    override: ChatModel | str | None,
    cache: _HoldsModel,
    missing: Callable[[], str],
) -> ChatModel:
    """`override`, else `model` resolved once and kept in `cache.model` (model strings go
    through the plugins); `ConfigurationError(missing())` when there is neither."""
    from covey.spec.plugins import resolve_model

    if override is not None:
        return override if isinstance(override, ChatModel) else resolve_model(override)
    cached = cache.model
    if cached is not None:
        return cached
    if model is None:
        raise ConfigurationError(missing())
    resolved = model if isinstance(model, ChatModel) else resolve_model(model)
    cache.model = resolved
    return resolved


def _refuse_inside_loop(name: str, owner: str = "Agent") -> None:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{owner}.{name}() cannot be called from a running event loop: use await run()"
    )


async def _last_result_and_learning(events: AsyncIterator[ev.BaseEvent]) -> RunResult[Any]:
    """`_last_result`, then the run's background learning (the loop closes when this returns)."""
    from covey.core.learning import wait_for_learning

    result = await _last_result(events)
    await wait_for_learning()
    return result
