"""One model request of a run: retries with back-off, fallback to the next model, and the
translation of a model's stream into run events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio

from covey.core.run.state import Cancelled
from covey.spec import (
    ErrorInfo,
    FinalResponseEvent,
    ModelResponse,
    ModelStreamEvent,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
    ToolCallPart,
)
from covey.spec import events as ev
from covey.spec.errors import UnexpectedModelBehavior

if TYPE_CHECKING:
    from covey.core.run.engine import RunEngine

__all__ = ["StreamTranslator", "request"]

_NONE: Any = object()


async def request(e: RunEngine) -> AsyncIterator[ev.BaseEvent | ModelResponse]:
    """Ask the current model (and, as it fails, the next ones) for one response; yield its
    events, then the response."""
    policy = e.plan.retry
    params = e.params()
    messages = e.model_messages()
    chain = e.chain
    while True:
        current = chain.current
        e.state.open_model_request = current.model_name
        started = e.emit(ev.ModelRequestStarted, model_name=current.model_name, step=e.state.step)
        # Events go to the store before each wait on a model or a tool (and before they are
        # yielded), so a follower in another process sees what is in flight and a live follower
        # never sees more than the log keeps (text deltas wait for the next flush).
        await e.persist.flush()
        yield started
        attempt = 0
        while True:
            attempt += 1
            emitted = False
            try:
                if e.options.stream:
                    response: ModelResponse | None = None
                    gate = e.gate
                    if gate is not None:
                        gate.reset()
                    stream = current.request_stream(messages, e.settings, params)
                    try:
                        while True:
                            item = await e.step(anext(stream, None))
                            if item is None:
                                break
                            if isinstance(item, FinalResponseEvent):
                                response = item.response
                                continue
                            events = (
                                e.stream.events(e, item)
                                if gate is None
                                else await e.step(gate.events(e, item))
                            )
                            for event in events:
                                emitted = True
                                yield event
                        if gate is not None:
                            # The end of the stream is the last checkpoint of every text part.
                            for event in await e.step(gate.finish(e)):
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
                    response = await e.step(current.request(messages, e.settings, params))
                yield response
                return
            except Cancelled:
                raise
            except Exception as exc:
                # A stream check that tripped fails the run: no retry, no other model.
                if emitted or (e.gate is not None and e.gate.failed):
                    raise
                delay = policy.delay_for(attempt, exc) if policy is not None else None
                if delay is not None:
                    yield e.emit(
                        ev.ModelRequestRetry,
                        model_name=current.model_name,
                        attempt=attempt,
                        delay=delay,
                        error=ErrorInfo.from_exception(exc),
                    )
                    await e.step(anyio.sleep(delay))
                    continue
                following = chain.next_after(exc)
                if following is None:
                    raise
                info = ErrorInfo.from_exception(exc)
                yield e.emit(
                    ev.ModelRequestFailed,
                    model_name=current.model_name,
                    step=e.state.step,
                    error=info,
                )
                e.state.open_model_request = None
                yield e.emit(
                    ev.ModelFallback,
                    from_model=current.model_name,
                    to_model=following.model_name,
                    error=info,
                )
                break


async def _aclose(stream: Any) -> None:
    """Close a model stream (an async generator) so its HTTP response is released."""
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


class StreamTranslator:
    """Turns a model's stream events into run events, with partial structured output."""

    __slots__ = ("_last", "_raw")

    def __init__(self) -> None:
        self._raw: dict[int, str] = {}
        self._last: Any = _NONE

    def reset(self) -> None:
        """Forget the partial output of the last response."""
        self._raw.clear()

    def events(self, e: RunEngine, item: ModelStreamEvent) -> list[ev.BaseEvent]:
        """The run events for one stream event."""
        out: list[ev.BaseEvent] = []
        if isinstance(item, PartStartEvent):
            part = item.part
            if isinstance(part, TextPart) and part.content:
                out.append(e.emit(ev.TextDelta, delta=part.content, part_index=item.index))
                self._text(e, part.content, out)
            elif isinstance(part, ThinkingPart) and part.content:
                out.append(e.emit(ev.ThinkingDelta, delta=part.content, part_index=item.index))
            elif isinstance(part, ToolCallPart):
                args = part.args if isinstance(part.args, str) else part.args_as_json()
                out.append(
                    e.emit(
                        ev.ToolCallDelta,
                        tool_call_id=part.tool_call_id or None,
                        tool_name=part.tool_name or None,
                        args_delta=args,
                        part_index=item.index,
                    )
                )
                if part.tool_name in e.output_tool_names:
                    self._raw[item.index] = ""
                    self._args(e, item.index, args, out)
        elif isinstance(item, PartDeltaEvent):
            delta = item.delta
            if isinstance(delta, TextPartDelta):
                out.append(e.emit(ev.TextDelta, delta=delta.content, part_index=item.index))
                self._text(e, delta.content, out)
            elif isinstance(delta, ThinkingPartDelta):
                if delta.content:
                    out.append(e.emit(ev.ThinkingDelta, delta=delta.content, part_index=item.index))
            else:
                out.append(
                    e.emit(
                        ev.ToolCallDelta,
                        tool_call_id=delta.tool_call_id,
                        tool_name=delta.tool_name,
                        args_delta=delta.args_delta,
                        part_index=item.index,
                    )
                )
                if delta.tool_name in e.output_tool_names:
                    self._raw.setdefault(item.index, "")
                self._args(e, item.index, delta.args_delta, out)
        return out

    def _args(self, e: RunEngine, index: int, fragment: str, out: list[ev.BaseEvent]) -> None:
        if e.output is None or index not in self._raw:
            return
        self._raw[index] += fragment
        self._emit(e, self._raw[index], out)

    def _text(self, e: RunEngine, fragment: str, out: list[ev.BaseEvent]) -> None:
        if e.output is None or e.output_mode not in ("native", "prompted"):
            return
        raw = self._raw.get(-1, "") + fragment
        self._raw[-1] = raw
        start = raw.find("{")
        if start != -1:
            self._emit(e, raw[start:], out)

    def _emit(self, e: RunEngine, raw: str, out: list[ev.BaseEvent]) -> None:
        assert e.output is not None
        partial = e.output.partial(raw)
        if partial is None or partial == self._last:
            return
        self._last = partial
        out.append(e.emit(ev.OutputDelta, output=partial))
