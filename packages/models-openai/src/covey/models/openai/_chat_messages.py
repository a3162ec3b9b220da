"""Covey message history to Chat Completions `messages`."""

from __future__ import annotations

from typing import Any

from covey.models.openai._media import (
    audio_format,
    b64,
    document_file,
    document_text,
    image_url,
    unsupported,
)
from covey.models.openai.profiles import OpenAIModelProfile
from covey.spec.errors import ConfigurationError
from covey.spec.messages import (
    AudioContent,
    DocumentContent,
    ImageContent,
    ModelRequest,
    ModelResponse,
    RetryPart,
    SystemPart,
    TextContent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserContent,
    UserPart,
    VideoContent,
    media_placeholder,
)
from covey.spec.models import ModelMessages

__all__ = ["chat_messages"]

_API = "Chat Completions"


def _image(item: ImageContent) -> dict[str, Any]:
    url = image_url(item)
    image: dict[str, Any] = {"url": url}
    if item.detail is not None:
        image["detail"] = item.detail
    return {"type": "image_url", "image_url": image}


def _audio(item: AudioContent) -> dict[str, Any]:
    if item.data is None:
        raise unsupported(
            "audio by URL", _API, "Pass the clip's bytes (AudioContent(data=..., media_type=...))."
        )
    return {
        "type": "input_audio",
        "input_audio": {"data": b64(item.data), "format": audio_format(item.media_type)},
    }


def _document(item: DocumentContent) -> dict[str, Any]:
    if item.data is None:
        raise unsupported(
            "documents by URL",
            _API,
            "Pass the document's bytes, or use OpenAIResponsesModel, which takes file URLs.",
        )
    text = document_text(item)
    if text is not None:
        return {"type": "text", "text": text}
    filename, file_data = document_file(item)
    return {"type": "file", "file": {"filename": filename, "file_data": file_data}}


def _user_content(content: str | list[UserContent]) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for item in content:
        if isinstance(item, TextContent):
            parts.append({"type": "text", "text": item.text})
        elif isinstance(item, ImageContent):
            parts.append(_image(item))
        elif isinstance(item, AudioContent):
            parts.append(_audio(item))
        elif isinstance(item, DocumentContent):
            parts.append(_document(item))
        else:
            raise unsupported("video", _API, "Send frames as images instead.")
    return parts


def _media(item: ImageContent | AudioContent | VideoContent | DocumentContent) -> dict[str, Any]:
    if isinstance(item, ImageContent):
        return _image(item)
    if isinstance(item, AudioContent):
        return _audio(item)
    if isinstance(item, DocumentContent):
        return _document(item)
    raise unsupported("video", _API, "Send frames as images instead.")


def _tool_return(part: ToolReturnPart) -> tuple[str, list[dict[str, Any]]]:
    """A tool message's text, and the user-message parts carrying the media it returned.

    A `tool` message takes text only, so media is named there by a placeholder and sent in a
    `user` message after the batch of tool messages, labelled with the call it came from.
    """
    parts = part.content_parts()
    if parts is None:
        return part.content_as_text(), []
    lines: list[str] = []
    attached: list[dict[str, Any]] = []
    labels: list[str] = []
    numbers: dict[str, int] = {}
    for item in parts:
        if isinstance(item, TextContent):
            lines.append(item.text)
            continue
        numbers[item.kind] = numbers.get(item.kind, 0) + 1
        label = f"{item.kind} {numbers[item.kind]}"
        try:
            attached.append(_media(item))
        except ConfigurationError:
            note = f"not shown: the {_API} API cannot take this {item.kind}"
        else:
            note = "attached in the next user message"
            labels.append(label)
        lines.append(media_placeholder(item, numbers[item.kind], note))
    if attached:
        intro = (
            f"Media returned by tool `{part.tool_name}` (call {part.tool_call_id}): "
            f"{', '.join(labels)}."
        )
        attached.insert(0, {"type": "text", "text": intro})
    return "\n".join(lines), attached


def _request(message: ModelRequest, profile: OpenAIModelProfile) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    media: list[dict[str, Any]] = []

    def flush_media() -> None:
        # One user message after the batch of tool messages: the API wants every tool call
        # answered by a `tool` message before anything else follows the assistant turn.
        if media:
            out.append({"role": "user", "content": list(media)})
            media.clear()

    for part in message.parts:
        if isinstance(part, ToolReturnPart):
            text, attached = _tool_return(part)
            out.append({"role": "tool", "tool_call_id": part.tool_call_id, "content": text})
            media.extend(attached)
        elif isinstance(part, RetryPart) and part.tool_call_id is not None:
            # A RetryPart answering one tool call.
            out.append(
                {"role": "tool", "tool_call_id": part.tool_call_id, "content": part.message()}
            )
        else:
            flush_media()
            if isinstance(part, SystemPart):
                out.append({"role": profile.system_role, "content": part.content})
            elif isinstance(part, UserPart):
                out.append({"role": "user", "content": _user_content(part.content)})
            else:
                out.append({"role": "user", "content": part.message()})
    flush_media()
    return out


def _response(message: ModelResponse, reasoning_field: str | None) -> dict[str, Any]:
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            texts.append(part.content)
        elif isinstance(part, ThinkingPart):
            if part.content and not part.redacted:
                thinking.append(part.content)
        elif isinstance(part, ToolCallPart):  # pyright: ignore[reportUnnecessaryIsInstance]
            calls.append(
                {
                    "id": part.tool_call_id,
                    "type": "function",
                    "function": {"name": part.tool_name, "arguments": part.args_as_json()},
                }
            )
    assistant: dict[str, Any] = {"role": "assistant"}
    # Some servers refuse an assistant message with neither content nor tool calls.
    assistant["content"] = "".join(texts) if texts or not calls else None
    if calls:
        assistant["tool_calls"] = calls
    if reasoning_field is not None and thinking:
        assistant[reasoning_field] = "\n\n".join(thinking)
    return assistant


def chat_messages(
    messages: ModelMessages,
    profile: OpenAIModelProfile,
    *,
    reasoning_field: str | None = None,
) -> list[dict[str, Any]]:
    """The Chat Completions `messages` for a Covey history.

    Args:
        messages: The history, oldest first.
        profile: The model's profile (decides the role of system parts).
        reasoning_field: The assistant field that carries thinking back, if the server wants it.

    Raises:
        ConfigurationError: the history holds media the API cannot take (video, audio by URL,
            documents by URL).
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            out.extend(_request(message, profile))
        else:
            out.append(_response(message, reasoning_field))
    return out
