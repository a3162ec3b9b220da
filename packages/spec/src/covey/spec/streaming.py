"""Assembles a streamed response from provider chunks, for adapters to share.

Providers identify the part a chunk belongs to in their own way (a content-block index, a
tool-call index, an output item id). An adapter passes that as `key`; the assembler numbers the
parts, emits `PartStartEvent` / `PartDeltaEvent` / `PartEndEvent`, and builds the final
`ModelResponse` with every part complete.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, Literal

from covey.spec.messages import ModelResponse, TextPart, ThinkingPart, ToolCallPart
from covey.spec.models import (
    FinalResponseEvent,
    ModelStreamEvent,
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    TextPartDelta,
    ThinkingPartDelta,
    ToolCallPartDelta,
)
from covey.spec.usage import Usage

__all__ = ["ResponseAssembler"]


@dataclass(slots=True)
class _Building:
    kind: Literal["text", "thinking", "tool-call"]
    index: int
    chunks: list[str] = field(default_factory=list[str])
    signature: str | None = None
    tool_name: str = ""
    tool_call_id: str = ""
    part_id: str | None = None
    redacted: bool = False
    provider_details: dict[str, Any] | None = None
    ended: bool = False

    def build(self) -> TextPart | ThinkingPart | ToolCallPart:
        content = "".join(self.chunks)
        if self.kind == "text":
            return TextPart(content=content, provider_details=self.provider_details)
        if self.kind == "thinking":
            return ThinkingPart(
                content=content,
                signature=self.signature,
                id=self.part_id,
                redacted=self.redacted,
                provider_details=self.provider_details,
            )
        return ToolCallPart(
            tool_name=self.tool_name,
            tool_call_id=self.tool_call_id,
            args=content,
            provider_details=self.provider_details,
        )


class ResponseAssembler:
    """Turns provider stream chunks into part events and one final `ModelResponse`."""

    __slots__ = ("_by_key", "_parts")

    def __init__(self) -> None:
        self._parts: list[_Building] = []
        self._by_key: dict[Hashable, _Building] = {}

    def _open(
        self, key: Hashable, kind: Literal["text", "thinking", "tool-call"]
    ) -> tuple[_Building, bool]:
        current = self._by_key.get(key)
        if current is not None and not current.ended and current.kind == kind:
            return current, False
        building = _Building(kind=kind, index=len(self._parts))
        self._parts.append(building)
        self._by_key[key] = building
        return building, True

    def text(
        self,
        delta: str,
        *,
        key: Hashable = "text",
        provider_details: dict[str, Any] | None = None,
    ) -> list[ModelStreamEvent]:
        """Add text, or provider details, to the text part under `key`, opening it if needed.

        `provider_details` are merged into the part's (later keys win) and show on its
        `PartEndEvent` and in the final response. An empty `delta` with details still opens the
        part (its start event then holds an empty `TextPart`) but emits no delta: providers sign
        or label a text part on a fragment without text. An empty `delta` without details is
        ignored.
        """
        if not delta and not provider_details:
            return []
        building, new = self._open(key, "text")
        if delta:
            building.chunks.append(delta)
        if provider_details:
            building.provider_details = {**(building.provider_details or {}), **provider_details}
        if new:
            return [PartStartEvent(building.index, TextPart(content=delta))]
        if delta:
            return [PartDeltaEvent(building.index, TextPartDelta(delta))]
        return []

    def thinking(
        self,
        delta: str = "",
        *,
        key: Hashable = "thinking",
        signature: str | None = None,
        part_id: str | None = None,
        redacted: bool = False,
        provider_details: dict[str, Any] | None = None,
    ) -> list[ModelStreamEvent]:
        """Add reasoning text, a signature, or opaque replay data to the thinking part."""
        building, new = self._open(key, "thinking")
        if delta:
            building.chunks.append(delta)
        if signature is not None:
            building.signature = (building.signature or "") + signature
        if part_id is not None:
            building.part_id = part_id
        building.redacted = building.redacted or redacted
        if provider_details:
            building.provider_details = {**(building.provider_details or {}), **provider_details}
        if new:
            return [
                PartStartEvent(
                    building.index,
                    ThinkingPart(content=delta, signature=signature, id=part_id, redacted=redacted),
                )
            ]
        if delta or signature:
            return [PartDeltaEvent(building.index, ThinkingPartDelta(delta, signature))]
        return []

    def tool_call(
        self,
        *,
        key: Hashable,
        args_delta: str = "",
        tool_name: str | None = None,
        tool_call_id: str | None = None,
        provider_details: dict[str, Any] | None = None,
    ) -> list[ModelStreamEvent]:
        """Add a fragment to the tool call under `key`: its name/id first, then argument JSON."""
        building, new = self._open(key, "tool-call")
        if tool_name:
            building.tool_name = tool_name
        if tool_call_id:
            building.tool_call_id = tool_call_id
        if args_delta:
            building.chunks.append(args_delta)
        if provider_details:
            building.provider_details = {**(building.provider_details or {}), **provider_details}
        if new:
            part = ToolCallPart(
                tool_name=building.tool_name, tool_call_id=building.tool_call_id, args=args_delta
            )
            return [PartStartEvent(building.index, part)]
        if args_delta or tool_name or tool_call_id:
            return [
                PartDeltaEvent(
                    building.index, ToolCallPartDelta(args_delta, tool_name, tool_call_id)
                )
            ]
        return []

    def end(self, key: Hashable) -> list[ModelStreamEvent]:
        """Close the part under `key` (no-op when it is unknown or already closed)."""
        building = self._by_key.get(key)
        if building is None or building.ended:
            return []
        building.ended = True
        return [PartEndEvent(building.index, building.build())]

    def finish(
        self,
        *,
        usage: Usage | None = None,
        model_name: str | None = None,
        provider_name: str | None = None,
        provider_response_id: str | None = None,
        finish_reason: str | None = None,
    ) -> list[ModelStreamEvent]:
        """Close every open part and emit the final response."""
        events: list[ModelStreamEvent] = []
        for building in self._parts:
            if not building.ended:
                building.ended = True
                events.append(PartEndEvent(building.index, building.build()))
        response = ModelResponse(
            parts=[b.build() for b in self._parts],
            usage=usage or Usage(requests=1),
            model_name=model_name,
            provider_name=provider_name,
            provider_response_id=provider_response_id,
            finish_reason=finish_reason,
        )
        events.append(FinalResponseEvent(response))
        return events
