"""Turning what a remote A2A agent answered (a `Task` or a `Message`) into a `ToolResult`."""

from __future__ import annotations

import json
from typing import Any

from covey.spec.tools import ToolResult

__all__ = ["result_of"]

_DONE = "TASK_STATE_COMPLETED"
_ASKS = ("TASK_STATE_INPUT_REQUIRED", "TASK_STATE_AUTH_REQUIRED")


def _parts_text(parts: Any) -> str:
    """The text of a list of parts: text as is (chunks of one stream join without a
    separator), structured data as JSON, files as their name or URL."""
    from google.protobuf.json_format import MessageToDict

    out: list[str] = []
    for part in parts:
        kind = part.WhichOneof("content")
        if kind == "text":
            out.append(part.text)
        elif kind == "data":
            value = MessageToDict(part)["data"]
            out.append(json.dumps(value, ensure_ascii=False, sort_keys=True))
        elif kind == "url":
            out.append(f"[file {part.filename or ''} {part.url}]".replace("  ", " "))
        elif kind == "raw":
            out.append(f"[file {part.filename or 'unnamed'}, {len(part.raw)} bytes]")
    return "".join(out)


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... cut: the answer was {len(text)} characters, over {limit}]"


def result_of(answer: Any, *, agent: str, limit: int) -> ToolResult:
    """The tool result for the last `Task` or `Message` a remote agent sent.

    A completed task is its artifacts' text; a task that asks for input is its question (not an
    error: the model may answer by calling again); a failed, rejected or canceled task is an
    error result with the remote agent's reason.
    """
    from a2a.types.a2a_pb2 import TaskState

    if answer is None:
        return ToolResult(content=f"The remote agent {agent!r} sent no answer.", is_error=True)
    if answer.DESCRIPTOR.name == "Message":
        meta = {"context_id": answer.context_id, "state": "message"}
        return ToolResult(content=_cap(_parts_text(answer.parts), limit), metadata=meta)
    state = TaskState.Name(answer.status.state)
    said = _parts_text(answer.status.message.parts) if answer.status.HasField("message") else ""
    meta = {
        "context_id": answer.context_id,
        "task_id": answer.id,
        "state": state.removeprefix("TASK_STATE_").lower(),
    }
    if state == _DONE:
        text = "".join(_parts_text(a.parts) for a in answer.artifacts) or said
        return ToolResult(content=_cap(text, limit), metadata=meta)
    if state in _ASKS:
        question = said or "(no question given)"
        text = f"The remote agent {agent!r} needs more input before it can finish: {question}"
        return ToolResult(content=_cap(text, limit), metadata=meta)
    reason = said or state.removeprefix("TASK_STATE_").lower()
    return ToolResult(
        content=_cap(
            f"The remote agent {agent!r} did not finish ({meta['state']}): {reason}", limit
        ),
        is_error=True,
        metadata=meta,
    )
