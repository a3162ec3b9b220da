"""Chat Completions responses (whole or streamed) to Covey responses and stream events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Hashable
from typing import Any, cast

from covey.models.openai._usage import chat_usage, field
from covey.spec.errors import UnexpectedModelBehavior
from covey.spec.messages import (
    ModelResponse,
    ModelResponsePart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from covey.spec.models import ModelStreamEvent
from covey.spec.streaming import ResponseAssembler
from covey.spec.usage import Usage

__all__ = ["finish_reason", "parse_completion", "stream_completion"]

# Compatible servers put reasoning in one of these message fields (DeepSeek, vLLM: the first;
# Ollama, OpenRouter, newer vLLM: the second).
_REASONING_FIELDS = ("reasoning_content", "reasoning")


def finish_reason(raw: str | None) -> str | None:
    """The normalised finish reason: `stop`, `length`, `tool_calls`, `content_filter`, or raw."""
    if raw == "function_call":
        return "tool_calls"
    return raw


def _new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _reasoning(obj: Any) -> str:
    for name in _REASONING_FIELDS:
        value = field(obj, name)
        if isinstance(value, str) and value:
            return value
    return ""


def _content_chunks(content: Any) -> tuple[str, str]:
    """(text, thinking) from `content`: a string, or a list of typed chunks (Mistral)."""
    if isinstance(content, str):
        return content, ""
    if not isinstance(content, list):
        return "", ""
    text: list[str] = []
    thinking: list[str] = []
    for chunk in content:  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(chunk, dict):
            continue
        kind = chunk.get("type")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        if kind == "text":
            text.append(str(chunk.get("text", "")))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
        elif kind == "thinking":
            inner = chunk.get("thinking")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            if isinstance(inner, str):
                thinking.append(inner)
            elif isinstance(inner, list):
                thinking.extend(
                    str(i.get("text", ""))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
                    for i in inner  # pyright: ignore[reportUnknownVariableType]
                    if isinstance(i, dict)
                )
    return "".join(text), "".join(thinking)


def _object(value: object) -> dict[str, Any]:
    return cast("dict[str, Any]", value) if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def parse_completion(
    completion: dict[str, Any], *, provider_name: str, model_name: str
) -> ModelResponse:
    """A `ModelResponse` from a chat completion (its decoded JSON; the first choice).

    Compatible servers may leave out any field; a missing or mistyped one reads as absent.

    Raises:
        UnexpectedModelBehavior: the completion has no choices.
    """
    choices = completion.get("choices")
    if not isinstance(choices, list) or not choices:
        raise UnexpectedModelBehavior(f"{provider_name} returned a chat completion with no choices")
    choice = _object(choices[0])  # pyright: ignore[reportUnknownArgumentType]
    message = _object(choice.get("message"))
    text, chunk_thinking = _content_chunks(message.get("content"))
    thinking = _reasoning(message) or chunk_thinking
    parts: list[ModelResponsePart] = []
    if thinking:
        parts.append(ThinkingPart(content=thinking))
    if text:
        parts.append(TextPart(content=text))
    refusal = _str(message.get("refusal"))
    if refusal:
        parts.append(TextPart(content=refusal, provider_details={"refusal": True}))
    calls = message.get("tool_calls")
    for raw in cast("list[Any]", calls) if isinstance(calls, list) else []:
        call = _object(raw)
        if call.get("type", "function") != "function":
            continue  # a custom (free-form) tool call: Covey declares none
        function = _object(call.get("function"))
        parts.append(
            ToolCallPart(
                tool_name=_str(function.get("name")) or "",
                args=_str(function.get("arguments")) or "",
                tool_call_id=_str(call.get("id")) or _new_call_id(),
            )
        )
    reason = finish_reason(_str(choice.get("finish_reason")))
    if refusal and reason == "stop":
        reason = "content_filter"
    return ModelResponse(
        parts=parts,
        usage=chat_usage(completion.get("usage")),
        model_name=_str(completion.get("model")) or model_name,
        provider_name=provider_name,
        provider_response_id=_str(completion.get("id")),
        finish_reason=reason,
    )


class _ChatStreamState:
    """Per-stream bookkeeping on top of the shared `ResponseAssembler`."""

    __slots__ = ("assembler", "calls", "finish", "model", "refused", "response_id", "usage")

    def __init__(self) -> None:
        self.assembler = ResponseAssembler()
        self.usage: Usage | None = None
        self.finish: str | None = None
        self.model: str | None = None
        self.response_id: str | None = None
        self.calls: set[Hashable] = set()
        self.refused = False

    def delta(self, delta: Any) -> list[ModelStreamEvent]:
        events: list[ModelStreamEvent] = []
        asm = self.assembler
        text, chunk_thinking = _content_chunks(field(delta, "content"))
        thinking = _reasoning(delta) or chunk_thinking
        if thinking:
            events += asm.thinking(thinking)
        if text:
            events += asm.end("thinking")
            events += asm.text(text)
        refusal = _str(field(delta, "refusal"))
        if refusal:
            self.refused = True
            events += asm.text(refusal, key="refusal")
        calls = field(delta, "tool_calls")
        for position, call in enumerate(
            cast("list[Any]", calls) if isinstance(calls, list) else []
        ):
            # Some servers leave out `index` (one call per chunk): fall back to the position.
            index = field(call, "index")
            key = ("tool", index if isinstance(index, int) else position)
            call_id = _str(field(call, "id"))
            if key not in self.calls:
                # Parallel calls may interleave, so a call stays open until the stream ends.
                self.calls.add(key)
                events += asm.end("thinking")
                # A server that streams a call without an id still needs one for the answer.
                call_id = call_id or _new_call_id()
            function = field(call, "function")
            events += asm.tool_call(
                key=key,
                args_delta=_str(field(function, "arguments")) or "",
                tool_name=_str(field(function, "name")),
                tool_call_id=call_id or None,
            )
        return events


async def stream_completion(
    chunks: AsyncIterator[object], *, provider_name: str, model_name: str
) -> AsyncIterator[ModelStreamEvent]:
    """Stream events from chat completion chunks (each SSE event's decoded JSON), ending with
    the `FinalResponseEvent`."""
    state = _ChatStreamState()
    async for chunk in chunks:
        state.response_id = state.response_id or _str(field(chunk, "id"))
        state.model = _str(field(chunk, "model")) or state.model
        usage = field(chunk, "usage")
        if usage is not None:
            state.usage = chat_usage(usage)
        choices = field(chunk, "choices")
        for choice in cast("list[Any]", choices) if isinstance(choices, list) else []:
            if field(choice, "index"):  # only the first choice (index 0, or left out)
                continue
            for event in state.delta(field(choice, "delta")):
                yield event
            reason = _str(field(choice, "finish_reason"))
            if reason:
                state.finish = finish_reason(reason)
    if state.refused and state.finish == "stop":
        state.finish = "content_filter"
    for event in state.assembler.finish(
        usage=state.usage or Usage(requests=1),
        model_name=state.model or model_name,
        provider_name=provider_name,
        provider_response_id=state.response_id,
        finish_reason=state.finish,
    ):
        yield event
