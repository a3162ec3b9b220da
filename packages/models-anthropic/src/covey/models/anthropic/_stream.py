"""Messages API stream events → Covey part events, through the shared `ResponseAssembler`."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from covey.models.anthropic._messages import PROVIDER_NAME, REDACTED_DATA_KEY
from covey.models.anthropic._response import finish_reason, map_usage
from covey.spec.errors import UnexpectedModelBehavior
from covey.spec.models import ModelStreamEvent
from covey.spec.streaming import ResponseAssembler

if TYPE_CHECKING:
    from anthropic.types import (
        MessageDeltaUsage,
        RawContentBlockDeltaEvent,
        RawContentBlockStartEvent,
        RawMessageStreamEvent,
    )
    from anthropic.types import (
        Usage as AnthropicUsage,
    )

__all__ = ["assemble_stream"]


@dataclass(slots=True)
class _Counters:
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read: int | None = None
    cache_write: int | None = None
    thinking: int | None = None

    def update(self, usage: AnthropicUsage | MessageDeltaUsage) -> None:
        # `message_delta` counts are cumulative: a value present there replaces the start's.
        if usage.input_tokens is not None:
            self.input_tokens = usage.input_tokens
        self.output_tokens = usage.output_tokens
        if usage.cache_read_input_tokens is not None:
            self.cache_read = usage.cache_read_input_tokens
        if usage.cache_creation_input_tokens is not None:
            self.cache_write = usage.cache_creation_input_tokens
        if usage.output_tokens_details is not None:
            self.thinking = usage.output_tokens_details.thinking_tokens


async def assemble_stream(
    events: AsyncIterator[RawMessageStreamEvent], *, model_name: str
) -> AsyncGenerator[ModelStreamEvent, None]:
    """Yield part start/delta/end events for a raw Messages stream, then the final response.

    Content blocks are keyed by their `index`. `error` events never reach this function: the
    SDK raises them as status errors, which the caller maps.

    Raises:
        UnexpectedModelBehavior: the stream ended before `message_stop`.
    """
    assembler = ResponseAssembler()
    counters = _Counters()
    response_id: str | None = None
    response_model = model_name
    stop_reason: str | None = None
    async for event in events:
        if event.type == "message_start":
            response_id = event.message.id
            response_model = event.message.model or model_name
            counters.update(event.message.usage)
        elif event.type == "content_block_start":
            for out in _block_start(assembler, event):
                yield out
        elif event.type == "content_block_delta":
            for out in _block_delta(assembler, event):
                yield out
        elif event.type == "content_block_stop":
            for out in assembler.end(event.index):
                yield out
        elif event.type == "message_delta":
            stop_reason = event.delta.stop_reason or stop_reason
            counters.update(event.usage)
        elif event.type == "message_stop":
            usage = map_usage(
                input_tokens=counters.input_tokens,
                output_tokens=counters.output_tokens,
                cache_read_input_tokens=counters.cache_read,
                cache_creation_input_tokens=counters.cache_write,
                thinking_tokens=counters.thinking,
            )
            for out in assembler.finish(
                usage=usage,
                model_name=response_model,
                provider_name=PROVIDER_NAME,
                provider_response_id=response_id,
                finish_reason=finish_reason(stop_reason),
            ):
                yield out
            return
    raise UnexpectedModelBehavior(
        f"The Anthropic stream for model {model_name!r} ended before its message_stop event; "
        f"the response is incomplete. Retry the request."
    )


def _block_start(
    assembler: ResponseAssembler, event: RawContentBlockStartEvent
) -> list[ModelStreamEvent]:
    block = event.content_block
    key = event.index
    if block.type == "text":
        return assembler.text(block.text, key=key)
    if block.type == "thinking":
        return assembler.thinking(block.thinking, key=key, signature=block.signature or None)
    if block.type == "redacted_thinking":
        return assembler.thinking(
            key=key, redacted=True, provider_details={REDACTED_DATA_KEY: block.data}
        )
    if block.type == "tool_use":
        # The start carries `input: {}`; the arguments follow as `input_json_delta` fragments.
        # A proxy that sends the whole input here instead is honoured.
        args = json.dumps(block.input) if block.input else ""
        return assembler.tool_call(
            key=key, tool_name=block.name, tool_call_id=block.id, args_delta=args
        )
    return []  # server-side tool blocks have no Covey part


def _block_delta(
    assembler: ResponseAssembler, event: RawContentBlockDeltaEvent
) -> list[ModelStreamEvent]:
    delta = event.delta
    key = event.index
    if delta.type == "text_delta":
        return assembler.text(delta.text, key=key)
    if delta.type == "input_json_delta":
        return assembler.tool_call(key=key, args_delta=delta.partial_json)
    if delta.type == "thinking_delta":
        return assembler.thinking(delta.thinking, key=key)
    if delta.type == "signature_delta":
        return assembler.thinking(key=key, signature=delta.signature)
    return []  # citations have no Covey part
