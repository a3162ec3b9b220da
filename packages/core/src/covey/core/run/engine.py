"""`RunEngine`: drives one run of a `RunPlan`, yielding its events (and, for `iter()`, the
steps it stops at). It knows plans, never the definitions (agents, teams) they come from."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, cast

import anyio

from covey.core.cancellation import RunHandle, register, unregister
from covey.core.fallback import FallbackChain
from covey.core.output import OutputSpec, resolve_output_mode
from covey.core.run import model_step
from covey.core.run.hooks import call_hook, checked_input
from covey.core.run.lifecycle import (
    build_result,
    close_open,
    close_session,
    finish,
    input_json,
    run_record,
    start,
)
from covey.core.run.nodes import CallToolsNode, End, ModelRequestNode, RunNode
from covey.core.run.options import ResumeInput, RunOptions
from covey.core.run.output_step import handle_response
from covey.core.run.persistence import Persistence
from covey.core.run.plan import Hook, RunPlan
from covey.core.run.state import MISSING, Cancelled, Pause, RunState
from covey.core.run.stream_gate import StreamGate
from covey.core.run.tool_step import resume_pending
from covey.core.summaries import summary_section
from covey.core.tool_calls import ToolEntry, collect_tools
from covey.spec import (
    ModelRequest,
    ModelRequestParams,
    ModelResponse,
    ModelSettings,
    OutputMode,
    RunContext,
    RunResult,
    RunStatus,
    SystemPart,
    UserPart,
)
from covey.spec import events as ev
from covey.spec.errors import GuardrailTripped
from covey.spec.learning import Learner, LearningRun
from covey.spec.store import Scope

__all__ = ["RunEngine"]

T = TypeVar("T")
_FINAL: dict[RunStatus, type[ev.BaseEvent]] = {
    RunStatus.COMPLETED: ev.RunCompleted,
    RunStatus.FAILED: ev.RunFailed,
    RunStatus.PAUSED: ev.RunPaused,
    RunStatus.CANCELLED: ev.RunCancelled,
}


class RunEngine:
    """One run of one plan: `events()` for its events, `items()` for events and steps."""

    __slots__ = (
        "chain",
        "ctx",
        "gate",
        "handle",
        "options",
        "output",
        "output_mode",
        "output_tool_names",
        "persist",
        "plan",
        "resume",
        "settings",
        "state",
        "stream",
        "summary",
        "system_prompt",
        "tools",
    )

    def __init__(
        self, plan: RunPlan, options: RunOptions, resume: ResumeInput | None = None
    ) -> None:
        self.plan = plan
        self.options = options
        self.resume = resume
        scope = Scope(tenant_id=options.tenant_id or "default", user_id=options.user_id)
        self.persist = Persistence(options.store, scope, options.run_id)
        self.state = RunState()
        self.ctx: RunContext[Any] = RunContext(
            run_id=options.run_id,
            deps=options.deps,
            session_id=options.session_id,
            user_id=options.user_id,
            tenant_id=options.tenant_id,
            parent_run_id=options.parent_run_id,
            agent_name=plan.name,
            state=options.shared_state
            if options.shared_state is not None
            else dict(options.state or {}),
            model=options.model,
            metadata=dict(options.metadata),
        )
        self.ctx.messages = self.state.messages
        self.chain = FallbackChain(options.model)
        self.handle: RunHandle | None = None
        self.system_prompt = ""
        self.summary: str | None = None
        """The session summary sent with this run's history (`session_summary`)."""
        self.tools: dict[str, ToolEntry] = {}
        self.output: OutputSpec | None = None
        self.output_mode: OutputMode = "text"
        self.output_tool_names: frozenset[str] = frozenset()
        base = plan.model_settings
        self.settings: ModelSettings | None = (
            options.model_settings if base is None else base.merge(options.model_settings)
        )
        self.stream = model_step.StreamTranslator()
        # Streamed text is held for the output guardrails that check streams (none: no gate,
        # today's path).
        self.gate: StreamGate | None = (
            StreamGate.of(plan.post_hooks) if options.stream and plan.post_hooks else None
        )

    # --- events, steps, cancellation -------------------------------------------------------------

    def emit(self, cls: type[ev.BaseEvent], **fields: Any) -> ev.BaseEvent:
        """A new event of the run (next `seq`), buffered for the store."""
        self.state.seq += 1
        event = cls.model_construct(
            run_id=self.ctx.run_id,
            parent_run_id=self.ctx.parent_run_id,
            seq=self.state.seq,
            time=datetime.now(UTC),
            agent_name=self.plan.name,
            **fields,
        )
        self.persist.add(event)
        return event

    async def step(self, awaitable: Awaitable[T]) -> T:
        """Await one step in a cancel scope the run's handle can cancel (never across a yield)."""
        handle = self.handle
        assert handle is not None
        if handle.cancelled:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            raise Cancelled
        result: Any = MISSING
        with anyio.CancelScope() as scope:
            handle.scope = scope
            result = await awaitable
        handle.scope = None
        if scope.cancelled_caught or handle.cancelled or result is MISSING:
            raise Cancelled
        return result

    async def _boundary(self) -> None:
        """Between steps: beat the heart, and notice a cancel asked for by another process."""
        store = self.persist.store
        if store is not None and await self.step(
            store.heartbeat(self.persist.scope, self.ctx.run_id)
        ):
            assert self.handle is not None
            self.handle.cancelled = True
            raise Cancelled

    async def call_hook(self, hook: Hook, value: Any) -> Any:
        """Call a run hook or validator, sync ones in a worker thread."""
        return await call_hook(hook, self.ctx, value)

    # --- the run ---------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[ev.BaseEvent]:
        """Run, yielding every event; the last one carries the `RunResult`."""
        async for item in self.items():
            if isinstance(item, ev.BaseEvent):
                yield item

    async def items(self) -> AsyncIterator[ev.BaseEvent | RunNode]:
        """Run, yielding every event and, before each step, the node of that step."""
        self.handle = register(self.ctx.run_id)
        try:
            async with AsyncExitStack() as toolsets:
                async for item in self._run(toolsets):
                    yield item
        finally:
            unregister(self.handle)

    async def _run(self, toolsets: AsyncExitStack) -> AsyncIterator[ev.BaseEvent | RunNode]:
        status = RunStatus.COMPLETED
        error: BaseException | None = None
        started = False
        try:
            await self.step(start(self))
            if self.resume is None:
                await self._input_hooks()
            started = True
            run_started = self.emit(
                ev.RunStarted,
                session_id=self.ctx.session_id,
                user_id=self.ctx.user_id,
                input=input_json(self.options.input),
                resumed=self.resume is not None,
            )
            # The record (with the input) and `run.started` in one store call, before any model
            # or tool work, so a crash loses neither.
            if self.persist.store is not None:
                await self.step(self.persist.save_run(run_record(self, RunStatus.RUNNING)))
            yield run_started
            await self.step(self._prepare(toolsets))
            if self.resume is not None:
                async for event in resume_pending(self):
                    yield event
            async for item in self._loop():
                yield item
        except Pause:
            status = RunStatus.PAUSED
        except Cancelled:
            assert self.handle is not None
            # Stopped with a reason (a time limit, a shutdown): the run failed with it.
            error = self.handle.error
            status = RunStatus.CANCELLED if error is None else RunStatus.FAILED
        except anyio.get_cancelled_exc_class():
            # The caller's task was cancelled: nobody is left to yield to, so close the run in
            # the store (shielded) and let the cancellation go on.
            with anyio.CancelScope(shield=True):
                error = self.handle.error if self.handle is not None else None
                close_open(self, cancelled=error is None, error=error)
                result = build_result(self, RunStatus.CANCELLED, error)
                self.emit(ev.RunCancelled if error is None else ev.RunFailed, result=result)
                await finish(self, toolsets, result)
            raise
        except Exception as exc:
            status = RunStatus.FAILED
            error = exc
            if not started:
                yield self.emit(
                    ev.RunStarted,
                    session_id=self.ctx.session_id,
                    user_id=self.ctx.user_id,
                    input=input_json(self.options.input),
                    resumed=self.resume is not None,
                )

        for event in close_open(self, cancelled=status is RunStatus.CANCELLED, error=error):
            yield event
        if isinstance(error, GuardrailTripped):
            # Right before `run.failed`, after the model request it cut short (a stream check).
            yield self._tripped(error, None)
        status, error, keep_output = await close_session(self, status, error, started=started)
        if status is RunStatus.COMPLETED:
            result = build_result(self, RunStatus.COMPLETED, None)
            try:
                for hook in self.plan.post_hooks:
                    changed: object = await call_hook(hook, self.ctx, result)
                    if isinstance(changed, RunResult) and changed is not result:
                        # Only the output is taken (a masking guardrail's): the status stays.
                        changed = cast("RunResult[Any]", changed)
                        result = result.model_copy(update={"output": changed.output})
            except Exception as exc:
                tripped = (
                    self._tripped(exc, "output") if isinstance(exc, GuardrailTripped) else None
                )
                result = build_result(self, RunStatus.FAILED, exc)
                if tripped is not None:
                    yield tripped
        else:
            result = build_result(self, status, error, keep_output=keep_output)
        background: list[Learner] = []
        if self.plan.learners and result.status is RunStatus.COMPLETED:
            from covey.core.learning import run_learners, split_learners

            foreground, background = split_learners(self.plan.learners)
            if foreground:
                for event in await run_learners(foreground, self.learning_run(), result, self.emit):
                    yield event
        final_event = self.emit(
            _FINAL[result.status],
            # Events show what the stream checks released, the run's record its messages.
            result=result if self.gate is None else self.gate.shown_result(result),
        )
        with anyio.CancelScope(shield=True):
            await finish(self, toolsets, result)
        if background:
            from covey.core.learning import start_background_learning

            start_background_learning(background, self.learning_run(), result, self.state.seq)
        yield final_event
        yield End(result)

    async def _input_hooks(self) -> None:
        """The pre-run hooks (input guardrails), before `run.started` and the first record.

        A hook may return the input to run with instead (a masking guardrail's), so what is
        stored and what the model is sent is the changed input; `None` keeps it.
        """
        for hook in self.plan.pre_hooks:
            try:
                changed = await self.step(self.call_hook(hook, self.options.input))
            except GuardrailTripped as exc:
                if exc.stage is None:
                    exc.stage = "input"
                raise
            if changed is not None:
                self.options.input = checked_input(changed, hook)

    def _tripped(
        self, exc: GuardrailTripped, stage: Literal["input", "output"] | None
    ) -> ev.BaseEvent:
        if exc.stage is None:
            exc.stage = stage
        return self.emit(
            ev.GuardrailTripped, guardrail=exc.guardrail, stage=exc.stage, reason=exc.reason
        )

    def learning_run(self) -> LearningRun:
        """This run as its learners see it."""
        return LearningRun(
            scope=self.persist.scope,
            run_id=self.ctx.run_id,
            session_id=self.ctx.session_id,
            agent_name=self.plan.name,
            parent_run_id=self.ctx.parent_run_id,
            store=self.persist.store,
        )

    async def _prepare(self, toolsets: AsyncExitStack) -> None:
        plan = self.plan
        for toolset in plan.toolsets:
            await toolsets.enter_async_context(toolset)
        self.tools = await collect_tools(plan.toolsets, self.ctx)
        output_instructions = None
        if plan.output is not None:
            self.output = plan.output
            self.output_mode = resolve_output_mode(plan.output_mode, self.chain.current.profile)
            if self.output_mode == "tool":
                self.output_tool_names = frozenset({plan.output.output_tool().name})
            if self.output_mode == "prompted":
                output_instructions = plan.output.prompt_instructions()
        self.system_prompt = await plan.instructions.render(self.ctx, output_instructions)
        if plan.knowledge is not None and self.resume is None:
            passages = await plan.knowledge.context(self.ctx, self.options.input)
            if passages:
                self.system_prompt = (
                    f"{self.system_prompt}\n\n{passages}" if self.system_prompt else passages
                )
        if plan.learners and self.resume is None:
            from covey.core.instructions import input_text
            from covey.core.learning import learning_context

            known = await learning_context(
                plan.learners, self.learning_run(), self.ctx, input_text(self.options.input)
            )
            if known:
                self.system_prompt = (
                    f"{self.system_prompt}\n\n{known}" if self.system_prompt else known
                )
        if self.summary:
            section = summary_section(self.summary)
            self.system_prompt = (
                f"{self.system_prompt}\n\n{section}" if self.system_prompt else section
            )
        if self.resume is None and self.options.input is not None:
            parts: list[Any] = []
            if self.system_prompt:
                parts.append(SystemPart(content=self.system_prompt))
            content = self.options.input
            parts.append(UserPart(content=content if isinstance(content, str) else list(content)))
            self.state.messages.append(ModelRequest(parts=parts, run_id=self.ctx.run_id))

    def model_messages(self) -> list[ModelRequest | ModelResponse]:
        """What the model is sent: the system prompt, history, then this run's messages."""
        messages, history = self.state.messages, self.state.history
        if not history:
            return messages
        if not self.system_prompt:
            return [*history, *messages]
        first = messages[0] if messages else None
        rest = messages
        if isinstance(first, ModelRequest) and any(isinstance(p, SystemPart) for p in first.parts):
            stripped: list[Any] = [p for p in first.parts if not isinstance(p, SystemPart)]
            rest = [ModelRequest(parts=stripped, run_id=first.run_id), *messages[1:]]
        system = ModelRequest(parts=[SystemPart(content=self.system_prompt)])
        return [system, *history, *rest]

    def params(self) -> ModelRequestParams:
        """The request parameters: tools, output mode and schema, tool choice."""
        function_tools = [e.definition for e in self.tools.values()]
        params = ModelRequestParams(
            function_tools=function_tools,
            output_mode=self.output_mode,
            allow_text_output=self.output is None,
        )
        if self.output is not None:
            if self.output_mode == "tool":
                params.output_tools = [self.output.output_tool()]
            else:
                params.output_schema = self.output.output_schema()
                params.allow_text_output = True
        choice = self.plan.tool_choice
        # A forced tool choice applies to the first request only: forcing it again after the
        # tools ran would keep the model calling tools until a limit stops the run.
        if choice != "auto" and self.state.step <= 1 and self.resume is None:
            params.tool_choice = choice
        elif self.output_mode == "tool" and self.output is not None and not function_tools:
            params.tool_choice = "required"
        return params

    async def _loop(self) -> AsyncIterator[ev.BaseEvent | RunNode]:
        limits = self.plan.usage_limits
        state = self.state
        while state.final is MISSING:
            await self._boundary()
            limits.check_before_request(self.ctx.usage)
            for budget in self.options.budgets:
                budget.limits.check_before_request(budget.usage)
            state.step += 1
            yield ModelRequestNode(state.step, state.messages)
            response: ModelResponse | None = None
            async for item in model_step.request(self):
                if isinstance(item, ModelResponse):
                    response = item
                else:
                    yield item
            assert response is not None
            response.run_id = self.ctx.run_id
            state.messages.append(response)
            usage = response.usage
            if usage.requests == 0:
                usage = usage.model_copy(update={"requests": 1})
            self.ctx.usage.incr(usage)
            for budget in self.options.budgets:
                budget.usage.incr(usage)
            yield self.emit(
                ev.ModelRequestCompleted,
                model_name=state.open_model_request or self.chain.current.model_name,
                step=state.step,
                # The model's own words stay in the run's messages; its event shows what the
                # stream checks released.
                response=response if self.gate is None else self.gate.show(response),
                usage=usage,
            )
            state.open_model_request = None
            limits.check_tokens(self.ctx.usage)
            for budget in self.options.budgets:
                budget.limits.check_tokens(budget.usage)
            yield CallToolsNode(state.step, response)
            async for event in handle_response(self, response):
                yield event
            if state.final is MISSING:
                state.messages.append(
                    ModelRequest(parts=[*state.take_parts()], run_id=self.ctx.run_id)
                )
