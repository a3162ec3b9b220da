"""Covey message history to Responses API `input` items.

Responses from this adapter are replayed item for item: reasoning items with their encrypted
content and summaries, assistant messages and function calls with their ids (and `phase`), so
a reasoning model keeps its chain of thought across tool calls without server-side state.
"""

from __future__ import annotations

from typing import Any

from covey.models.openai._media import (
    document_file,
    document_text,
    image_url,
    unsupported,
)
from covey.models.openai.profiles import OpenAIModelProfile
from covey.spec.messages import (
    AudioContent,
    DocumentContent,
    ImageContent,
    ModelRequest,
    ModelResponse,
    SystemPart,
    TextContent,
    TextPart,
    ThinkingPart,
    ToolReturnPart,
    UserContent,
    UserPart,
    media_placeholder,
)
from covey.spec.models import ModelMessages

__all__ = ["responses_input"]

_API = "Responses"


def _image(item: ImageContent) -> dict[str, Any]:
    url = image_url(item)
    return {"type": "input_image", "image_url": url, "detail": item.detail or "auto"}


def _document(item: DocumentContent) -> dict[str, Any]:
    if item.url is not None:
        return {"type": "input_file", "file_url": item.url}
    text = document_text(item)
    if text is not None:
        return {"type": "input_text", "text": text}
    filename, file_data = document_file(item)
    return {"type": "input_file", "filename": filename, "file_data": file_data}


def _user_content(content: str | list[UserContent]) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for item in content:
        if isinstance(item, TextContent):
            parts.append({"type": "input_text", "text": item.text})
        elif isinstance(item, ImageContent):
            parts.append(_image(item))
        elif isinstance(item, DocumentContent):
            parts.append(_document(item))
        elif isinstance(item, AudioContent):
            raise unsupported(
                "audio input", _API, "Use OpenAIChatModel with an audio model (gpt-4o-audio-*)."
            )
        else:
            raise unsupported("video", _API, "Send frames as images instead.")
    return parts


def _tool_output(part: ToolReturnPart) -> str | list[dict[str, Any]]:
    """A tool's output: its text, or (when it returned media) `input_*` items in order."""
    parts = part.content_parts()
    if parts is None:
        return part.content_as_text()
    out: list[dict[str, Any]] = []
    numbers: dict[str, int] = {}
    for item in parts:
        if isinstance(item, TextContent):
            out.append({"type": "input_text", "text": item.text})
            continue
        numbers[item.kind] = numbers.get(item.kind, 0) + 1
        if isinstance(item, ImageContent):
            out.append(_image(item))
        elif isinstance(item, DocumentContent):
            out.append(_document(item))
        else:
            note = f"not shown: the Responses API takes no {item.kind} in a tool result"
            placeholder = media_placeholder(item, numbers[item.kind], note)
            out.append({"type": "input_text", "text": placeholder})
    return out


def _request(message: ModelRequest, profile: OpenAIModelProfile) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, SystemPart):
            out.append({"role": profile.system_role, "content": part.content})
        elif isinstance(part, UserPart):
            out.append({"role": "user", "content": _user_content(part.content)})
        elif isinstance(part, ToolReturnPart):
            out.append(
                {
                    "type": "function_call_output",
                    "call_id": part.tool_call_id,
                    "output": _tool_output(part),
                }
            )
        elif part.tool_call_id is not None:  # a RetryPart answering one tool call
            out.append(
                {
                    "type": "function_call_output",
                    "call_id": part.tool_call_id,
                    "output": part.message(),
                }
            )
        else:
            out.append({"role": "user", "content": part.message()})
    return out


def _reasoning_item(part: ThinkingPart) -> dict[str, Any] | None:
    details = part.provider_details or {}
    encrypted = details.get("encrypted_content")
    item_id = part.id or details.get("id")
    if not isinstance(encrypted, str) or not item_id:
        return None
    summary = details.get("summary")
    texts: list[str] = (
        [str(t) for t in summary]  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
        if isinstance(summary, list)
        else ([part.content] if part.content else [])
    )
    return {
        "type": "reasoning",
        "id": item_id,
        "summary": [{"type": "summary_text", "text": text} for text in texts],
        "encrypted_content": encrypted,
    }


def _response(message: ModelResponse) -> list[dict[str, Any]]:
    reasoning: list[dict[str, Any] | None] = [
        _reasoning_item(p) for p in message.parts if isinstance(p, ThinkingPart)
    ]
    # Item ids tie messages and calls to the reasoning before them; if a reasoning item cannot be
    # replayed (no encrypted content, e.g. another provider's thinking), the ids must go too.
    keep_ids = all(item is not None for item in reasoning)
    out: list[dict[str, Any]] = []
    for part in message.parts:
        details = part.provider_details or {}
        item_id = details.get("id") if keep_ids else None
        if isinstance(part, ThinkingPart):
            item = _reasoning_item(part)
            if item is not None:
                out.append(item)
        elif isinstance(part, TextPart):
            if item_id:
                item: dict[str, Any] | None = {
                    "type": "message",
                    "role": "assistant",
                    "id": item_id,
                    "status": "completed",
                    "content": [{"type": "output_text", "text": part.content, "annotations": []}],
                }
            else:
                item = {"role": "assistant", "content": part.content}
            if details.get("phase"):
                item["phase"] = details["phase"]
            out.append(item)
        else:
            call: dict[str, Any] = {
                "type": "function_call",
                "call_id": part.tool_call_id,
                "name": part.tool_name,
                "arguments": part.args_as_json(),
            }
            if item_id:
                call["id"] = item_id
            out.append(call)
    return out


def responses_input(messages: ModelMessages, profile: OpenAIModelProfile) -> list[dict[str, Any]]:
    """The Responses API `input` items for a Covey history.

    Raises:
        ConfigurationError: the history holds media the API cannot take (audio, video).
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            out.extend(_request(message, profile))
        else:
            out.extend(_response(message))
    return out
