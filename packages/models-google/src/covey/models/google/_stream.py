"""Gemini `streamGenerateContent` chunks -> Covey stream events, through `ResponseAssembler`.

Each chunk carries fragments of parts. Text and thought fragments extend the current part of
their kind; a switch of kind starts a new part. Function calls arrive whole and each is its own
part. A thought signature belongs to the part it arrives on; one that arrives on an empty text
fragment (Gemini sends the signature of a text part that way, at the end) goes to the part
being written, or, when that part is already signed, is kept to be replayed after it.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any, Literal

from google.genai import types

from covey.models.google._response import (
    call_part,
    map_usage,
    normalise_finish_reason,
    signature_details,
)
from covey.models.google._signatures import PROVIDER, SIGNATURE_KEY, TRAILING_SIGNATURES_KEY
from covey.spec.messages import TextPart, ThinkingPart, ToolCallPart
from covey.spec.models import (
    FinalResponseEvent,
    ModelStreamEvent,
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
)
from covey.spec.streaming import ResponseAssembler
from covey.spec.usage import Usage

__all__ = ["GeminiStream"]


class GeminiStream:
    """State of one streamed response: feed it chunks, then call `finish`."""

    __slots__ = (
        "_assembler",
        "_blocked",
        "_has_calls",
        "_last_index",
        "_model_name",
        "_model_version",
        "_open_index",
        "_open_kind",
        "_open_signed",
        "_reason",
        "_response_id",
        "_segment",
        "_trailing",
        "_usage",
    )

    def __init__(self, model_name: str) -> None:
        self._assembler = ResponseAssembler()
        self._model_name = model_name
        # Part index -> signatures that came after it on empty parts of their own. The part may
        # have ended already (a function call ends at once), so they are added to its end event
        # if it is still to come, and to the final response.
        self._trailing: dict[int, list[str]] = {}
        self._open_kind: Literal["text", "thinking"] | None = None
        self._open_index: int | None = None
        self._open_signed = False
        self._segment = 0
        self._last_index: int | None = None
        self._has_calls = False
        self._usage: Usage | None = None
        self._reason: str | None = None
        self._blocked = False
        self._response_id: str | None = None
        self._model_version: str | None = None

    def feed(self, chunk: types.GenerateContentResponse) -> list[ModelStreamEvent]:
        """The events for one chunk."""
        if chunk.response_id:
            self._response_id = chunk.response_id
        if chunk.model_version:
            self._model_version = chunk.model_version
        if chunk.usage_metadata is not None:
            self._usage = map_usage(chunk.usage_metadata)
        feedback = chunk.prompt_feedback
        if feedback is not None and feedback.block_reason is not None:
            self._blocked = True
        events: list[ModelStreamEvent] = []
        candidate = chunk.candidates[0] if chunk.candidates else None
        if candidate is None:
            return events
        if candidate.finish_reason is not None:
            self._reason = str(candidate.finish_reason.value)
        if candidate.content is not None:
            for part in candidate.content.parts or []:
                events.extend(self._part(part))
        return self._patch(events)

    def finish(self) -> list[ModelStreamEvent]:
        """Close every part and emit the final response."""
        if self._reason is not None:
            reason: str | None = normalise_finish_reason(self._reason, self._has_calls)
        elif self._blocked:
            reason = "content_filter"
        else:
            reason = "tool_calls" if self._has_calls else None
        events = self._assembler.finish(
            usage=self._usage or Usage(requests=1),
            model_name=self._model_version or self._model_name,
            provider_name=PROVIDER,
            provider_response_id=self._response_id,
            finish_reason=reason,
        )
        return self._patch(events)

    # --- parts -----------------------------------------------------------------------------------

    def _part(self, part: types.Part) -> list[ModelStreamEvent]:
        details = signature_details(part)
        if part.function_call is not None:
            return self._call(part.function_call, details)
        if part.text is None and details is None:
            return []  # images, executable code...: no Covey response part
        kind: Literal["text", "thinking"] = "thinking" if part.thought else "text"
        return self._text_like(kind, part.text or "", details)

    def _call(
        self, call: types.FunctionCall, details: dict[str, Any] | None
    ) -> list[ModelStreamEvent]:
        events = self._close_open()
        self._has_calls = True
        self._segment += 1
        key: Hashable = ("call", self._segment)
        complete = call_part(call, details)
        started = self._assembler.tool_call(
            key=key,
            tool_name=complete.tool_name,
            tool_call_id=complete.tool_call_id,
            args_delta=json.dumps(complete.args, ensure_ascii=False),
            provider_details=complete.provider_details,
        )
        self._last_index = _index(started)
        events.extend(started)
        events.extend(self._assembler.end(key))
        return events

    def _text_like(
        self, kind: Literal["text", "thinking"], text: str, details: dict[str, Any] | None
    ) -> list[ModelStreamEvent]:
        signature = details[SIGNATURE_KEY] if details else None
        continues = self._open_kind == kind and self._open_index is not None
        if not text and signature is not None and (not continues or self._open_signed):
            return self._orphan_signature(signature)
        events: list[ModelStreamEvent] = []
        if self._open_kind != kind or (signature is not None and self._open_signed):
            events = self._close_open()
            self._segment += 1
            self._open_kind = kind
        key: Hashable = (kind, self._segment)
        if kind == "thinking":
            added = self._assembler.thinking(
                text, key=key, signature=signature, provider_details=details
            )
        else:
            added = self._assembler.text(text, key=key, provider_details=details)
        index = _index(added)
        if index is not None:
            self._open_index = index
            self._last_index = index
        if signature is not None and self._open_index is not None:
            self._open_signed = True
        events.extend(added)
        return events

    def _orphan_signature(self, signature: str) -> list[ModelStreamEvent]:
        # A signature on an empty fragment that no unsigned part of its kind is waiting for:
        # Gemini sent it as a part of its own, so it is replayed as one, after the last part.
        if self._last_index is not None:
            self._trailing.setdefault(self._last_index, []).append(signature)
            return []
        # Nothing written yet: keep it as an empty (signed) thinking part.
        events = self._close_open()
        self._segment += 1
        key: Hashable = ("thinking", self._segment)
        added = self._assembler.thinking(
            "", key=key, signature=signature, provider_details={SIGNATURE_KEY: signature}
        )
        self._last_index = _index(added)
        events.extend(added)
        events.extend(self._assembler.end(key))
        return events

    def _close_open(self) -> list[ModelStreamEvent]:
        events: list[ModelStreamEvent] = []
        if self._open_kind is not None:
            events = self._assembler.end((self._open_kind, self._segment))
        self._open_kind = None
        self._open_index = None
        self._open_signed = False
        return events

    def _patch(self, events: list[ModelStreamEvent]) -> list[ModelStreamEvent]:
        if not self._trailing:
            return events
        for event in events:
            if isinstance(event, PartEndEvent):
                _add_trailing(event.part, self._trailing.get(event.index))
            elif isinstance(event, FinalResponseEvent):
                for index, part in enumerate(event.response.parts):
                    _add_trailing(part, self._trailing.get(index))
        return events


def _add_trailing(
    part: TextPart | ThinkingPart | ToolCallPart, signatures: list[str] | None
) -> None:
    if signatures:
        part.provider_details = {
            **(part.provider_details or {}),
            TRAILING_SIGNATURES_KEY: list(signatures),
        }


def _index(events: list[ModelStreamEvent]) -> int | None:
    for event in events:
        if isinstance(event, PartStartEvent):
            return event.index
        if isinstance(event, PartDeltaEvent):
            return event.index
    return None
