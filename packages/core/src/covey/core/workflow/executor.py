"""`WorkflowRun`: drives one run of a workflow's step tree, yielding its events and those of
its child runs, storing each finished step before the next starts."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from pydantic_core import to_jsonable_python

from covey.core.cancellation import RunHandle, active_run, register, unregister
from covey.core.run.persistence import Persistence
from covey.core.run.state import MISSING, Cancelled
from covey.core.workflow.plan import Node
from covey.core.workflow.steps import StepInput
from covey.spec import ErrorInfo, Requirement, RunContext, RunResult, RunStatus, Usage
from covey.spec import events as ev
from covey.spec.errors import CoveyError, NotFoundError
from covey.spec.store import Run, Scope

if TYPE_CHECKING:
    from covey.core.run.plan import PausedRuns
    from covey.core.workflow.durability import ResumeState
    from covey.spec.learning import Learner, LearningRun
    from covey.spec.store import Store

__all__ = ["Frame", "Out", "Paused", "StepError", "WorkflowOptions", "WorkflowRun", "jsonable"]

T = TypeVar("T")
_FINAL: dict[RunStatus, type[ev.BaseEvent]] = {
    RunStatus.COMPLETED: ev.RunCompleted,
    RunStatus.FAILED: ev.RunFailed,
    RunStatus.PAUSED: ev.RunPaused,
    RunStatus.CANCELLED: ev.RunCancelled,
}
_CHILD_FINAL = (ev.RunCompleted, ev.RunFailed, ev.RunPaused, ev.RunCancelled)


class StepError(CoveyError):
    """A step's child run failed, or was cancelled from outside the workflow."""


class Paused(Exception):  # noqa: N818 - internal signal
    """A step paused; the workflow pauses once its other branches settled."""


@dataclass(slots=True, eq=False)
class _Handle(RunHandle):
    """A workflow run's cancel switch: it also stops the child runs and steps in flight."""

    children: set[str] = field(default_factory=set[str])
    scopes: set[anyio.CancelScope] = field(default_factory=set[anyio.CancelScope])

    def cancel(self, *, error: BaseException | None = None) -> None:
        """Cancel the run, the child runs it is waiting for and the function steps in flight."""
        RunHandle.cancel(self, error=error)
        for child in list(self.children):
            handle = active_run(child)
            if handle is not None:
                handle.cancel(error=error)
        for scope in list(self.scopes):
            scope.cancel()


@dataclass(slots=True, kw_only=True)
class WorkflowOptions:
    """What a caller gives one workflow run."""

    input: Any
    run_id: str
    session_id: str | None
    user_id: str | None
    tenant_id: str | None
    parent_run_id: str | None
    deps: Any
    state: dict[str, Any] | None
    store: Store | None
    stream: bool
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])
    forward: bool = True
    """Pass child runs' events on (`run_stream`); `run` reads only the workflow's own."""
    learners: tuple[Learner, ...] = ()
    """`Workflow(learning=...)`: they learn from the run when it completed."""


@dataclass(slots=True, eq=False)
class Frame:
    node: Node
    path: str
    parent: Frame | None
    step_run_id: str | None = None
    started: bool = False


class Out:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: Any = None


_DEFAULTS: dict[type[Any], tuple[dict[str, Any], tuple[str, ...]]] = {}


def construct(cls: type[ev.BaseEvent], fields: dict[str, Any]) -> ev.BaseEvent:
    """`cls.model_construct(**fields)` for trusted fields, with the class's defaults read
    once: two events per step made this the largest cost of a step."""
    found = _DEFAULTS.get(cls)
    if found is None:
        defaults: dict[str, Any] = {}
        made: list[str] = []
        for name, info in cls.model_fields.items():
            if info.default_factory is not None:
                made.append(name)
            elif not info.is_required():
                defaults[name] = info.default
        found = _DEFAULTS[cls] = (defaults, tuple(made))
    static, factories = found
    values = {**static, **fields}
    for name in factories:
        if name not in values:
            values[name] = cls.model_fields[name].get_default(call_default_factory=True)
    event = cls.__new__(cls)
    object.__setattr__(event, "__dict__", values)
    object.__setattr__(event, "__pydantic_fields_set__", set(fields))
    object.__setattr__(event, "__pydantic_extra__", None)
    object.__setattr__(event, "__pydantic_private__", None)
    return event


def jsonable(value: Any, *, strict: bool = True) -> Any:
    """A value as JSON-like data for a stored record (`strict`: what cannot be stored is an
    error) or an event (not `strict`: such a value is shown by its `repr`)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return to_jsonable_python(value, fallback=None if strict else repr)


_Runner = Callable[["WorkflowRun", Frame, Any, Out, "int | None"], AsyncIterator[ev.BaseEvent]]
_RUNNERS: dict[str, _Runner] = {}
"""How each kind of step runs (filled on first use: those modules import this one)."""


class WorkflowRun:
    """One run of one workflow: `events()` runs it and yields every event."""

    __slots__ = (
        "ctx",
        "decisions",
        "done",
        "final",
        "flush_lock",
        "handle",
        "name",
        "nodes",
        "open",
        "options",
        "ordinal",
        "outputs",
        "paused_out",
        "paused_runs",
        "persist",
        "requirements",
        "resume",
        "seq",
        "started_at",
        "usage",
    )

    def __init__(
        self,
        name: str,
        nodes: tuple[Node, ...],
        options: WorkflowOptions,
        paused_runs: PausedRuns,
        resume: ResumeState | None = None,
    ) -> None:
        self.name = name
        self.nodes = nodes
        self.options = options
        self.paused_runs = paused_runs
        self.resume = resume
        self.persist = Persistence(
            options.store,
            Scope(tenant_id=options.tenant_id or "default", user_id=options.user_id),
            options.run_id,
        )
        self.ctx: RunContext[Any] = RunContext(
            run_id=options.run_id,
            deps=options.deps,
            session_id=options.session_id,
            user_id=options.user_id,
            tenant_id=options.tenant_id,
            parent_run_id=options.parent_run_id,
            agent_name=name,
            state=dict(options.state or {}),
            metadata=dict(options.metadata),
        )
        self.seq = 0
        self.ordinal = 0
        self.decisions: dict[str, Any] = {}
        self.outputs: dict[str, Any] = {}
        """The latest output of each finished step, by step name."""
        self.done: dict[str, dict[str, Any]] = {}
        """Finished steps by path: output (as stored) and record id."""
        self.paused_out: dict[str, dict[str, Any]] = {}
        self.requirements: list[Requirement] = []
        self.open: dict[str, Frame] = {}
        self.usage = Usage()
        self.final: Any = MISSING
        self.started_at = datetime.now(UTC)
        self.handle = _Handle(options.run_id)
        self.flush_lock = anyio.Lock()
        if resume is not None:
            run = resume.run
            self.seq = int(run.metadata.get("last_seq", 0))
            self.ordinal = resume.ordinal
            self.decisions = dict(resume.decisions)
            self.ctx.state = dict(resume.state)
            self.started_at = run.started_at or self.started_at

    # --- events ----------------------------------------------------------------------------------

    def emit(self, cls: type[ev.BaseEvent], **fields: Any) -> ev.BaseEvent:
        """A new event of the workflow run (next `seq`), buffered for the store."""
        self.seq += 1
        fields.update(
            run_id=self.ctx.run_id,
            parent_run_id=self.ctx.parent_run_id,
            seq=self.seq,
            time=datetime.now(UTC),
            agent_name=self.name,
        )
        event = construct(cls, fields)
        self.persist.add(event)
        return event

    def _fields(self, frame: Frame) -> dict[str, Any]:
        return {"step_name": frame.node.name, "step_path": frame.path, "step_type": frame.node.kind}

    def open_frame(self, frame: Frame) -> list[ev.BaseEvent]:
        """`step.started` for `frame` and every enclosing step not started yet, outermost
        first (a construct whose steps all finished before a resume never starts again)."""
        chain: list[Frame] = []
        found: Frame | None = frame
        while found is not None and not found.started:
            chain.append(found)
            found = found.parent
        events: list[ev.BaseEvent] = []
        for f in reversed(chain):
            f.started = True
            self.open[f.path] = f
            events.append(self.emit(ev.StepStarted, step_run_id=f.step_run_id, **self._fields(f)))
        return events

    def end(self, frame: Frame, cls: type[ev.BaseEvent], **fields: Any) -> ev.BaseEvent:
        self.open.pop(frame.path, None)
        return self.emit(cls, **self._fields(frame), **fields)

    def complete(self, frame: Frame, value: Any) -> list[ev.BaseEvent]:
        if not frame.started:
            return []
        return [self.end(frame, ev.StepCompleted, output=jsonable(value, strict=False))]

    # --- cancellation and the store --------------------------------------------------------------

    async def guard(self, awaitable: Awaitable[T]) -> T:
        """Await in a cancel scope the run's handle can cancel (never across a yield)."""
        handle = self.handle
        if handle.cancelled:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            raise Cancelled
        result: Any = MISSING
        with anyio.CancelScope() as scope:
            handle.scopes.add(scope)
            try:
                result = await awaitable
            finally:
                handle.scopes.discard(scope)
        if scope.cancelled_caught or handle.cancelled or result is MISSING:
            raise Cancelled
        return result

    async def flush(self) -> None:
        """Store the buffered events; concurrent branches take turns (a batch goes once)."""
        async with self.flush_lock:
            await self.persist.flush()

    async def boundary(self) -> None:
        """Before a step: store the events so far, beat the heart, notice a remote cancel."""
        store = self.persist.store
        if store is None:
            if self.handle.cancelled:
                raise Cancelled
            return
        await self.guard(self.flush())
        if await self.guard(store.heartbeat(self.persist.scope, self.ctx.run_id)):
            self.handle.cancel()
            raise Cancelled

    # --- the run ---------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[ev.BaseEvent]:
        """Run, yielding every event; the last one carries the `RunResult`."""
        register(self.ctx.run_id, self.handle)
        try:
            async for event in self._run():
                yield event
        finally:
            unregister(self.handle)

    async def _run(self) -> AsyncIterator[ev.BaseEvent]:
        status = RunStatus.COMPLETED
        error: BaseException | None = None
        started = False
        input_value = self.options.input if self.resume is None else self.resume.run.input
        try:
            await self.guard(self._start())
            started = True
            yield self._run_started(input_value)
            out = Out()
            async for event in self.sequence(self.nodes, None, "", input_value, out, None):
                yield event
            self.final = out.value
        except Paused:
            status = RunStatus.PAUSED
        except Cancelled:
            error = self.handle.error
            status = RunStatus.CANCELLED if error is None else RunStatus.FAILED
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                error = self.handle.error
                self._close_open(RunStatus.CANCELLED if error is None else RunStatus.FAILED, error)
                result = self._result(RunStatus.CANCELLED, error)
                self.emit(ev.RunCancelled if error is None else ev.RunFailed, result=result)
                await self._finish(result)
            raise
        except Exception as exc:
            status, error = RunStatus.FAILED, exc
            if not started:
                yield self._run_started(input_value)
        for event in self._close_open(status, error):
            yield event
        if self.persist.store is not None and self.ctx.session_id is not None and started:
            try:
                with anyio.CancelScope(shield=True):
                    await self.persist.close_session(
                        self.ctx.session_id,
                        agent_id=self.name,
                        user_id=self.ctx.user_id,
                        state=self.ctx.state,
                    )
            except Exception as exc:
                status, error = RunStatus.FAILED, exc
        result = self._result(status, error)
        background: list[Learner] = []
        shown = result
        if self.options.learners and result.status is RunStatus.COMPLETED:
            from covey.core.workflow.learning import learn_after

            learned, background, shown = await learn_after(
                self.options.learners, self.learning_run(), result, input_value, self.emit
            )
            for event in learned:
                yield event
        final = self.emit(_FINAL[result.status], result=result)
        with anyio.CancelScope(shield=True):
            await self._finish(result)
        if background:
            from covey.core.workflow.learning import start_after

            start_after(background, self.learning_run(), shown, self.seq)
        yield final

    def learning_run(self) -> LearningRun:
        """This workflow run as its learners see it."""
        from covey.core.workflow.learning import learning_run

        return learning_run(
            scope=self.persist.scope,
            run_id=self.ctx.run_id,
            session_id=self.ctx.session_id,
            name=self.name,
            parent_run_id=self.ctx.parent_run_id,
            store=self.persist.store,
        )

    def _run_started(self, input_value: Any) -> ev.BaseEvent:
        return self.emit(
            ev.RunStarted,
            session_id=self.ctx.session_id,
            user_id=self.ctx.user_id,
            input=jsonable(input_value, strict=False),
            resumed=self.resume is not None,
        )

    async def _start(self) -> None:
        persist = self.persist
        session_id = self.ctx.session_id
        if persist.store is not None and session_id is not None:
            state = await persist.open_session(
                session_id,
                agent_id=self.name,
                user_id=self.ctx.user_id,
                state=dict(self.options.state or {}) if self.resume is None else {},
            )
            state.update(self.ctx.state if self.resume is not None else {})
            self.ctx.state = state
        if persist.store is not None:
            await persist.save_run(self._record(RunStatus.RUNNING, None))

    def _close_open(self, status: RunStatus, error: BaseException | None) -> list[ev.BaseEvent]:
        closing: list[ev.BaseEvent] = []
        info = ErrorInfo.from_exception(error) if error is not None else None
        for frame in reversed(list(self.open.values())):
            if status is RunStatus.PAUSED:
                closing.append(self.end(frame, ev.StepPaused))
            elif status is RunStatus.CANCELLED or info is None:
                closing.append(self.end(frame, ev.StepCancelled))
            else:
                closing.append(self.end(frame, ev.StepFailed, error=info))
        return closing

    # --- results and records ---------------------------------------------------------------------

    def _result(self, status: RunStatus, error: BaseException | None) -> RunResult[Any]:
        if error is not None:
            status = RunStatus.FAILED
        done = status is RunStatus.COMPLETED and self.final is not MISSING
        result: RunResult[Any] = RunResult.model_construct(
            run_id=self.ctx.run_id,
            session_id=self.ctx.session_id,
            agent_id=self.name,
            parent_run_id=self.ctx.parent_run_id,
            user_id=self.ctx.user_id,
            status=status,
            output=self.final if done else None,
            usage=self.usage,
            messages=[],
            tool_calls=[],
            requirements=list(self.requirements) if status is RunStatus.PAUSED else [],
            error=ErrorInfo.from_exception(error) if error is not None else None,
            started_at=self.started_at,
            finished_at=None
            if status in (RunStatus.PAUSED, RunStatus.RUNNING)
            else datetime.now(UTC),
        )
        result._exception = error  # pyright: ignore[reportPrivateUsage]
        return result

    def snapshot(self) -> dict[str, Any]:
        """The workflow as a step sees it, kept on the step's record for a resume."""
        return {
            "ordinal": self.ordinal,
            "state": dict(self.ctx.state),
            "decisions": dict(self.decisions),
        }

    def _record(self, status: RunStatus, result: RunResult[Any] | None) -> Run:
        if result is None:
            result = self._result(status, None)
        metadata = dict(self.options.metadata)
        metadata.update(kind="workflow", last_seq=self.seq, **self.snapshot())
        if status is RunStatus.PAUSED:
            metadata["paused_steps"] = dict(self.paused_out)
            if self.persist.store is None:
                metadata["finished"] = dict(self.done)
        strict = self.persist.store is not None
        run = Run.from_result(
            result.model_copy(update={"output": jsonable(result.output, strict=strict)}),
            input=jsonable(self.options.input, strict=strict),
            metadata=metadata,
        )
        if self.resume is not None:
            run.input = self.resume.run.input
        return run

    async def _finish(self, result: RunResult[Any]) -> None:
        if self.persist.store is None:
            if result.status is RunStatus.PAUSED:
                self.paused_runs.keep(self._record(result.status, result))
            return
        record = self._record(result.status, result)
        try:
            await self.persist.flush()
        except NotFoundError:
            await self.persist.save_run(record)
            await self.persist.flush()
        else:
            await self.persist.save_run(record)

    # --- the step tree ---------------------------------------------------------------------------

    def step_input(
        self, frame: Frame, previous: Any, iteration: int | None, decisions: dict[str, Any]
    ) -> StepInput[Any]:
        """What a function step, predicate or selector at `frame` is given."""
        input_value = self.options.input if self.resume is None else self.resume.run.input
        return StepInput(
            input=input_value,
            previous=previous,
            outputs=self.outputs,
            state=self.ctx.state,
            ctx=self.ctx,
            step_name=frame.node.name,
            step_path=frame.path,
            iteration=iteration,
            decisions=decisions,
        )

    async def sequence(
        self,
        nodes: tuple[Node, ...],
        parent: Frame | None,
        prefix: str,
        previous: Any,
        out: Out,
        iteration: int | None,
    ) -> AsyncIterator[ev.BaseEvent]:
        value = previous
        for node in nodes:
            step_out = Out()
            frame = Frame(node, prefix + node.segment, parent)
            async for event in self.node(frame, value, step_out, iteration):
                yield event
            value = step_out.value
        out.value = value

    def node(
        self, frame: Frame, previous: Any, out: Out, iteration: int | None
    ) -> AsyncIterator[ev.BaseEvent]:
        """Run the step at `frame`."""
        runners = _RUNNERS
        if not runners:
            from covey.core.workflow import constructs, leaves

            runners.update(
                function=leaves.function_step,
                agent=leaves.runnable_step,
                steps=constructs.group,
                parallel=constructs.parallel,
                condition=constructs.condition,
                loop=constructs.loop,
                router=constructs.router,
            )
        return runners[frame.node.kind](self, frame, previous, out, iteration)

    async def decide(self, fn: Callable[..., Any], argument: StepInput[Any]) -> Any:
        """Call a predicate or selector, sync or async."""
        if inspect.iscoroutinefunction(fn):
            return await self.guard(fn(argument))
        value = fn(argument)
        if inspect.isawaitable(value):
            return await self.guard(value)
        return value
