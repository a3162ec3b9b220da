"""`RunSpans`: run events → OpenTelemetry spans with GenAI semantic-convention attributes.

One span per run (`invoke_agent <name>`), per model request (`chat <model>`), per tool call
(`execute_tool <tool>`) and per workflow step (`step <path>`). A member run or a step's run is
a child of its parent run's span (of the step's span when the step named its run), so a team
or workflow is one trace. A root run's trace id is its run id.

The observer runs synchronously inside every run: it only starts and ends spans (the SDK's
processors do the exporting off the run's path) and never raises into a run.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from covey.otel.generator import RunIds
from covey.otel.ids import trace_id_for_run
from covey.otel.redact import Redactor
from covey.spec import events as ev

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

    from covey.spec.store import Scope
    from covey.spec.usage import Usage

__all__ = ["RunSpans"]

MAX_OPEN = 10_000
"""Open spans kept at most; past it the oldest are ended (runs that never finished: a process
killed mid-run elsewhere, events lost), so memory stays bounded."""

_FINAL_STATUS: dict[str, str] = {
    "run.completed": "completed",
    "run.failed": "failed",
    "run.paused": "paused",
    "run.cancelled": "cancelled",
}


def _ns(time: datetime) -> int:
    return int(time.timestamp() * 1_000_000_000)


def _system(model_name: str, provider: str | None = None) -> str:
    """`gen_ai.system` from the provider the response names, else the `provider:` prefix."""
    if provider:
        return provider
    prefix, sep, _ = model_name.partition(":")
    return prefix if sep else model_name


def _model(model_name: str) -> str:
    _, sep, rest = model_name.partition(":")
    return rest if sep else model_name


class RunSpans:
    """The span bookkeeping of every run in this process.

    Args:
        tracer: An OpenTelemetry tracer of a provider using `ids` as its id generator.
        ids: The provider's id generator (root runs' trace ids).
        redactor: How recorded content is cleaned.
        capture_content: Record input, output, completions, tool arguments and results.
        on_end: Called with every ended span and its run's scope (the store writer).
    """

    def __init__(
        self,
        tracer: trace.Tracer,
        ids: RunIds,
        redactor: Redactor,
        *,
        capture_content: bool,
        on_end: Callable[[ReadableSpan, Scope], None] | None = None,
    ) -> None:
        self._tracer = tracer
        self._ids = ids
        self._redactor = redactor
        self._capture = capture_content
        self._on_end = on_end
        self._open: OrderedDict[tuple[str, ...], tuple[Span, Scope]] = OrderedDict()
        self._step_runs: dict[tuple[str, ...], str] = {}
        # Runs on other threads (`run_sync` in workers) call in concurrently.
        self._lock = threading.Lock()
        self._handlers: dict[str, Callable[[ev.BaseEvent, Scope], None]] = {
            "run.started": self._run_started,
            **dict.fromkeys(_FINAL_STATUS, self._run_ended),
            "model_request.started": self._model_started,
            "model_request.completed": self._model_ended,
            "model_request.failed": self._model_ended,
            "model_request.cancelled": self._model_ended,
            "model_request.retry": self._run_event,
            "model.fallback": self._run_event,
            "requirement.created": self._run_event,
            "output.retry": self._run_event,
            "tool_call.started": self._tool_started,
            "tool_call.completed": self._tool_ended,
            "tool_call.failed": self._tool_ended,
            "tool_call.paused": self._tool_ended,
            "tool_call.cancelled": self._tool_ended,
            "step.started": self._step_started,
            "step.completed": self._step_ended,
            "step.failed": self._step_ended,
            "step.skipped": self._step_ended,
            "step.paused": self._step_ended,
            "step.cancelled": self._step_ended,
        }

    # --- the observer ---------------------------------------------------------------------

    def __call__(self, event: ev.BaseEvent, scope: Scope) -> None:
        """`covey.core.observe` observer: start or end the span `event` opens or closes."""
        handler = self._handlers.get(event.type)
        if handler is not None:
            with self._lock:
                handler(event, scope)

    def open_spans(self) -> int:
        """How many spans are open now (runs, requests, calls and steps in flight)."""
        return len(self._open)

    # --- bookkeeping ------------------------------------------------------------------------

    def _start(
        self,
        key: tuple[str, ...],
        name: str,
        event: ev.BaseEvent,
        scope: Scope,
        parent: tuple[str, ...] | None,
        attributes: dict[str, Any],
        kind: SpanKind = SpanKind.INTERNAL,
    ) -> None:
        context = None
        found = self._open.get(parent) if parent is not None else None
        if found is not None:
            context = trace.set_span_in_context(found[0])
        else:
            root = event.parent_run_id or event.run_id
            self._ids.use_trace_id(trace_id_for_run(root))
            context = trace.set_span_in_context(trace.INVALID_SPAN)
        span = self._tracer.start_span(
            name, context=context, kind=kind, attributes=attributes, start_time=_ns(event.time)
        )
        previous = self._open.pop(key, None)
        if previous is not None:
            self._finish(previous, event.time)
        self._open[key] = (span, scope)
        while len(self._open) > MAX_OPEN:
            old_key, oldest = self._open.popitem(last=False)
            if old_key[0] != "step-run":  # an alias of a step span, ended with the step
                self._finish(oldest, event.time)

    def _end(
        self,
        key: tuple[str, ...],
        event: ev.BaseEvent,
        attributes: dict[str, Any] | None = None,
        error: str | None = None,
        ok: bool = False,
    ) -> None:
        found = self._open.pop(key, None)
        if found is None:
            return
        span = found[0]
        if attributes:
            span.set_attributes({k: v for k, v in attributes.items() if v is not None})
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, self._redactor.text(error)[:1024]))
        elif ok:
            span.set_status(Status(StatusCode.OK))
        self._finish(found, event.time)

    def _finish(self, found: tuple[Span, Scope], time: datetime) -> None:
        span, scope = found
        span.end(end_time=_ns(time))
        if self._on_end is not None:
            self._on_end(span, scope)  # pyright: ignore[reportArgumentType]  (an SDK span)

    def _content(self, attributes: dict[str, Any], key: str, value: object) -> None:
        if self._capture and value is not None:
            attributes[key] = self._redactor.data(value)

    # --- runs ------------------------------------------------------------------------------

    def _run_started(self, event: ev.BaseEvent, scope: Scope) -> None:
        assert isinstance(event, ev.RunStarted)
        name = event.agent_name or "agent"
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": name,
            "covey.run.id": event.run_id,
        }
        if event.parent_run_id:
            attributes["covey.run.parent_id"] = event.parent_run_id
        if event.session_id:
            attributes["gen_ai.conversation.id"] = event.session_id
        if event.resumed:
            attributes["covey.run.resumed"] = True
        self._content(attributes, "gen_ai.input.messages", event.input)
        parent = None
        if event.parent_run_id:
            # A step that named its run is the run's parent; else the parent run itself.
            step = self._open.get(("step-run", event.run_id))
            parent = (
                ("step-run", event.run_id) if step is not None else ("run", event.parent_run_id)
            )
        self._start(("run", event.run_id), f"invoke_agent {name}", event, scope, parent, attributes)

    def _run_ended(self, event: ev.BaseEvent, scope: Scope) -> None:
        result = getattr(event, "result", None)
        status = _FINAL_STATUS[event.type]
        attributes: dict[str, Any] = {"covey.run.status": status}
        error = None
        if result is not None:
            attributes.update(_usage(result.usage))
            if result.error is not None:
                attributes["error.type"] = result.error.type
                error = result.error.message or result.error.type
            if status == "completed":
                self._content(attributes, "gen_ai.output.messages", result.output)
        if status == "failed" and error is None:
            error = "failed"
        self._end(("run", event.run_id), event, attributes, error, ok=status == "completed")

    # --- model requests ----------------------------------------------------------------------

    def _model_started(self, event: ev.BaseEvent, scope: Scope) -> None:
        assert isinstance(event, ev.ModelRequestStarted)
        model = _model(event.model_name)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": _system(event.model_name),
            "gen_ai.request.model": model,
            "covey.step": event.step,
        }
        self._start(
            ("model", event.run_id, str(event.step)),
            f"chat {model}",
            event,
            scope,
            ("run", event.run_id),
            attributes,
            SpanKind.CLIENT,
        )

    def _model_ended(self, event: ev.BaseEvent, scope: Scope) -> None:
        key = ("model", event.run_id, str(getattr(event, "step", "")))
        if isinstance(event, ev.ModelRequestCompleted):
            response = event.response
            attributes: dict[str, Any] = _usage(event.usage)
            attributes["gen_ai.system"] = _system(event.model_name, response.provider_name)
            if response.model_name:
                attributes["gen_ai.response.model"] = response.model_name
            if response.provider_response_id:
                attributes["gen_ai.response.id"] = response.provider_response_id
            if response.finish_reason:
                attributes["gen_ai.response.finish_reasons"] = (response.finish_reason,)
            if self._capture:
                parts = [p.model_dump(mode="json") for p in response.parts]
                attributes["gen_ai.output.messages"] = self._redactor.data(
                    [{"role": "assistant", "parts": parts}]
                )
            self._end(key, event, attributes, ok=True)
        elif isinstance(event, ev.ModelRequestFailed):
            attributes = {"error.type": event.error.type}
            self._end(key, event, attributes, error=event.error.message or event.error.type)
        else:
            self._end(key, event, {"covey.cancelled": True})

    def _run_event(self, event: ev.BaseEvent, scope: Scope) -> None:
        """A moment in a run, as an event on its span: a retry, a fallback, a pause's
        requirement, an output retry (names and types only, never content)."""
        found = self._open.get(("run", event.run_id))
        if found is None:
            return
        attributes: dict[str, Any] = {}
        if isinstance(event, ev.ModelRequestRetry):
            attributes = {"attempt": event.attempt, "delay": event.delay}
            attributes["error.type"] = event.error.type
        elif isinstance(event, ev.ModelFallback):
            attributes = {"from_model": event.from_model, "to_model": event.to_model}
            attributes["error.type"] = event.error.type
        elif isinstance(event, ev.RequirementCreated):
            requirement = event.requirement
            attributes = {
                "gen_ai.tool.name": requirement.tool_name,
                "gen_ai.tool.call.id": requirement.tool_call_id,
                "covey.requirement.kind": str(requirement.kind),
            }
        elif isinstance(event, ev.OutputRetry):
            attributes = {"retry": event.retry, "errors": len(event.errors)}
        found[0].add_event(f"covey.{event.type}", attributes, timestamp=_ns(event.time))

    # --- tool calls --------------------------------------------------------------------------

    def _tool_started(self, event: ev.BaseEvent, scope: Scope) -> None:
        assert isinstance(event, ev.ToolCallStarted)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": event.tool_name,
            "gen_ai.tool.call.id": event.tool_call_id,
        }
        self._content(attributes, "gen_ai.tool.call.arguments", event.args)
        self._start(
            ("tool", event.run_id, event.tool_call_id),
            f"execute_tool {event.tool_name}",
            event,
            scope,
            ("run", event.run_id),
            attributes,
        )

    def _tool_ended(self, event: ev.BaseEvent, scope: Scope) -> None:
        call_id = str(getattr(event, "tool_call_id", ""))
        key = ("tool", event.run_id, call_id)
        if isinstance(event, ev.ToolCallCompleted):
            attributes: dict[str, Any] = {}
            self._content(attributes, "gen_ai.tool.call.result", event.result)
            self._end(key, event, attributes, ok=True)
        elif isinstance(event, ev.ToolCallFailed):
            attributes = {"error.type": "retry" if event.retry else "tool_error"}
            self._end(key, event, attributes, error=event.error)
        elif isinstance(event, ev.ToolCallPaused):
            self._end(key, event, {"covey.tool.paused": True})
        else:
            self._end(key, event, {"covey.cancelled": True})

    # --- workflow steps ----------------------------------------------------------------------

    def _step_started(self, event: ev.BaseEvent, scope: Scope) -> None:
        assert isinstance(event, ev.StepStarted)
        attributes: dict[str, Any] = {
            "covey.step.name": event.step_name,
            "covey.step.path": event.step_path,
            "covey.step.type": event.step_type,
        }
        key = ("step", event.run_id, event.step_path)
        self._start(key, f"step {event.step_path}", event, scope, ("run", event.run_id), attributes)
        if event.step_run_id:
            # The step's own run (started next) hangs under this span.
            self._open[("step-run", event.step_run_id)] = self._open[key]
            self._step_runs[key] = event.step_run_id

    def _step_ended(self, event: ev.BaseEvent, scope: Scope) -> None:
        key = ("step", event.run_id, str(getattr(event, "step_path", "")))
        step_run_id = self._step_runs.pop(key, None)
        if step_run_id is not None:
            self._open.pop(("step-run", step_run_id), None)
        status = event.type.removeprefix("step.")
        attributes: dict[str, Any] = {"covey.step.status": status}
        if isinstance(event, ev.StepCompleted):
            self._content(attributes, "covey.step.output", event.output)
            self._end(key, event, attributes, ok=True)
        elif isinstance(event, ev.StepFailed):
            attributes["error.type"] = event.error.type
            self._end(key, event, attributes, error=event.error.message or event.error.type)
        else:
            self._end(key, event, attributes)


def _usage(usage: Usage) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "gen_ai.usage.input_tokens": usage.input_tokens,
        "gen_ai.usage.output_tokens": usage.output_tokens,
    }
    if usage.cache_read_tokens:
        attributes["gen_ai.usage.cache_read_tokens"] = usage.cache_read_tokens
    if usage.reasoning_tokens:
        attributes["gen_ai.usage.reasoning_tokens"] = usage.reasoning_tokens
    return attributes
