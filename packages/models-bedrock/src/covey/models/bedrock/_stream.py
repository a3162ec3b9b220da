"""ConverseStream events → Covey part events, through the shared `ResponseAssembler`."""

from __future__ import annotations

import base64
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from covey.models.bedrock._messages import PROVIDER_NAME, REDACTED_CONTENT_KEY
from covey.models.bedrock._response import dig, finish_reason, map_usage
from covey.spec.errors import UnexpectedModelBehavior
from covey.spec.messages import ModelResponse
from covey.spec.models import FinalResponseEvent, ModelStreamEvent
from covey.spec.streaming import ResponseAssembler

__all__ = ["StreamState", "assemble_stream"]


@dataclass(slots=True)
class StreamState:
    """What the stream said besides its parts: the stop reason, usage and trace."""

    stop_reason: str | None = None
    usage: Mapping[str, Any] | None = None
    trace: Mapping[str, Any] | None = None
    stopped: bool = False
    response: ModelResponse | None = None
    texts: list[str] = field(default_factory=list[str])


async def assemble_stream(
    events: AsyncIterator[Mapping[str, Any]],
    *,
    model_name: str,
    request_id: str | None,
    state: StreamState,
) -> AsyncGenerator[ModelStreamEvent, None]:
    """Yield part start/delta/end events for ConverseStream events, then the final response.

    Blocks are keyed by `contentBlockIndex`. Usage arrives in the `metadata` event after
    `messageStop`, so the final response is built when the stream ends. Exception events never
    reach this function: botocore raises them, and the caller maps them.

    Raises:
        UnexpectedModelBehavior: the stream ended before `messageStop`.
    """
    assembler = ResponseAssembler()
    async for event in events:
        for out in _handle(assembler, state, event):
            yield out
    if not state.stopped:
        raise UnexpectedModelBehavior(
            f"The Amazon Bedrock stream for model {model_name!r} ended before its messageStop "
            f"event; the response is incomplete. Retry the request."
        )
    for out in assembler.finish(
        usage=map_usage(state.usage),
        model_name=model_name,
        provider_name=PROVIDER_NAME,
        provider_response_id=request_id,
        finish_reason=finish_reason(state.stop_reason),
    ):
        if isinstance(out, FinalResponseEvent):
            state.response = out.response
        yield out


def _handle(
    assembler: ResponseAssembler, state: StreamState, event: Mapping[str, Any]
) -> Iterator[ModelStreamEvent]:
    if "contentBlockStart" in event:
        start = cast(Mapping[str, Any], event["contentBlockStart"])
        key = int(start.get("contentBlockIndex", 0))
        use: Mapping[str, Any] = dig(start, "start", "toolUse") or {}
        if use:
            yield from assembler.tool_call(
                key=key,
                tool_name=str(use["name"]),
                tool_call_id=str(use["toolUseId"]),
                args_delta="",
            )
    elif "contentBlockDelta" in event:
        body = cast(Mapping[str, Any], event["contentBlockDelta"])
        key = int(body.get("contentBlockIndex", 0))
        delta = cast(Mapping[str, Any], body.get("delta") or {})
        if "text" in delta:
            state.texts.append(str(delta["text"]))
            yield from assembler.text(str(delta["text"]), key=key)
        elif "toolUse" in delta:
            yield from assembler.tool_call(
                key=key, args_delta=str(dig(delta, "toolUse", "input") or "")
            )
        elif "reasoningContent" in delta:
            reasoning = cast(Mapping[str, Any], delta["reasoningContent"])
            if "text" in reasoning:
                yield from assembler.thinking(str(reasoning["text"]), key=key)
            if reasoning.get("signature"):
                yield from assembler.thinking(key=key, signature=str(reasoning["signature"]))
            redacted = reasoning.get("redactedContent")
            if isinstance(redacted, bytes | bytearray):
                data = base64.b64encode(bytes(redacted)).decode()
                yield from assembler.thinking(
                    key=key, redacted=True, provider_details={REDACTED_CONTENT_KEY: data}
                )
    elif "contentBlockStop" in event:
        key = int(dig(event, "contentBlockStop", "contentBlockIndex") or 0)
        yield from assembler.end(key)
    elif "messageStop" in event:
        state.stopped = True
        state.stop_reason = dig(event, "messageStop", "stopReason")
    elif "metadata" in event:
        metadata = cast(Mapping[str, Any], event["metadata"])
        state.usage = metadata.get("usage")
        state.trace = metadata.get("trace")
