"""Covey run events → the AG-UI event stream (`ag-ui-protocol` types) a front end reads.

AG-UI is a stream of typed events over SSE: a run opens with `RUN_STARTED`, text arrives as
`TEXT_MESSAGE_START` / `_CONTENT` / `_END`, a tool call as `TOOL_CALL_START` / `_ARGS` / `_END`
and later `TOOL_CALL_RESULT`, shared state as `STATE_SNAPSHOT`, and the run closes with exactly
one `RUN_FINISHED` (success, interrupt or cancelled outcome) or `RUN_ERROR`.

Covey's events are close but not the same shape: text and tool-call arguments come as
`*.delta` events keyed by the response part they belong to, a tool call's execution is a
separate `tool_call.started`/`completed`, and nothing closes a text part but the end of its
model request. `AguiTranslator` keeps the little state the mapping needs (which message and
tool calls are open) for one followed run, so every `START` gets its `END` even when the model
request fails or the run is cancelled in the middle of a part.

The client's `threadId` is the Covey session and its `runId` is echoed on `RUN_STARTED` and
`RUN_FINISHED` (AG-UI requires it); Covey's own run id is sent once as a `CUSTOM` event named
`covey.run`, so a front end can cancel, resume or read the run through the REST API.

`ag_ui` is imported on first use only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from covey.spec import events as ev

if TYPE_CHECKING:
    from ag_ui.core import BaseEvent as AguiEvent
    from ag_ui.core import RunAgentInput

__all__ = ["AguiTranslator", "agui_input", "encode", "interrupt_id", "split_interrupt_id"]

_FINAL = (ev.RunCompleted, ev.RunFailed, ev.RunPaused, ev.RunCancelled)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    texts: list[str] = []
    parts = cast("list[Any]", content) if isinstance(content, list) else []
    for part in parts:
        text = getattr(part, "text", None)
        if isinstance(text, str):
            texts.append(text)
    return "\n".join(texts)


def agui_input(body: RunAgentInput) -> str:
    """The user's message of an AG-UI run: the text of the input's last user message.

    Earlier messages are not replayed: Covey keeps the conversation in the session the
    `threadId` names, so the history a front end sends would be a second, unverified copy of it.

    Raises:
        ValueError: the input has no user message with text.
    """
    for message in reversed(body.messages):
        if getattr(message, "role", None) == "user":
            text = _text_of(getattr(message, "content", ""))
            if text.strip():
                return text
            break
    raise ValueError("the AG-UI input has no user message with text; send the user's message")


def interrupt_id(run_id: str, tool_call_id: str) -> str:
    """The AG-UI interrupt id of a paused run's requirement: `<run id>:<tool call id>`, so a
    `resume` entry names the run it continues (the front end keeps nothing else)."""
    return f"{run_id}:{tool_call_id}"


def split_interrupt_id(value: str) -> tuple[str, str]:
    """`(run id, tool call id)` of an interrupt id.

    Raises:
        ValueError: it is not one this server made.
    """
    run_id, sep, call = value.partition(":")
    if not sep or not run_id or not call:
        raise ValueError(f"{value!r} is not an interrupt id of this server (RUN_ID:CALL_ID)")
    return run_id, call


def encode(event: AguiEvent) -> bytes:
    """One AG-UI event as an SSE message (camelCase JSON, unset fields left out)."""
    return b"data: %s\n\n" % event.model_dump_json(by_alias=True, exclude_none=True).encode()


def _dumps(value: str) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _json(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


@dataclass(slots=True)
class AguiTranslator:
    """Maps the events of one followed run (and its member/step runs) to AG-UI events.

    Attributes:
        thread_id: The AG-UI thread (Covey session) id.
        run_id: The AG-UI run id the client sent.
    """

    thread_id: str
    run_id: str
    rejected: dict[str, str] = field(default_factory=dict[str, str])
    """Tool calls a resume rejects, with what the model is told: the run emits no event for
    them, so the stream gives each its `TOOL_CALL_RESULT` when the resumed run starts."""
    _covey_run: str | None = None
    # What is open, per Covey run: a team's members and a workflow's parallel branches run at
    # once, and each run's text and tool calls must stay apart.
    _message: dict[str, str] = field(default_factory=dict[str, str])
    _reasoning: dict[str, str] = field(default_factory=dict[str, str])
    _calls_by_part: dict[tuple[str, int], str] = field(default_factory=dict[tuple[str, int], str])
    _open_calls: dict[str, list[str]] = field(default_factory=dict[str, list[str]])
    _announced: set[str] = field(default_factory=set[str])
    _step_text: set[str] = field(default_factory=set[str])
    _counter: int = 0

    # --- framing ---------------------------------------------------------------------------------

    def started(self) -> AguiEvent:
        """`RUN_STARTED`, sent before the run's first event."""
        from ag_ui.core import RunStartedEvent

        return RunStartedEvent(thread_id=self.thread_id, run_id=self.run_id)

    def wants_state(self, event: ev.BaseEvent) -> bool:
        """Whether `translate(event)` sends a `STATE_SNAPSHOT` (the caller then reads the
        session state and passes it): at the run's start and at its end."""
        if self._covey_run is None:
            return isinstance(event, ev.RunStarted)
        return event.run_id == self._covey_run and isinstance(event, _FINAL)

    def _next_id(self, kind: str, run_id: str) -> str:
        self._counter += 1
        return f"{run_id}:{kind}:{self._counter}"

    def _close_text(self, run: str) -> list[AguiEvent]:
        from ag_ui.core import TextMessageEndEvent

        message = self._message.pop(run, None)
        return [] if message is None else [TextMessageEndEvent(message_id=message)]

    def _close_reasoning(self, run: str) -> list[AguiEvent]:
        from ag_ui.core import ReasoningEndEvent, ReasoningMessageEndEvent

        message = self._reasoning.pop(run, None)
        if message is None:
            return []
        return [ReasoningMessageEndEvent(message_id=message), ReasoningEndEvent(message_id=message)]

    def _close_calls(self, run: str) -> list[AguiEvent]:
        from ag_ui.core import ToolCallEndEvent

        calls = self._open_calls.pop(run, [])
        for key in [k for k in self._calls_by_part if k[0] == run]:
            del self._calls_by_part[key]
        return [ToolCallEndEvent(tool_call_id=c) for c in calls]

    def close_open(self, run: str) -> list[AguiEvent]:
        """Ends every message and tool call of `run` still open (a model request ended)."""
        return [*self._close_reasoning(run), *self._close_text(run), *self._close_calls(run)]

    def close_all(self) -> list[AguiEvent]:
        """Ends everything still open, of every run (the followed run ended)."""
        runs = {*self._message, *self._reasoning, *self._open_calls}
        return [e for run in sorted(runs) for e in self.close_open(run)]

    # --- the mapping -------------------------------------------------------------------------------

    def frames(self, event: ev.BaseEvent, state: Any = None) -> list[bytes]:
        """`translate(event, state)` as SSE frames.

        A token of a message already open (most of a streamed answer) is framed directly:
        building and dumping the pydantic event cost ~40 µs a token, the direct frame ~3 µs,
        with the same bytes (a test holds them to it).
        """
        if type(event) is ev.TextDelta and event.delta:
            message = self._message.get(event.run_id)
            if message is not None:
                return [
                    b'data: {"type":"TEXT_MESSAGE_CONTENT","messageId":%s,"delta":%s}\n\n'
                    % (_dumps(message), _dumps(event.delta))
                ]
        return [encode(e) for e in self.translate(event, state)]

    def translate(self, event: ev.BaseEvent, state: Any = None) -> list[AguiEvent]:
        """The AG-UI events for one Covey event (often none).

        `state`: the session state, for the `STATE_SNAPSHOT` sent at the run's start and end
        (read by the caller, which holds the store, when `wants_state(event)`).
        """
        from ag_ui.core import (
            CustomEvent,
            ReasoningMessageContentEvent,
            ReasoningMessageStartEvent,
            ReasoningStartEvent,
            StateSnapshotEvent,
            StepFinishedEvent,
            StepStartedEvent,
            TextMessageContentEvent,
            TextMessageStartEvent,
            ToolCallArgsEvent,
            ToolCallEndEvent,
            ToolCallStartEvent,
        )

        top = self._covey_run is None or event.run_id == self._covey_run
        # Member and step runs' text and tool calls are shown as the run's own: attributing
        # them (`SUBAGENT_*` events and `subagentRunId`) is left for a later round.
        sub: str | None = None
        match event:
            case ev.RunStarted() if self._covey_run is None:
                self._covey_run = event.run_id
                out: list[AguiEvent] = [
                    CustomEvent(
                        name="covey.run",
                        value={"run_id": event.run_id, "session_id": event.session_id},
                    )
                ]
                if state is not None:
                    out.append(StateSnapshotEvent(snapshot=state))
                for call, text in self.rejected.items():
                    out += self._result(event.run_id, call, text, sub)
                return out
            case ev.TextDelta(delta=delta) if delta:
                run = event.run_id
                out = self._close_reasoning(run) + self._close_calls(run)
                message = self._message.get(run)
                if message is None:
                    message = self._message[run] = self._next_id("text", run)
                    self._step_text.add(run)
                    out.append(
                        TextMessageStartEvent(
                            message_id=message, role="assistant", subagent_run_id=sub
                        )
                    )
                out.append(
                    TextMessageContentEvent(message_id=message, delta=delta, subagent_run_id=sub)
                )
                return out
            case ev.ThinkingDelta(delta=delta) if delta:
                run = event.run_id
                out = self._close_text(run) + self._close_calls(run)
                message = self._reasoning.get(run)
                if message is None:
                    message = self._reasoning[run] = self._next_id("reasoning", run)
                    out += [
                        ReasoningStartEvent(message_id=message, subagent_run_id=sub),
                        ReasoningMessageStartEvent(message_id=message, subagent_run_id=sub),
                    ]
                out.append(
                    ReasoningMessageContentEvent(
                        message_id=message, delta=delta, subagent_run_id=sub
                    )
                )
                return out
            case ev.ToolCallDelta():
                out = self._close_reasoning(event.run_id) + self._close_text(event.run_id)
                key = (event.run_id, event.part_index)
                call = self._calls_by_part.get(key)
                if call is None:
                    if not (event.tool_call_id and event.tool_name):
                        return out  # nothing to name the call by yet
                    call = event.tool_call_id
                    self._calls_by_part[key] = call
                    self._open_calls.setdefault(event.run_id, []).append(call)
                    self._announced.add(call)
                    out.append(
                        ToolCallStartEvent(
                            tool_call_id=call, tool_call_name=event.tool_name, subagent_run_id=sub
                        )
                    )
                if event.args_delta:
                    out.append(
                        ToolCallArgsEvent(
                            tool_call_id=call, delta=event.args_delta, subagent_run_id=sub
                        )
                    )
                return out
            case ev.ModelRequestCompleted():
                out = self.close_open(event.run_id)
                if event.run_id not in self._step_text and event.response.text():
                    # A model answered without streaming: its text as one message.
                    message = self._next_id("text", event.run_id)
                    out += [
                        TextMessageStartEvent(
                            message_id=message, role="assistant", subagent_run_id=sub
                        ),
                        TextMessageContentEvent(
                            message_id=message, delta=event.response.text(), subagent_run_id=sub
                        ),
                        *self._close_message(message),
                    ]
                self._step_text.discard(event.run_id)
                return out
            case ev.ModelRequestFailed() | ev.ModelRequestCancelled():
                self._step_text.discard(event.run_id)
                return self.close_open(event.run_id)
            case ev.ToolCallStarted() if event.tool_call_id not in self._announced:
                self._announced.add(event.tool_call_id)
                return [
                    *self.close_open(event.run_id),
                    ToolCallStartEvent(
                        tool_call_id=event.tool_call_id,
                        tool_call_name=event.tool_name,
                        subagent_run_id=sub,
                    ),
                    ToolCallArgsEvent(
                        tool_call_id=event.tool_call_id,
                        delta=_json(event.args),
                        subagent_run_id=sub,
                    ),
                    ToolCallEndEvent(tool_call_id=event.tool_call_id, subagent_run_id=sub),
                ]
            case ev.ToolCallCompleted():
                return self._result(event.run_id, event.tool_call_id, _json(event.result), sub)
            case ev.ToolCallFailed():
                return self._result(event.run_id, event.tool_call_id, f"Error: {event.error}", sub)
            case ev.StepStarted():
                return [StepStartedEvent(step_name=event.step_path)]
            case (
                ev.StepCompleted()
                | ev.StepFailed()
                | ev.StepSkipped()
                | ev.StepPaused()
                | ev.StepCancelled()
            ):
                return [StepFinishedEvent(step_name=event.step_path)]
            case ev.RunCompleted() | ev.RunFailed() | ev.RunPaused() | ev.RunCancelled() if top:
                return [*self.close_all(), *self._final(event, state)]
            case _:
                return []

    def _close_message(self, message: str) -> list[AguiEvent]:
        from ag_ui.core import TextMessageEndEvent

        return [TextMessageEndEvent(message_id=message)]

    def _result(self, run: str, call: str, content: str, sub: str | None) -> list[AguiEvent]:
        from ag_ui.core import ToolCallResultEvent

        return [
            *self.close_open(run),
            ToolCallResultEvent(
                message_id=self._next_id("tool", call),
                tool_call_id=call,
                content=content,
                role="tool",
                subagent_run_id=sub,
            ),
        ]

    def _final(self, event: ev.BaseEvent, state: Any) -> list[AguiEvent]:
        from ag_ui.core import (
            Interrupt,
            RunErrorEvent,
            RunFinishedCancelledOutcome,
            RunFinishedEvent,
            RunFinishedInterruptOutcome,
            RunFinishedSuccessOutcome,
            StateSnapshotEvent,
        )

        out: list[AguiEvent] = []
        if state is not None:
            out.append(StateSnapshotEvent(snapshot=state))
        thread, run = self.thread_id, self.run_id
        match event:
            case ev.RunCompleted(result=result):
                out.append(
                    RunFinishedEvent(
                        thread_id=thread,
                        run_id=run,
                        result=result.output,
                        outcome=RunFinishedSuccessOutcome(),
                    )
                )
            case ev.RunPaused(result=result) if result.requirements:
                interrupts = [
                    Interrupt(
                        id=interrupt_id(result.run_id, r.tool_call_id),
                        reason=str(r.kind),
                        tool_call_id=r.tool_call_id,
                        message=r.description or f"{r.tool_name} needs {r.kind}",
                    )
                    for r in result.requirements
                ]
                out.append(
                    RunFinishedEvent(
                        thread_id=thread,
                        run_id=run,
                        outcome=RunFinishedInterruptOutcome(interrupts=interrupts),
                    )
                )
            case ev.RunFailed(result=result):
                error = result.error
                out.append(
                    RunErrorEvent(
                        message=error.message if error else "The run failed",
                        code=error.type if error else None,
                    )
                )
            case _:
                out.append(
                    RunFinishedEvent(
                        thread_id=thread, run_id=run, outcome=RunFinishedCancelledOutcome()
                    )
                )
        return out
