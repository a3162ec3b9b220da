"""The wire-format bodies `FakeOpenAIServer` answers with: Chat Completions objects and chunks,
Responses objects and typed events, and the tool calls scripted into them.

Public names are re-exported by `covey.models.openai.testing`; import them from there.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FakeToolCall",
    "chat_chunks",
    "chat_completion",
    "new_id",
    "responses_events",
    "responses_response",
]

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    """A fresh id such as `chatcmpl_000042`, unique in this process."""
    return f"{prefix}_{next(_ids):06d}"


@dataclass(frozen=True, slots=True)
class FakeToolCall:
    """A tool call for a scripted reply.

    Attributes:
        name: The tool name.
        arguments: The arguments, as a dict or as the raw JSON text.
        call_id: The call id (generated when empty).
        chunks: When streaming, how many fragments the argument JSON is split into.
    """

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict[str, Any])
    call_id: str = ""
    chunks: int = 3

    @property
    def arguments_json(self) -> str:
        """The arguments as JSON text."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments))

    def fragments(self) -> list[str]:
        """The argument JSON split into `chunks` pieces."""
        text = self.arguments_json
        size = max(1, math.ceil(len(text) / max(self.chunks, 1)))
        return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _split(text: str, pieces: int = 3) -> list[str]:
    size = max(1, math.ceil(len(text) / pieces))
    return [text[i : i + size] for i in range(0, len(text), size)]


# --- Chat Completions bodies ---------------------------------------------------------------------


def _chat_usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def chat_completion(
    *,
    text: str | None = None,
    tool_calls: Sequence[FakeToolCall] = (),
    model: str = "gpt-4.1",
    finish_reason: str | None = None,
    usage: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A `chat.completion` object as the API returns it."""
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if tool_calls:
        message["tool_calls"] = [
            {
                "id": call.call_id or new_id("call"),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json},
            }
            for call in tool_calls
        ]
    return {
        "id": new_id("chatcmpl"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop"),
            }
        ],
        "usage": dict(usage) if usage is not None else _chat_usage(10, 5),
    }


def chat_chunks(
    *,
    text: str | Sequence[str] = (),
    tool_calls: Sequence[FakeToolCall] = (),
    model: str = "gpt-4.1",
    finish_reason: str | None = None,
    usage: Mapping[str, Any] | None = None,
) -> list[Mapping[str, Any] | str]:
    """`chat.completion.chunk` events for a stream, the usage chunk and `[DONE]` included.

    Args:
        text: The text, split into three deltas, or the deltas themselves.
        tool_calls: Calls streamed after the text: id and name first, then argument fragments.
        model: The model name in every chunk.
        finish_reason: Defaults to `tool_calls` with calls, else `stop`.
        usage: The usage of the final chunk (sent as `stream_options.include_usage` asks).
    """
    ident, created = new_id("chatcmpl"), int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    deltas = _split(text) if isinstance(text, str) else list(text)
    events: list[Mapping[str, Any] | str] = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in deltas]
    for index, call in enumerate(tool_calls):
        events.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call.call_id or new_id("call"),
                            "type": "function",
                            "function": {"name": call.name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        events += [
            chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            for piece in call.fragments()
        ]
    events.append(chunk({}, finish_reason or ("tool_calls" if tool_calls else "stop")))
    final = chunk({})
    final["choices"] = []
    final["usage"] = dict(usage) if usage is not None else _chat_usage(10, 5)
    events += [final, "[DONE]"]
    return events


# --- Responses bodies ----------------------------------------------------------------------------


def _responses_usage(prompt: int, output: int) -> dict[str, Any]:
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + output,
    }


def _message_item(text: str, item_id: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def _call_item(call: FakeToolCall, item_id: str, call_id: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": call.name,
        "arguments": call.arguments_json,
        "status": "completed",
    }


def _response_object(
    output: list[dict[str, Any]], model: str, usage: Mapping[str, Any] | None, status: str
) -> dict[str, Any]:
    return {
        "id": new_id("resp"),
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": dict(usage) if usage is not None else _responses_usage(10, 5),
    }


def _responses_output(text: str | None, tool_calls: Sequence[FakeToolCall]) -> list[dict[str, Any]]:
    output: list[dict[str, Any]] = []
    if text is not None:
        output.append(_message_item(text, new_id("msg")))
    for call in tool_calls:
        output.append(_call_item(call, new_id("fc"), call.call_id or new_id("call")))
    return output


def responses_response(
    *,
    text: str | None = None,
    tool_calls: Sequence[FakeToolCall] = (),
    model: str = "gpt-4.1",
    usage: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A `response` object as `POST /v1/responses` returns it."""
    return _response_object(_responses_output(text, tool_calls), model, usage, "completed")


def responses_events(
    *,
    text: str | None = None,
    tool_calls: Sequence[FakeToolCall] = (),
    model: str = "gpt-4.1",
    usage: Mapping[str, Any] | None = None,
) -> list[tuple[str, Mapping[str, Any]]]:
    """The typed SSE events of a streamed response, `response.created` to `response.completed`."""
    output = _responses_output(text, tool_calls)
    final = _response_object(output, model, usage, "completed")
    created: dict[str, Any] = {**final, "status": "in_progress", "output": [], "usage": None}
    seq = itertools.count()
    events: list[tuple[str, Mapping[str, Any]]] = []

    def emit(kind: str, **data: Any) -> None:
        events.append((kind, {"type": kind, "sequence_number": next(seq), **data}))

    emit("response.created", response=created)
    emit("response.in_progress", response=created)
    for index, item in enumerate(output):
        if item["type"] == "message":
            full = item["content"][0]["text"]
            emit(
                "response.output_item.added",
                output_index=index,
                item={**item, "status": "in_progress", "content": []},
            )
            part: dict[str, Any] = {"type": "output_text", "text": "", "annotations": []}
            emit(
                "response.content_part.added",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part=part,
            )
            for piece in _split(full):
                emit(
                    "response.output_text.delta",
                    item_id=item["id"],
                    output_index=index,
                    content_index=0,
                    delta=piece,
                    logprobs=[],
                )
            emit(
                "response.output_text.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                text=full,
                logprobs=[],
            )
            emit(
                "response.content_part.done",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                part={**part, "text": full},
            )
        else:
            call = tool_calls[index - (1 if text is not None else 0)]
            emit(
                "response.output_item.added",
                output_index=index,
                item={**item, "arguments": "", "status": "in_progress"},
            )
            for piece in call.fragments():
                emit(
                    "response.function_call_arguments.delta",
                    item_id=item["id"],
                    output_index=index,
                    delta=piece,
                )
            emit(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=index,
                arguments=item["arguments"],
            )
        emit("response.output_item.done", output_index=index, item=item)
    emit("response.completed", response=final)
    return events
