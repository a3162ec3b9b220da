"""Responses API output (a whole `Response` or its typed SSE events) to Covey responses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Hashable
from typing import TYPE_CHECKING, Any

from covey.models.openai._usage import responses_usage
from covey.spec.errors import ModelHTTPError, UnexpectedModelBehavior
from covey.spec.messages import (
    ModelResponse,
    ModelResponsePart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from covey.spec.models import FinalResponseEvent, ModelStreamEvent
from covey.spec.streaming import ResponseAssembler

if TYPE_CHECKING:
    from openai.types.responses import (
        Response,
        ResponseFunctionToolCall,
        ResponseOutputItem,
        ResponseOutputMessage,
        ResponseReasoningItem,
        ResponseStreamEvent,
    )

__all__ = ["ErrorFactory", "parse_response", "stream_response"]

ErrorFactory = Callable[[object], ModelHTTPError]
"""Builds the Covey error for an error body the server reported (failed response, error event)."""


def _reasoning_texts(item: ResponseReasoningItem) -> list[str]:
    summary = [s.text for s in item.summary or [] if s.text]
    if summary:
        return summary
    # Open-weight reasoning models served over Responses return raw reasoning text instead.
    return [c.text for c in item.content or [] if c.text]


def _reasoning_details(item: ResponseReasoningItem) -> dict[str, Any]:
    details: dict[str, Any] = {"summary": [s.text for s in item.summary or []]}
    if item.encrypted_content:
        details["encrypted_content"] = item.encrypted_content
    return details


def _message_details(item: ResponseOutputMessage) -> dict[str, Any]:
    details: dict[str, Any] = {"id": item.id}
    if item.phase:
        details["phase"] = item.phase
    return details


def _message_text(item: ResponseOutputMessage) -> tuple[str, str]:
    """(text, refusal) of an assistant message item."""
    text: list[str] = []
    refusal: list[str] = []
    for content in item.content or []:
        if content.type == "output_text":
            text.append(content.text)
        else:
            refusal.append(content.refusal)
    return "".join(text), "".join(refusal)


def _call_part(item: ResponseFunctionToolCall) -> ToolCallPart:
    return ToolCallPart(
        tool_name=item.name,
        args=item.arguments or "",
        tool_call_id=item.call_id,
        provider_details={"id": item.id} if item.id else None,
    )


def _item_parts(item: ResponseOutputItem) -> list[ModelResponsePart]:
    if item.type == "reasoning":
        return [
            ThinkingPart(
                content="\n\n".join(_reasoning_texts(item)),
                id=item.id,
                provider_details=_reasoning_details(item),
            )
        ]
    if item.type == "message":
        text, refusal = _message_text(item)
        parts: list[ModelResponsePart] = []
        if text or not refusal:
            parts.append(TextPart(content=text, provider_details=_message_details(item)))
        if refusal:
            parts.append(TextPart(content=refusal, provider_details={"refusal": True}))
        return parts
    if item.type == "function_call":
        return [_call_part(item)]
    return []  # hosted-tool items: Covey declares no hosted tools


def _finish_reason(response: Response, parts: list[ModelResponsePart]) -> str | None:
    if response.status == "incomplete":
        reason = response.incomplete_details.reason if response.incomplete_details else None
        if reason == "max_output_tokens":
            return "length"
        return reason or "length"
    if any(isinstance(p, TextPart) and (p.provider_details or {}).get("refusal") for p in parts):
        return "content_filter"
    if any(isinstance(p, ToolCallPart) for p in parts):
        return "tool_calls"
    return "stop" if response.status in ("completed", None) else response.status


def _check_failed(response: Response, error: ErrorFactory) -> None:
    if response.status == "failed":
        body: object = response.error.to_dict() if response.error is not None else {}
        raise error(body)


def parse_response(
    response: Response, *, provider_name: str, model_name: str, error: ErrorFactory
) -> ModelResponse:
    """A `ModelResponse` from a whole `Response`.

    Raises:
        ModelHTTPError: (a subclass chosen by the error code) the response failed.
    """
    _check_failed(response, error)
    parts: list[ModelResponsePart] = []
    for item in response.output or []:
        parts.extend(_item_parts(item))
    return ModelResponse(
        parts=parts,
        usage=responses_usage(response.usage),
        model_name=response.model or model_name,
        provider_name=provider_name,
        provider_response_id=response.id,
        finish_reason=_finish_reason(response, parts),
    )


class _ResponsesStream:
    """Feeds typed Responses events to a `ResponseAssembler`, keyed by output index."""

    def __init__(self, *, provider_name: str, model_name: str, error: ErrorFactory) -> None:
        self.asm = ResponseAssembler()
        self.provider_name = provider_name
        self.model_name = model_name
        self.error = error
        self.response_id: str | None = None
        self.model: str | None = None
        self.streamed: set[Hashable] = set()
        """Keys that received deltas (a done item then adds nothing)."""
        self.summary_index: dict[int, int] = {}
        self.item_details: dict[Hashable, dict[str, Any]] = {}
        """Stream key -> provider details of its text part (message id and phase, refusal)."""
        self.open_texts: set[Hashable] = set()
        """Keys whose text part is open in the assembler (it received text, it has not ended)."""
        self.seen_items: set[int] = set()
        """Output indexes announced by item events."""
        self.opened_calls: set[int] = set()
        """Output indexes of function calls opened by `output_item.added`."""
        self.done = False

    def _text(self, key: Hashable, delta: str) -> list[ModelStreamEvent]:
        self.streamed.add(key)
        if not delta:
            return []  # with details, even an empty delta would open a part
        self.open_texts.add(key)
        return self.asm.text(delta, key=key, provider_details=self.item_details.get(key))

    def _item_added(self, index: int, item: ResponseOutputItem) -> list[ModelStreamEvent]:
        key = ("item", index)
        if item.type == "function_call":
            self.opened_calls.add(index)
            if item.arguments:
                self.streamed.add(key)
            return self.asm.tool_call(
                key=key,
                tool_name=item.name,
                tool_call_id=item.call_id,
                args_delta=item.arguments or "",
                provider_details={"id": item.id} if item.id else None,
            )
        if item.type == "reasoning":
            return self.asm.thinking(key=key, part_id=item.id)
        if item.type == "message":
            self.item_details[key] = _message_details(item)
            self.item_details[("refusal", index)] = {"refusal": True}
        return []

    def _item_done(self, index: int, item: ResponseOutputItem) -> list[ModelStreamEvent]:
        key = ("item", index)
        events: list[ModelStreamEvent] = []
        if item.type == "reasoning":
            delta = "" if key in self.streamed else "\n\n".join(_reasoning_texts(item))
            events += self.asm.thinking(
                delta, key=key, part_id=item.id, provider_details=_reasoning_details(item)
            )
            events += self.asm.end(key)
        elif item.type == "function_call":
            opened = index in self.opened_calls
            events += self.asm.tool_call(
                key=key,
                tool_name=None if opened else item.name,
                tool_call_id=None if opened else item.call_id,
                args_delta="" if key in self.streamed else (item.arguments or ""),
                provider_details={"id": item.id} if item.id else None,
            )
            events += self.asm.end(key)
        elif item.type == "message":
            text, refusal = _message_text(item)
            refusal_key = ("refusal", index)
            self.item_details[key] = _message_details(item)  # `phase` may be set only now
            self.item_details[refusal_key] = {"refusal": True}
            for part_key, content in ((key, text), (refusal_key, refusal)):
                if part_key not in self.streamed and content:
                    events += self._text(part_key, content)
                elif part_key in self.open_texts:
                    details = self.item_details[part_key]
                    events += self.asm.text("", key=part_key, provider_details=details)
            for part_key in (key, refusal_key):
                events += self.asm.end(part_key)
                self.open_texts.discard(part_key)
        return events

    def _summary_delta(self, index: int, summary_index: int, delta: str) -> list[ModelStreamEvent]:
        key = ("item", index)
        previous = self.summary_index.get(index)
        if previous is not None and previous != summary_index:
            delta = "\n\n" + delta  # a new summary paragraph
        self.summary_index[index] = summary_index
        self.streamed.add(key)
        return self.asm.thinking(delta, key=key)

    def _finish(self, response: Response) -> list[ModelStreamEvent]:
        _check_failed(response, self.error)
        events: list[ModelStreamEvent] = []
        if not self.seen_items and not self.streamed:
            # A server that sent no item events: take the items from the final response.
            for index, item in enumerate(response.output or []):
                events += self._item_added(index, item)
                events += self._item_done(index, item)
        final = self.asm.finish(
            usage=responses_usage(response.usage),
            model_name=response.model or self.model or self.model_name,
            provider_name=self.provider_name,
            provider_response_id=response.id or self.response_id,
        )
        last = final[-1]
        assert isinstance(last, FinalResponseEvent)
        last.response.finish_reason = _finish_reason(response, last.response.parts)
        self.done = True
        return events + final

    def handle(self, event: ResponseStreamEvent) -> list[ModelStreamEvent]:
        """The Covey events for one SDK event."""
        if event.type == "response.created" or event.type == "response.in_progress":
            self.response_id = event.response.id or self.response_id
            self.model = event.response.model or self.model
        elif event.type == "response.output_item.added":
            self.seen_items.add(event.output_index)
            return self._item_added(event.output_index, event.item)
        elif event.type == "response.output_item.done":
            self.seen_items.add(event.output_index)
            return self._item_done(event.output_index, event.item)
        elif event.type == "response.output_text.delta":
            return self._text(("item", event.output_index), event.delta)
        elif event.type == "response.refusal.delta":
            return self._text(("refusal", event.output_index), event.delta)
        elif event.type == "response.function_call_arguments.delta":
            key = ("item", event.output_index)
            self.streamed.add(key)
            return self.asm.tool_call(key=key, args_delta=event.delta)
        elif event.type == "response.reasoning_summary_text.delta":
            return self._summary_delta(event.output_index, event.summary_index, event.delta)
        elif event.type == "response.reasoning_text.delta":
            key = ("item", event.output_index)
            self.streamed.add(key)
            return self.asm.thinking(event.delta, key=key)
        elif (
            event.type == "response.completed"
            or event.type == "response.incomplete"
            or event.type == "response.failed"
        ):
            return self._finish(event.response)
        elif event.type == "error":
            raise self.error({"code": event.code, "message": event.message, "param": event.param})
        return []


async def stream_response(
    events: AsyncIterator[ResponseStreamEvent],
    *,
    provider_name: str,
    model_name: str,
    error: ErrorFactory,
) -> AsyncIterator[ModelStreamEvent]:
    """Covey stream events from Responses SSE events, ending with the `FinalResponseEvent`.

    Raises:
        ModelHTTPError: (a subclass chosen by the error code) for `response.failed` and `error`
            events.
        UnexpectedModelBehavior: the stream ended without a final response event.
    """
    state = _ResponsesStream(provider_name=provider_name, model_name=model_name, error=error)
    async for event in events:
        for out in state.handle(event):
            yield out
        if state.done:
            return
    raise UnexpectedModelBehavior(
        f"{provider_name} ended the response stream without response.completed"
    )
