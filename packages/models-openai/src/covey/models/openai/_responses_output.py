"""Responses API output (a whole `Response` or its typed SSE events) to Covey responses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Hashable
from typing import Any, cast

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

Json = dict[str, Any]
"""A decoded JSON object of the Responses API (an item, a response, a stream event)."""

__all__ = ["ErrorFactory", "parse_response", "stream_response"]


def _obj(value: object) -> Json:
    return cast("Json", value) if isinstance(value, dict) else {}


def _list(value: object) -> list[Json]:
    if not isinstance(value, list):
        return []
    return [cast("Json", v) for v in cast("list[object]", value) if isinstance(v, dict)]


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


ErrorFactory = Callable[[object], ModelHTTPError]
"""Builds the Covey error for an error body the server reported (failed response, error event)."""


def _reasoning_texts(item: Json) -> list[str]:
    summary = [t for s in _list(item.get("summary")) if (t := _str(s.get("text")))]
    if summary:
        return summary
    # Open-weight reasoning models served over Responses return raw reasoning text instead.
    return [t for c in _list(item.get("content")) if (t := _str(c.get("text")))]


def _reasoning_details(item: Json) -> dict[str, Any]:
    details: dict[str, Any] = {"summary": [s.get("text") for s in _list(item.get("summary"))]}
    if item.get("encrypted_content"):
        details["encrypted_content"] = item.get("encrypted_content")
    return details


def _message_details(item: Json) -> dict[str, Any]:
    details: dict[str, Any] = {"id": item.get("id")}
    if item.get("phase"):
        details["phase"] = item.get("phase")
    return details


def _message_text(item: Json) -> tuple[str, str]:
    """(text, refusal) of an assistant message item."""
    text: list[str] = []
    refusal: list[str] = []
    for content in _list(item.get("content")):
        if content.get("type") == "output_text":
            text.append(_str(content.get("text")) or "")
        else:
            refusal.append(_str(content.get("refusal")) or "")
    return "".join(text), "".join(refusal)


def _call_part(item: Json) -> ToolCallPart:
    return ToolCallPart(
        tool_name=_str(item.get("name")) or "",
        args=_str(item.get("arguments")) or "",
        tool_call_id=_str(item.get("call_id")) or "",
        provider_details={"id": item.get("id")} if item.get("id") else None,
    )


def _item_parts(item: Json) -> list[ModelResponsePart]:
    if item.get("type") == "reasoning":
        return [
            ThinkingPart(
                content="\n\n".join(_reasoning_texts(item)),
                id=item.get("id"),
                provider_details=_reasoning_details(item),
            )
        ]
    if item.get("type") == "message":
        text, refusal = _message_text(item)
        parts: list[ModelResponsePart] = []
        if text or not refusal:
            parts.append(TextPart(content=text, provider_details=_message_details(item)))
        if refusal:
            parts.append(TextPart(content=refusal, provider_details={"refusal": True}))
        return parts
    if item.get("type") == "function_call":
        return [_call_part(item)]
    return []  # hosted-tool items: Covey declares no hosted tools


def _finish_reason(response: Json, parts: list[ModelResponsePart]) -> str | None:
    if response.get("status") == "incomplete":
        reason = _str(_obj(response.get("incomplete_details")).get("reason"))
        if reason == "max_output_tokens":
            return "length"
        return reason or "length"
    if any(isinstance(p, TextPart) and (p.provider_details or {}).get("refusal") for p in parts):
        return "content_filter"
    if any(isinstance(p, ToolCallPart) for p in parts):
        return "tool_calls"
    status = _str(response.get("status"))
    return "stop" if status in ("completed", None) else status


def _check_failed(response: Json, error: ErrorFactory) -> None:
    if response.get("status") == "failed":
        body: object = response.get("error")
        raise error(body if body is not None else {})


def parse_response(
    response: Json, *, provider_name: str, model_name: str, error: ErrorFactory
) -> ModelResponse:
    """A `ModelResponse` from a whole response (its decoded JSON).

    Raises:
        ModelHTTPError: (a subclass chosen by the error code) the response failed.
    """
    _check_failed(response, error)
    parts: list[ModelResponsePart] = []
    for item in _list(response.get("output")):
        parts.extend(_item_parts(item))
    return ModelResponse(
        parts=parts,
        usage=responses_usage(response.get("usage")),
        model_name=_str(response.get("model")) or model_name,
        provider_name=provider_name,
        provider_response_id=_str(response.get("id")),
        finish_reason=_finish_reason(response, parts),
    )


class _ResponsesStream:
    """Feeds Responses stream events (decoded JSON) to a `ResponseAssembler`, keyed by output index."""

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

    def _item_added(self, index: int, item: Json) -> list[ModelStreamEvent]:
        key = ("item", index)
        if item.get("type") == "function_call":
            self.opened_calls.add(index)
            if item.get("arguments"):
                self.streamed.add(key)
            return self.asm.tool_call(
                key=key,
                tool_name=item.get("name"),
                tool_call_id=item.get("call_id"),
                args_delta=_str(item.get("arguments")) or "",
                provider_details={"id": item.get("id")} if item.get("id") else None,
            )
        if item.get("type") == "reasoning":
            return self.asm.thinking(key=key, part_id=item.get("id"))
        if item.get("type") == "message":
            self.item_details[key] = _message_details(item)
            self.item_details[("refusal", index)] = {"refusal": True}
        return []

    def _item_done(self, index: int, item: Json) -> list[ModelStreamEvent]:
        key = ("item", index)
        events: list[ModelStreamEvent] = []
        if item.get("type") == "reasoning":
            delta = "" if key in self.streamed else "\n\n".join(_reasoning_texts(item))
            events += self.asm.thinking(
                delta, key=key, part_id=item.get("id"), provider_details=_reasoning_details(item)
            )
            events += self.asm.end(key)
        elif item.get("type") == "function_call":
            opened = index in self.opened_calls
            events += self.asm.tool_call(
                key=key,
                tool_name=None if opened else item.get("name"),
                tool_call_id=None if opened else item.get("call_id"),
                args_delta="" if key in self.streamed else (_str(item.get("arguments")) or ""),
                provider_details={"id": item.get("id")} if item.get("id") else None,
            )
            events += self.asm.end(key)
        elif item.get("type") == "message":
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

    def _finish(self, response: Json) -> list[ModelStreamEvent]:
        _check_failed(response, self.error)
        events: list[ModelStreamEvent] = []
        if not self.seen_items and not self.streamed:
            # A server that sent no item events: take the items from the final response.
            for index, item in enumerate(_list(response.get("output"))):
                events += self._item_added(index, item)
                events += self._item_done(index, item)
        final = self.asm.finish(
            usage=responses_usage(response.get("usage")),
            model_name=_str(response.get("model")) or self.model or self.model_name,
            provider_name=self.provider_name,
            provider_response_id=_str(response.get("id")) or self.response_id,
        )
        last = final[-1]
        assert isinstance(last, FinalResponseEvent)
        last.response.finish_reason = _finish_reason(response, last.response.parts)
        self.done = True
        return events + final

    def handle(self, event: Json) -> list[ModelStreamEvent]:
        """The Covey events for one stream event (its decoded JSON)."""
        kind = event.get("type")
        index = event.get("output_index")
        index = index if isinstance(index, int) else 0
        delta = _str(event.get("delta")) or ""
        if kind == "response.created" or kind == "response.in_progress":
            response = _obj(event.get("response"))
            self.response_id = _str(response.get("id")) or self.response_id
            self.model = _str(response.get("model")) or self.model
        elif kind == "response.output_item.added":
            self.seen_items.add(index)
            return self._item_added(index, _obj(event.get("item")))
        elif kind == "response.output_item.done":
            self.seen_items.add(index)
            return self._item_done(index, _obj(event.get("item")))
        elif kind == "response.output_text.delta":
            return self._text(("item", index), delta)
        elif kind == "response.refusal.delta":
            return self._text(("refusal", index), delta)
        elif kind == "response.function_call_arguments.delta":
            key = ("item", index)
            self.streamed.add(key)
            return self.asm.tool_call(key=key, args_delta=delta)
        elif kind == "response.reasoning_summary_text.delta":
            summary = event.get("summary_index")
            return self._summary_delta(index, summary if isinstance(summary, int) else 0, delta)
        elif kind == "response.reasoning_text.delta":
            key = ("item", index)
            self.streamed.add(key)
            return self.asm.thinking(delta, key=key)
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            return self._finish(_obj(event.get("response")))
        elif kind == "error":
            raise self.error(
                {
                    "code": event.get("code"),
                    "message": event.get("message"),
                    "param": event.get("param"),
                }
            )
        return []


async def stream_response(
    events: AsyncIterator[object],
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
        for out in state.handle(_obj(event)):
            yield out
        if state.done:
            return
    raise UnexpectedModelBehavior(
        f"{provider_name} ended the response stream without response.completed"
    )
