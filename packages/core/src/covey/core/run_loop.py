"""The one async run loop: model requests, tool calls, output, pauses, cancellation, events.

`RunLoop.events()` is an async generator of run events. A streaming run yields them; a plain
run consumes the same generator and returns the `RunResult` the last event carries. Nothing here
is stored on the agent: everything per run lives on the `RunLoop` and its `RunContext`.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from covey.core.cancellation import RunHandle, register, unregister
from covey.core.fallback import FallbackModel
from covey.core.history import repair_history, trim_to_budget
from covey.core.instructions import render_instructions
from covey.core.output import OutputSpec, resolve_output_mode, validation_errors
from covey.core.tool_calls import ToolEntry, ToolOutcome, collect_tools, run_tool_calls
from covey.spec import (
    ChatModel,
    ErrorInfo,
    FinalResponseEvent,
    ModelRequest,
    ModelRequestParams,
    ModelResponse,
    ModelSettings,
    ModelStreamEvent,
    OutputMode,
    PartDeltaEvent,
    PartStartEvent,
    Requirement,
    RetryPart,
    RunContext,
    RunResult,
    RunStatus,
    SystemPart,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
    ToolCallPart,
    ToolCallRecord,
    ToolReturnPart,
    Toolset,
    UserContent,
    UserPart,
)
from covey.spec import events as ev
from covey.spec.errors import (
    ConflictError,
    ModelRetry,
    OutputValidationError,
    UnexpectedModelBehavior,
)
from covey.spec.store import Run, Scope, Session, Store

if TYPE_CHECKING:
    from covey.core.agent import Agent

__all__ = ["ResumeInput", "RunLoop", "RunOptions"]

T = TypeVar("T")
_OUTPUT_RETRIES = "__output__"
_MISSING: Any = object()
_NOT_RUN = "Not run: the final result was already given."


class _Cancelled(Exception):  # noqa: N818 - internal signal, never escapes the loop
    """The run's handle was cancelled while a step was in flight."""


class _Pause(Exception):  # noqa: N818 - internal signal, never escapes the loop
    """The run must pause for its requirements."""


@dataclass(slots=True, kw_only=True)
class RunOptions:
    """Everything a caller gives one run."""

    input: str | Sequence[UserContent] | None
    run_id: str
    session_id: str | None
    user_id: str | None
    tenant_id: str | None
    parent_run_id: str | None
    deps: Any
    state: dict[str, Any] | None
    message_history: Sequence[ModelRequest | ModelResponse] | None
    model: ChatModel
    model_settings: ModelSettings | None
    store: Store | None
    stream: bool
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])


@dataclass(slots=True, kw_only=True)
class ResumeInput:
    """The decisions a paused run waits for, and the run they apply to."""

    run: Run
    approvals: dict[str, Any]
    inputs: dict[str, dict[str, Any]]
    results: dict[str, Any]


class RunLoop:
    """One run of one agent."""

    def __init__(
        self, agent: Agent[Any, Any], options: RunOptions, resume: ResumeInput | None = None
    ) -> None:
        self.agent = agent
        self.options = options
        self.resume = resume
        self.scope = Scope(tenant_id=options.tenant_id or "default", user_id=options.user_id)
        self.ctx: RunContext[Any] = RunContext(
            run_id=options.run_id,
            deps=options.deps,
            session_id=options.session_id,
            user_id=options.user_id,
            tenant_id=options.tenant_id,
            parent_run_id=options.parent_run_id,
            agent_name=agent.name,
            state=dict(options.state or {}),
            model=options.model,
            metadata=dict(options.metadata),
        )
        self.messages: list[ModelRequest | ModelResponse] = []
        self.ctx.messages = self.messages
        self.history: list[ModelRequest | ModelResponse] = []
        self.tool_calls: list[ToolCallRecord] = []
        self.requirements: list[Requirement] = []
        self.seq = 0
        self.step = 0
        self.model_index = 0
        self.started_at = datetime.now(UTC)
        self.handle: RunHandle | None = None
        self.system_prompt = ""
        self.tools: dict[str, ToolEntry] = {}
        self.output: OutputSpec | None = None
        self.output_mode: OutputMode = "text"
        self.output_tool_names: frozenset[str] = frozenset()
        self.session: Session | None = None
        self.initial_state: dict[str, Any] = {}
        self.pending_events: list[ev.BaseEvent] = []
        self.open_model_request: str | None = None
        self.open_tool_calls: dict[str, str] = {}
        self.pending_parts: list[ToolReturnPart | RetryPart] = []
        self.final: Any = _MISSING
        self.settings = self._merged_settings()
        self._partial_raw: dict[int, str] = {}
        self._last_partial: Any = _MISSING

    # --- events ----------------------------------------------------------------------------------

    def _event(self, cls: type[ev.BaseEvent], **fields: Any) -> ev.BaseEvent:
        self.seq += 1
        event = cls.model_construct(
            run_id=self.ctx.run_id,
            parent_run_id=self.ctx.parent_run_id,
            seq=self.seq,
            time=datetime.now(UTC),
            agent_name=self.agent.name,
            **fields,
        )
        if self.options.store is not None:
            self.pending_events.append(event)
        return event

    async def _flush(self) -> None:
        store = self.options.store
        if store is None or not self.pending_events:
            return
        batch, self.pending_events = self.pending_events, []
        await store.append_events(self.scope, self.ctx.run_id, batch)

    # --- steps and cancellation ----------------------------------------------------------------

    async def _step(self, awaitable: Awaitable[T]) -> T:
        """Await one step in a cancel scope the run's handle can cancel (never across a yield)."""
        handle = self.handle
        assert handle is not None
        if handle.cancelled:
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            raise _Cancelled
        result: Any = _MISSING
        with anyio.CancelScope() as scope:
            handle.scope = scope
            result = await awaitable
        handle.scope = None
        if scope.cancelled_caught or handle.cancelled or result is _MISSING:
            raise _Cancelled
        return result

    async def _boundary(self) -> None:
        """Between steps: beat the heart, and notice a cancel asked for by another process."""
        store = self.options.store
        if store is not None and await self._step(store.heartbeat(self.scope, self.ctx.run_id)):
            assert self.handle is not None
            self.handle.cancelled = True
            raise _Cancelled

    # --- the run ---------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[ev.BaseEvent]:
        """Run, yielding every event; the last one carries the `RunResult`."""
        self.handle = register(self.ctx.run_id)
        try:
            async for event in self._run():
                yield event
        finally:
            unregister(self.handle)

    async def _run(self) -> AsyncIterator[ev.BaseEvent]:
        status = RunStatus.COMPLETED
        error: BaseException | None = None
        try:
            await self._step(self._prepare())
            yield self._event(
                ev.RunStarted,
                session_id=self.ctx.session_id,
                user_id=self.ctx.user_id,
                input=_input_json(self.options.input),
                resumed=self.resume is not None,
            )
            await self._save_run(RunStatus.RUNNING)
            await self._flush()
            if self.resume is None:
                for hook in self.agent.pre_hooks:
                    await self._step(_call_hook(hook, self.ctx, self.options.input))
            else:
                async for event in self._resume_pending():
                    yield event
            async for event in self._loop():
                yield event
        except _Pause:
            status = RunStatus.PAUSED
        except _Cancelled:
            assert self.handle is not None
            # Stopped with a reason (a time limit, a shutdown): the run failed with it.
            error = self.handle.error
            status = RunStatus.CANCELLED if error is None else RunStatus.FAILED
        except anyio.get_cancelled_exc_class():
            # The caller's task was cancelled: nobody is left to yield to, so close the run in
            # the store (shielded) and let the cancellation go on.
            with anyio.CancelScope(shield=True):
                # A stop with a reason asked for first still decides how the run ends.
                error = self.handle.error if self.handle is not None else None
                for _ in self._close_open(cancelled=error is None, error=error):
                    pass
                result = self._result(RunStatus.CANCELLED, error)
                self._event(ev.RunCancelled if error is None else ev.RunFailed, result=result)
                await self._finish_store(result)
            raise
        except Exception as exc:
            status = RunStatus.FAILED
            error = exc

        for event in self._close_open(cancelled=status is RunStatus.CANCELLED, error=error):
            yield event
        store = self.options.store
        if store is not None and self.ctx.session_id is not None:
            try:
                with anyio.CancelScope(shield=True):
                    await self._save_session(store)
            except Exception as exc:
                status, error = RunStatus.FAILED, exc
        if status is RunStatus.COMPLETED:
            result = self._result(RunStatus.COMPLETED, None)
            try:
                for hook in self.agent.post_hooks:
                    await _call_hook(hook, self.ctx, result)
            except Exception as exc:
                result = self._result(RunStatus.FAILED, exc)
        else:
            result = self._result(status, error)
        final_cls: type[ev.BaseEvent] = {
            RunStatus.COMPLETED: ev.RunCompleted,
            RunStatus.FAILED: ev.RunFailed,
            RunStatus.PAUSED: ev.RunPaused,
            RunStatus.CANCELLED: ev.RunCancelled,
        }[result.status]
        final_event = self._event(final_cls, result=result)
        with anyio.CancelScope(shield=True):
            await self._finish_store(result)
        yield final_event

    def _close_open(
        self, *, cancelled: bool, error: BaseException | None = None
    ) -> list[ev.BaseEvent]:
        """Close every started subject so each `.started` has exactly one ending."""
        closing: list[ev.BaseEvent] = []
        info = ErrorInfo.from_exception(error) if error else ErrorInfo(type="Cancelled", message="")
        for call_id, name in list(self.open_tool_calls.items()):
            if cancelled:
                closing.append(
                    self._event(ev.ToolCallCancelled, tool_call_id=call_id, tool_name=name)
                )
            else:
                closing.append(
                    self._event(
                        ev.ToolCallFailed, tool_call_id=call_id, tool_name=name, error=info.message
                    )
                )
        self.open_tool_calls.clear()
        if self.open_model_request is not None:
            name = self.open_model_request
            if cancelled:
                closing.append(
                    self._event(ev.ModelRequestCancelled, model_name=name, step=self.step)
                )
            else:
                closing.append(
                    self._event(ev.ModelRequestFailed, model_name=name, step=self.step, error=info)
                )
            self.open_model_request = None
        return closing

    async def _prepare(self) -> None:
        agent = self.agent
        store = self.options.store
        if store is not None and self.ctx.session_id is not None:
            await self._load_session(store)
        if self.options.message_history is not None:
            self.history = repair_history(self.options.message_history)

        toolsets = agent.toolsets()
        for toolset in toolsets:
            await toolset.__aenter__()
        self._entered: Sequence[Toolset] = toolsets
        self.tools = await collect_tools(toolsets, self.ctx)

        output_instructions = None
        if agent.output_type is not str and agent.output_type is not None:
            self.output = agent.output_spec()
            self.output_mode = resolve_output_mode(agent.output_mode, self._model().profile)
            if self.output_mode == "tool":
                self.output_tool_names = frozenset({self.output.output_tool().name})
            if self.output_mode == "prompted":
                output_instructions = self.output.prompt_instructions()
        self.system_prompt = await render_instructions(
            agent.instructions,
            self.ctx,
            description=agent.description,
            expected_output=agent.expected_output,
            additional_context=agent.additional_context,
            add_datetime=agent.add_datetime,
            markdown=agent.markdown,
            output_instructions=output_instructions,
        )
        if self.resume is not None:
            run = self.resume.run
            self.messages.extend(run.messages)
            self.tool_calls.extend(run.tool_calls)
            self.ctx.usage.incr(run.usage)
            self.seq = int(run.metadata.get("last_seq", 0))
            self.step = int(run.metadata.get("step", 0))
            self.started_at = run.started_at or self.started_at
        elif self.options.input is not None:
            parts: list[Any] = []
            if self.system_prompt:
                parts.append(SystemPart(content=self.system_prompt))
            content = self.options.input
            parts.append(UserPart(content=content if isinstance(content, str) else list(content)))
            self.messages.append(ModelRequest(parts=parts, run_id=self.ctx.run_id))

    async def _load_session(self, store: Store) -> None:
        session_id = self.ctx.session_id
        assert session_id is not None
        self.session = await store.get_session(self.scope, session_id)
        if self.session is not None:
            self.initial_state = dict(self.session.state)
            merged = dict(self.session.state)
            merged.update(self.ctx.state)
            self.ctx.state = merged
        if self.options.message_history is not None or self.agent.history_tokens == 0:
            return
        earlier: list[ModelRequest | ModelResponse] = []
        cursor: str | None = None
        while True:
            page = await store.list_runs(self.scope, session_id=session_id, cursor=cursor)
            for run in page.items:
                if run.id != self.ctx.run_id and run.status in (
                    RunStatus.COMPLETED,
                    RunStatus.FAILED,
                    RunStatus.CANCELLED,
                ):
                    earlier.extend(run.messages)
            cursor = page.next_cursor
            if cursor is None:
                break
        self.history = trim_to_budget(repair_history(earlier), self.agent.history_tokens)

    def _model(self) -> ChatModel:
        model = self.options.model
        if isinstance(model, FallbackModel):
            return model.models[self.model_index]
        return model

    def _merged_settings(self) -> ModelSettings | None:
        base = self.agent.model_settings
        if base is None:
            return self.options.model_settings
        return base.merge(self.options.model_settings)

    def _model_messages(self) -> list[ModelRequest | ModelResponse]:
        if not self.history:
            return self.messages
        if not self.system_prompt:
            return [*self.history, *self.messages]
        first = self.messages[0] if self.messages else None
        rest = self.messages
        if isinstance(first, ModelRequest) and any(isinstance(p, SystemPart) for p in first.parts):
            stripped: list[Any] = [p for p in first.parts if not isinstance(p, SystemPart)]
            rest = [ModelRequest(parts=stripped, run_id=first.run_id), *self.messages[1:]]
        system = ModelRequest(parts=[SystemPart(content=self.system_prompt)])
        return [system, *self.history, *rest]

    def _params(self) -> ModelRequestParams:
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
        choice = self.agent.tool_choice
        # A forced tool choice applies to the first request only: forcing it again after the
        # tools ran would keep the model calling tools until a limit stops the run.
        if choice != "auto" and self.step <= 1 and self.resume is None:
            params.tool_choice = choice
        elif self.output_mode == "tool" and self.output is not None and not function_tools:
            params.tool_choice = "required"
        return params

    async def _loop(self) -> AsyncIterator[ev.BaseEvent]:
        limits = self.agent.usage_limits
        while True:
            if self.final is not _MISSING:
                return
            await self._boundary()
            limits.check_before_request(self.ctx.usage)
            self.step += 1
            response: ModelResponse | None = None
            async for item in self._request():
                if isinstance(item, ModelResponse):
                    response = item
                else:
                    yield item
            assert response is not None
            response.run_id = self.ctx.run_id
            self.messages.append(response)
            usage = response.usage
            if usage.requests == 0:
                usage = usage.model_copy(update={"requests": 1})
            self.ctx.usage.incr(usage)
            yield self._event(
                ev.ModelRequestCompleted,
                model_name=self.open_model_request or self._model().model_name,
                step=self.step,
                response=response,
                usage=usage,
            )
            self.open_model_request = None
            limits.check_tokens(self.ctx.usage)
            async for event in self._handle_response(response):
                yield event
            if self.final is _MISSING:
                self.messages.append(ModelRequest(parts=self._take_parts(), run_id=self.ctx.run_id))

    def _take_parts(self) -> list[Any]:
        parts, self.pending_parts = self.pending_parts, []
        return parts

    # --- model requests ----------------------------------------------------------------------

    async def _request(self) -> AsyncIterator[ev.BaseEvent | ModelResponse]:
        model = self.options.model
        models: list[ChatModel] = model.models if isinstance(model, FallbackModel) else [model]
        policy = self.agent.retry
        params = self._params()
        messages = self._model_messages()
        while True:
            current = models[self.model_index]
            self.open_model_request = current.model_name
            yield self._event(ev.ModelRequestStarted, model_name=current.model_name, step=self.step)
            # Events go to the store before each wait on a model or a tool, so a follower in
            # another process sees what is in flight (text deltas wait for the next flush).
            await self._flush()
            attempt = 0
            while True:
                attempt += 1
                emitted = False
                try:
                    if self.options.stream:
                        response: ModelResponse | None = None
                        stream = current.request_stream(messages, self.settings, params)
                        try:
                            while True:
                                item = await self._step(anext(stream, None))
                                if item is None:
                                    break
                                if isinstance(item, FinalResponseEvent):
                                    response = item.response
                                    continue
                                for event in self._stream_events(item):
                                    emitted = True
                                    yield event
                        finally:
                            with anyio.CancelScope(shield=True):
                                await _aclose(stream)
                        if response is None:
                            raise UnexpectedModelBehavior(
                                f"{current.model_name} ended its stream without a final response"
                            )
                    else:
                        response = await self._step(
                            current.request(messages, self.settings, params)
                        )
                    yield response
                    return
                except _Cancelled:
                    raise
                except Exception as exc:
                    if emitted:
                        raise
                    delay = policy.delay_for(attempt, exc) if policy is not None else None
                    if delay is not None:
                        yield self._event(
                            ev.ModelRequestRetry,
                            model_name=current.model_name,
                            attempt=attempt,
                            delay=delay,
                            error=ErrorInfo.from_exception(exc),
                        )
                        await self._step(anyio.sleep(delay))
                        continue
                    if (
                        isinstance(model, FallbackModel)
                        and self.model_index + 1 < len(models)
                        and model.should_fallback(exc)
                    ):
                        self.model_index += 1
                        info = ErrorInfo.from_exception(exc)
                        yield self._event(
                            ev.ModelRequestFailed,
                            model_name=current.model_name,
                            step=self.step,
                            error=info,
                        )
                        self.open_model_request = None
                        yield self._event(
                            ev.ModelFallback,
                            from_model=current.model_name,
                            to_model=models[self.model_index].model_name,
                            error=info,
                        )
                        break
                    raise

    def _stream_events(self, item: ModelStreamEvent) -> list[ev.BaseEvent]:
        out: list[ev.BaseEvent] = []
        if isinstance(item, PartStartEvent):
            part = item.part
            if isinstance(part, TextPart) and part.content:
                out.append(self._event(ev.TextDelta, delta=part.content, part_index=item.index))
                self._partial_text(item.index, part.content, out)
            elif isinstance(part, ThinkingPart) and part.content:
                out.append(self._event(ev.ThinkingDelta, delta=part.content, part_index=item.index))
            elif isinstance(part, ToolCallPart):
                args = part.args if isinstance(part.args, str) else part.args_as_json()
                out.append(
                    self._event(
                        ev.ToolCallDelta,
                        tool_call_id=part.tool_call_id or None,
                        tool_name=part.tool_name or None,
                        args_delta=args,
                        part_index=item.index,
                    )
                )
                if part.tool_name in self.output_tool_names:
                    self._partial_raw[item.index] = ""
                    self._partial_args(item.index, args, out)
        elif isinstance(item, PartDeltaEvent):
            delta = item.delta
            if isinstance(delta, TextPartDelta):
                out.append(self._event(ev.TextDelta, delta=delta.content, part_index=item.index))
                self._partial_text(item.index, delta.content, out)
            elif isinstance(delta, ThinkingPartDelta):
                if delta.content:
                    out.append(
                        self._event(ev.ThinkingDelta, delta=delta.content, part_index=item.index)
                    )
            else:
                out.append(
                    self._event(
                        ev.ToolCallDelta,
                        tool_call_id=delta.tool_call_id,
                        tool_name=delta.tool_name,
                        args_delta=delta.args_delta,
                        part_index=item.index,
                    )
                )
                if delta.tool_name in self.output_tool_names:
                    self._partial_raw.setdefault(item.index, "")
                self._partial_args(item.index, delta.args_delta, out)
        return out

    def _partial_args(self, index: int, fragment: str, out: list[ev.BaseEvent]) -> None:
        if self.output is None or index not in self._partial_raw:
            return
        self._partial_raw[index] += fragment
        self._emit_partial(self._partial_raw[index], out)

    def _partial_text(self, index: int, fragment: str, out: list[ev.BaseEvent]) -> None:
        if self.output is None or self.output_mode not in ("native", "prompted"):
            return
        raw = self._partial_raw.get(-1, "") + fragment
        self._partial_raw[-1] = raw
        start = raw.find("{")
        if start != -1:
            self._emit_partial(raw[start:], out)

    def _emit_partial(self, raw: str, out: list[ev.BaseEvent]) -> None:
        assert self.output is not None
        partial = self.output.partial(raw)
        if partial is None or partial == self._last_partial:
            return
        self._last_partial = partial
        out.append(self._event(ev.OutputDelta, output=partial))

    # --- responses -----------------------------------------------------------------------------

    async def _handle_response(self, response: ModelResponse) -> AsyncIterator[ev.BaseEvent]:
        self._partial_raw.clear()
        calls = response.tool_calls()
        output_calls = [c for c in calls if c.tool_name in self.output_tool_names]
        function_calls = [c for c in calls if c.tool_name not in self.output_tool_names]

        if output_calls:
            async for event in self._handle_output_calls(output_calls):
                yield event
            if self.final is not _MISSING:
                for call in function_calls:
                    self.pending_parts.append(
                        ToolReturnPart(
                            tool_name=call.tool_name,
                            content=_NOT_RUN,
                            tool_call_id=call.tool_call_id,
                        )
                    )
                self.messages.append(ModelRequest(parts=self._take_parts(), run_id=self.ctx.run_id))
                return
        if function_calls:
            async for event in self._handle_function_calls(function_calls):
                yield event
            return
        if output_calls:
            return
        async for event in self._handle_text(response):
            yield event

    async def _handle_output_calls(self, calls: list[ToolCallPart]) -> AsyncIterator[ev.BaseEvent]:
        assert self.output is not None
        first, others = calls[0], calls[1:]
        try:
            value = self.output.validate_args(first.args)
            value = await self._validate_output(value)
        except (ValidationError, ValueError, ModelRetry) as exc:
            async for event in self._output_retry(exc, first):
                yield event
        else:
            self.final = value
            self.pending_parts.append(
                ToolReturnPart(
                    tool_name=first.tool_name,
                    content="Final result processed.",
                    tool_call_id=first.tool_call_id,
                )
            )
        for call in others:
            self.pending_parts.append(
                ToolReturnPart(
                    tool_name=call.tool_name,
                    content="Not used: only the first final result counts.",
                    tool_call_id=call.tool_call_id,
                )
            )

    async def _handle_text(self, response: ModelResponse) -> AsyncIterator[ev.BaseEvent]:
        text = response.text()
        if self.output is None:
            if not text.strip():
                async for event in self._output_retry(
                    ValueError("The response was empty: answer the user."), None
                ):
                    yield event
                return
            try:
                self.final = await self._validate_output(text)
            except ModelRetry as exc:
                async for event in self._output_retry(exc, None):
                    yield event
            return
        if self.output_mode == "tool":
            message = ValueError(
                "Plain text is not accepted: return the result by calling the "
                f"{next(iter(self.output_tool_names))!r} tool."
            )
            async for event in self._output_retry(message, None):
                yield event
            return
        try:
            self.final = await self._validate_output(self.output.validate_text(text))
        except (ValidationError, ValueError, ModelRetry) as exc:
            async for event in self._output_retry(exc, None):
                yield event

    async def _validate_output(self, value: Any) -> Any:
        for validator in self.agent.output_validators:
            value = await _call_hook(validator, self.ctx, value)
        return value

    async def _output_retry(
        self, exc: BaseException, call: ToolCallPart | None
    ) -> AsyncIterator[ev.BaseEvent]:
        used = self.ctx.retries.get(_OUTPUT_RETRIES, 0) + 1
        self.ctx.retries[_OUTPUT_RETRIES] = used
        if isinstance(exc, ModelRetry):
            errors: list[dict[str, Any]] = []
            content: str | list[dict[str, Any]] = exc.message
        elif isinstance(exc, ValidationError):
            errors = validation_errors(exc)
            content = errors
        else:
            errors = validation_errors(exc) if isinstance(exc, Exception) else []
            content = str(exc)
        part = RetryPart(
            content=content,
            tool_name=call.tool_name if call else None,
            tool_call_id=call.tool_call_id if call else None,
        )
        self.pending_parts.append(part)
        if used > self.agent.output_retries:
            model = self.options.model
            if (
                isinstance(model, FallbackModel)
                and self.model_index + 1 < len(model.models)
                and model.should_fallback(OutputValidationError(str(exc), errors=errors))
            ):
                previous = self._model().model_name
                self.model_index += 1
                self.ctx.retries[_OUTPUT_RETRIES] = 0
                yield self._event(
                    ev.ModelFallback,
                    from_model=previous,
                    to_model=self._model().model_name,
                    error=ErrorInfo(type="OutputValidationError", message=str(exc)),
                )
                return
            raise OutputValidationError(
                f"The model's output stayed invalid after {self.agent.output_retries} "
                f"retries: {part.message()}",
                errors=errors,
            ) from exc
        yield self._event(ev.OutputRetry, retry=used, errors=errors, message=part.message())

    async def _handle_function_calls(
        self, calls: list[ToolCallPart]
    ) -> AsyncIterator[ev.BaseEvent]:
        self.agent.usage_limits.check_before_tool_calls(self.ctx.usage, len(calls))
        runnable: list[tuple[ToolCallPart, dict[str, Any]]] = []
        for call in calls:
            entry = self.tools.get(call.tool_name)
            try:
                args = call.args_as_dict()
            except ValueError as exc:
                self._count_tool_retry(call.tool_name, exc)
                self.pending_parts.append(
                    RetryPart(
                        content=f"The arguments are not a valid JSON object: {exc}",
                        tool_name=call.tool_name,
                        tool_call_id=call.tool_call_id,
                    )
                )
                continue
            requirement = _requirement(call, args, entry)
            if requirement is not None:
                self.requirements.append(requirement)
                continue
            runnable.append((call, args))
        async for event in self._run_calls(runnable):
            yield event
        if self.requirements:
            for requirement in self.requirements:
                yield self._event(ev.RequirementCreated, requirement=requirement)
            raise _Pause

    def _count_tool_retry(self, tool_name: str, exc: BaseException) -> None:
        used = self.ctx.retries.get(tool_name, 0) + 1
        self.ctx.retries[tool_name] = used
        if used > self.agent.tool_retries:
            raise UnexpectedModelBehavior(
                f"Tool {tool_name!r} exceeded its {self.agent.tool_retries} allowed retries: {exc}"
            )

    async def _run_calls(
        self, runnable: list[tuple[ToolCallPart, dict[str, Any]]]
    ) -> AsyncIterator[ev.BaseEvent]:
        if not runnable:
            return
        for call, args in runnable:
            self.open_tool_calls[call.tool_call_id] = call.tool_name
            yield self._event(
                ev.ToolCallStarted,
                tool_call_id=call.tool_call_id,
                tool_name=call.tool_name,
                args=args,
            )
        self.ctx.usage.tool_calls += len(runnable)
        await self._flush()
        outcomes: list[ToolOutcome] = await self._step(
            run_tool_calls(
                runnable,
                self.tools,
                self.ctx,
                default_timeout=self.agent.tool_timeout,
                hooks=self.agent.hooks,
                error_policy=self.agent.tool_errors,
                max_retries=self.agent.tool_retries,
            )
        )
        fatal: BaseException | None = None
        for outcome in outcomes:
            call = outcome.call
            self.open_tool_calls.pop(call.tool_call_id, None)
            self.tool_calls.append(outcome.record)
            self.pending_parts.append(outcome.part)
            if outcome.record.error is None:
                yield self._event(
                    ev.ToolCallCompleted,
                    tool_call_id=call.tool_call_id,
                    tool_name=call.tool_name,
                    result=outcome.record.result,
                    duration=outcome.record.duration,
                )
            else:
                yield self._event(
                    ev.ToolCallFailed,
                    tool_call_id=call.tool_call_id,
                    tool_name=call.tool_name,
                    error=outcome.record.error,
                    retry=outcome.retry,
                    duration=outcome.record.duration,
                )
            fatal = fatal or outcome.fatal
        if fatal is not None:
            raise fatal

    async def _resume_pending(self) -> AsyncIterator[ev.BaseEvent]:
        assert self.resume is not None
        run = self.resume.run
        self.pending_parts = _load_parts(run.metadata.get("pending_parts", []))
        last = self.messages[-1] if self.messages else None
        order = (
            {c.tool_call_id: i for i, c in enumerate(last.tool_calls())}
            if isinstance(last, ModelResponse)
            else {}
        )
        runnable: list[tuple[ToolCallPart, dict[str, Any]]] = []
        for requirement in run.requirements:
            call = ToolCallPart(
                tool_name=requirement.tool_name,
                args=requirement.args,
                tool_call_id=requirement.tool_call_id,
            )
            if requirement.kind == "external":
                value = self.resume.results[requirement.tool_call_id]
                self.pending_parts.append(
                    ToolReturnPart(
                        tool_name=call.tool_name, content=value, tool_call_id=call.tool_call_id
                    )
                )
                self.tool_calls.append(
                    ToolCallRecord(
                        tool_call_id=call.tool_call_id,
                        tool_name=call.tool_name,
                        args=requirement.args,
                        result=value,
                    )
                )
                continue
            if requirement.kind == "input":
                args = {**requirement.args, **self.resume.inputs[requirement.tool_call_id]}
                runnable.append((call.model_copy(update={"args": args}), args))
                continue
            approved, note = _decision(self.resume.approvals[requirement.tool_call_id])
            if approved:
                runnable.append((call, dict(requirement.args)))
            else:
                text = "The user rejected this tool call." + (f" Note: {note}" if note else "")
                self.pending_parts.append(
                    ToolReturnPart(
                        tool_name=call.tool_name,
                        content=text,
                        tool_call_id=call.tool_call_id,
                        is_error=True,
                    )
                )
                self.tool_calls.append(
                    ToolCallRecord(
                        tool_call_id=call.tool_call_id,
                        tool_name=call.tool_name,
                        args=requirement.args,
                        error=text,
                    )
                )
        # Approved calls run without asking again.
        async for event in self._run_calls(runnable):
            yield event
        self.pending_parts.sort(key=lambda p: order.get(p.tool_call_id or "", len(order)))
        self.messages.append(ModelRequest(parts=self._take_parts(), run_id=self.ctx.run_id))

    # --- results and persistence ---------------------------------------------------------------

    def _result(self, status: RunStatus, error: BaseException | None) -> RunResult[Any]:
        if error is not None:
            status = RunStatus.FAILED
        result: RunResult[Any] = RunResult.model_construct(
            run_id=self.ctx.run_id,
            session_id=self.ctx.session_id,
            agent_id=self.agent.name,
            parent_run_id=self.ctx.parent_run_id,
            user_id=self.ctx.user_id,
            status=status,
            output=self.final if status is RunStatus.COMPLETED else None,
            usage=self.ctx.usage,
            messages=list(self.messages),
            tool_calls=list(self.tool_calls),
            requirements=list(self.requirements) if status is RunStatus.PAUSED else [],
            error=ErrorInfo.from_exception(error) if error is not None else None,
            started_at=self.started_at,
            finished_at=None if status is RunStatus.PAUSED else datetime.now(UTC),
        )
        result._history = list(self.history)  # pyright: ignore[reportPrivateUsage]
        result._exception = error  # pyright: ignore[reportPrivateUsage]
        return result

    def _run_record(self, status: RunStatus, result: RunResult[Any] | None = None) -> Run:
        if result is None:
            result = self._result(status, None)
        metadata = dict(self.options.metadata)
        metadata.update(last_seq=self.seq, step=self.step)
        if status is RunStatus.PAUSED:
            metadata["pending_parts"] = [p.model_dump(mode="json") for p in self.pending_parts]
        output = result.output
        if output is not None and not isinstance(output, str | int | float | bool):
            output = to_jsonable_python(output)
        run = Run.from_result(
            result.model_copy(update={"output": output}),
            input=_input_json(self.options.input),
            metadata=metadata,
        )
        if self.resume is not None:
            run.input = self.resume.run.input
        return run

    async def _save_run(self, status: RunStatus) -> None:
        store = self.options.store
        if store is None:
            return
        await store.save_run(self.scope, self._run_record(status))

    async def _finish_store(self, result: RunResult[Any]) -> None:
        try:
            for toolset in getattr(self, "_entered", ()):
                await toolset.__aexit__(None, None, None)
        finally:
            store = self.options.store
            if result.status is RunStatus.PAUSED:
                self.agent.remember_paused(self._run_record(result.status, result), store)
            if store is not None:
                await store.save_run(self.scope, self._run_record(result.status, result))
                await self._flush()

    async def _save_session(self, store: Store) -> None:
        session_id = self.ctx.session_id
        assert session_id is not None
        changed = {
            k: v for k, v in self.ctx.state.items() if self.initial_state.get(k, _MISSING) != v
        }
        removed = [k for k in self.initial_state if k not in self.ctx.state]
        session = self.session
        for _ in range(5):
            if session is None:
                session = Session(
                    id=session_id, agent_id=self.agent.name, user_id=self.ctx.user_id, state={}
                )
                expected = 0
            else:
                expected = session.version
            state = dict(session.state)
            state.update(changed)
            for key in removed:
                state.pop(key, None)
            try:
                self.session = await store.save_session(
                    self.scope,
                    session.model_copy(update={"state": state}),
                    expected_version=expected,
                )
                return
            except ConflictError:
                fresh = await store.get_session(self.scope, session_id)
                if fresh is None:
                    raise
                if self.session is not None:
                    clash = [
                        k
                        for k in (*changed, *removed)
                        if fresh.state.get(k, _MISSING) != self.session.state.get(k, _MISSING)
                    ]
                    if clash:
                        raise ConflictError(
                            f"Session {session_id!r} state keys {clash} were changed by another "
                            "run at the same time; reload the session and retry"
                        ) from None
                session = fresh
        raise ConflictError(f"Session {session_id!r} kept changing under this run; retry")


def _requirement(
    call: ToolCallPart, args: dict[str, Any], entry: ToolEntry | None
) -> Requirement | None:
    if entry is None:
        return None
    definition = entry.definition
    if definition.kind == "external":
        kind = "external"
    elif definition.input_fields:
        kind = "input"
    elif definition.requires_approval:
        kind = "approval"
    else:
        return None
    return Requirement(
        tool_call_id=call.tool_call_id,
        tool_name=call.tool_name,
        kind=kind,
        args=args,
        input_fields=list(definition.input_fields),
        description=definition.description or None,
    )


async def _aclose(stream: Any) -> None:
    """Close a model stream (an async generator) so its HTTP response is released."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


def _decision(value: Any) -> tuple[bool, str | None]:
    if isinstance(value, bool):
        return value, None
    if isinstance(value, dict):
        decision: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
        note = decision.get("note")
        return bool(decision.get("approved", False)), str(note) if note else None
    raise TypeError(
        "an approval is True, False, or {'approved': bool, 'note': str}; got "
        f"{type(value).__name__}"
    )


def _load_parts(data: list[dict[str, Any]]) -> list[ToolReturnPart | RetryPart]:
    parts: list[ToolReturnPart | RetryPart] = []
    for item in data:
        if item.get("kind") == "retry":
            parts.append(RetryPart.model_validate(item))
        else:
            parts.append(ToolReturnPart.model_validate(item))
    return parts


def _input_json(value: str | Sequence[UserContent] | None) -> Any:
    if value is None or isinstance(value, str):
        return value
    return [c.model_dump(mode="json") for c in value]


async def _call_hook(hook: Any, ctx: RunContext[Any], value: Any) -> Any:
    if inspect.iscoroutinefunction(hook):
        return await hook(ctx, value)
    result = await anyio.to_thread.run_sync(hook, ctx, value)
    if inspect.isawaitable(result):
        return await result
    return result
