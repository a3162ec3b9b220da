"""Covey message history → the Messages API's `system` and `messages` parameters.

Builds plain dicts (typed with the SDK's `TypedDict`s only for the checker), so importing this
module does not import the SDK.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeAlias

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
    UserPart,
    VideoContent,
    media_placeholder,
)

if TYPE_CHECKING:
    from anthropic.types import (
        ContentBlockParam,
        DocumentBlockParam,
        ImageBlockParam,
        MessageParam,
        TextBlockParam,
        ToolResultBlockParam,
    )

__all__ = ["PROVIDER_NAME", "REDACTED_DATA_KEY", "MappedMessages", "map_messages"]

PROVIDER_NAME = "anthropic"
"""`ModelResponse.provider_name` of every response this adapter builds."""

REDACTED_DATA_KEY = "redacted_data"
"""`ThinkingPart.provider_details` key holding a `redacted_thinking` block's opaque `data`."""

ImageMediaType: TypeAlias = Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
_IMAGE_TYPES: dict[str, ImageMediaType] = {
    "image/jpeg": "image/jpeg",
    "image/jpg": "image/jpeg",
    "image/png": "image/png",
    "image/gif": "image/gif",
    "image/webp": "image/webp",
}
Role: TypeAlias = Literal["user", "assistant"]


@dataclass(slots=True)
class MappedMessages:
    """The request's system blocks and its alternating user/assistant messages."""

    system: list[TextBlockParam] = field(default_factory=list["TextBlockParam"])
    messages: list[MessageParam] = field(default_factory=list["MessageParam"])


def map_messages(history: Sequence[ModelRequest | ModelResponse]) -> MappedMessages:
    """Translate a Covey history into the Messages API's `system` and `messages`.

    System parts are hoisted into the top-level `system` blocks, in order. Every other request
    part becomes a block of a `user` message and every response part a block of an `assistant`
    message; consecutive messages of one role are merged into one, because the API wants roles
    to alternate, and tool results lead their user message, because the API wants them first.

    Raises:
        ConfigurationError: the history holds media the Messages API does not take (audio,
            video, a document type other than PDF or plain text).
    """
    mapped = MappedMessages()
    turns: list[tuple[Role, list[ContentBlockParam]]] = []
    for message in history:
        if isinstance(message, ModelRequest):
            blocks: list[ContentBlockParam] = []
            for part in message.parts:
                if isinstance(part, SystemPart):
                    if part.content:
                        mapped.system.append({"type": "text", "text": part.content})
                else:
                    blocks.extend(_request_part_blocks(part))
            _append_turn(turns, "user", blocks)
        else:
            _append_turn(turns, "assistant", _response_blocks(message))
    for role, blocks in turns:
        if role == "user":
            # Tool results must open the user message that answers the tool calls.
            blocks = sorted(blocks, key=lambda b: b["type"] != "tool_result")
            mapped.messages.append({"role": "user", "content": blocks})
        else:
            mapped.messages.append({"role": "assistant", "content": blocks})
    return mapped


def _append_turn(
    turns: list[tuple[Role, list[ContentBlockParam]]], role: Role, blocks: list[ContentBlockParam]
) -> None:
    if not blocks:
        return
    if turns and turns[-1][0] == role:
        turns[-1][1].extend(blocks)
    else:
        turns.append((role, blocks))


# --- user side -----------------------------------------------------------------------------------


def _request_part_blocks(
    part: UserPart | ToolReturnPart | RetryPart,
) -> list[ContentBlockParam]:
    if isinstance(part, UserPart):
        if isinstance(part.content, str):
            return [_text(part.content)] if part.content else []
        blocks: list[ContentBlockParam] = []
        for item in part.content:
            if isinstance(item, TextContent):
                if item.text:
                    blocks.append(_text(item.text))
            else:
                blocks.append(_media_block(item))
        return blocks
    if isinstance(part, ToolReturnPart):
        result: ToolResultBlockParam = {
            "type": "tool_result",
            "tool_use_id": part.tool_call_id,
            "content": _tool_result_content(part),
        }
        if part.is_error:
            result["is_error"] = True
        return [result]
    if part.tool_call_id is not None:
        return [
            {
                "type": "tool_result",
                "tool_use_id": part.tool_call_id,
                "content": part.message(),
                "is_error": True,
            }
        ]
    return [_text(part.message())]


def _text(text: str) -> TextBlockParam:
    return {"type": "text", "text": text}


def _tool_result_content(
    part: ToolReturnPart,
) -> str | list[TextBlockParam | ImageBlockParam | DocumentBlockParam]:
    parts = part.content_parts()
    if parts is None:
        return part.content_as_text()
    # A tool returned media (objects, or their JSON dicts from MCP or a stored run): send it as
    # blocks, so the model sees the image or document itself rather than its base64.
    blocks: list[TextBlockParam | ImageBlockParam | DocumentBlockParam] = []
    numbers: dict[str, int] = {}
    for item in parts:
        if isinstance(item, TextContent):
            if item.text:  # the API rejects empty text blocks
                blocks.append(_text(item.text))
            continue
        numbers[item.kind] = numbers.get(item.kind, 0) + 1
        try:
            if isinstance(item, ImageContent):
                blocks.append(_image_block(item))
                continue
            if isinstance(item, DocumentContent):
                blocks.append(_document_block(item))
                continue
            note = f"not shown: Anthropic models do not take {item.kind}"
        except ConfigurationError:
            # A format the API refuses must not fail the run: the model hears what it missed.
            note = f"not shown: Anthropic models cannot read {item.media_type or 'this format'}"
        blocks.append(_text(media_placeholder(item, numbers[item.kind], note)))
    return blocks


def _media_block(
    item: ImageContent | AudioContent | VideoContent | DocumentContent,
) -> ImageBlockParam | DocumentBlockParam:
    if isinstance(item, ImageContent):
        return _image_block(item)
    if isinstance(item, DocumentContent):
        return _document_block(item)
    kind = "audio" if isinstance(item, AudioContent) else "video"
    raise ConfigurationError(
        f"Anthropic models do not take {kind} input; the Messages API accepts text, images "
        f"and documents (PDF, plain text). Transcribe or describe the {kind} as text, or use "
        f"a provider that takes {kind} (e.g. covey-models-google)."
    )


def _image_block(item: ImageContent) -> ImageBlockParam:
    if item.url is not None and not item.url.startswith("data:"):
        return {"type": "image", "source": {"type": "url", "url": item.url}}
    data, media_type = _inline_data(item)
    image_type = _IMAGE_TYPES.get(media_type.lower())
    if image_type is None:
        raise ConfigurationError(
            f"Anthropic models take JPEG, PNG, GIF and WebP images, not {media_type!r}. "
            f"Convert the image to one of those formats."
        )
    return {"type": "image", "source": {"type": "base64", "media_type": image_type, "data": data}}


def _document_block(item: DocumentContent) -> DocumentBlockParam:
    block: DocumentBlockParam
    if item.url is not None and not item.url.startswith("data:"):
        block = {"type": "document", "source": {"type": "url", "url": item.url}}
    else:
        data, media_type = _inline_data(item)
        media_type = media_type.lower()
        if media_type == "application/pdf":
            block = {
                "type": "document",
                "source": {"type": "base64", "media_type": "application/pdf", "data": data},
            }
        elif media_type.startswith("text/"):
            text = base64.b64decode(data).decode("utf-8", errors="replace")
            block = {
                "type": "document",
                "source": {"type": "text", "media_type": "text/plain", "data": text},
            }
        else:
            raise ConfigurationError(
                f"Anthropic models take PDF and plain-text documents, not {media_type!r}. "
                f"Convert the document to PDF or extract its text."
            )
    if item.filename:
        block["title"] = item.filename
    return block


def _inline_data(item: ImageContent | DocumentContent) -> tuple[str, str]:
    """The base64 payload and media type of inline media (bytes or a `data:` URL)."""
    if item.data is not None:
        return base64.b64encode(item.data).decode("ascii"), item.media_type or ""
    url = item.url or ""
    header, sep, payload = url.partition(",")
    if not sep or ";base64" not in header:
        raise ConfigurationError(
            f"Cannot read the {item.kind} data URL: expected 'data:<media type>;base64,<data>'."
        )
    try:
        base64.b64decode(payload, validate=True)
    except binascii.Error as exc:
        raise ConfigurationError(f"The {item.kind} data URL holds invalid base64.") from exc
    media_type = header.removeprefix("data:").split(";", 1)[0]
    return payload, item.media_type or media_type


# --- assistant side ------------------------------------------------------------------------------


def _response_blocks(message: ModelResponse) -> list[ContentBlockParam]:
    # Thinking signatures only verify against Anthropic's own keys: thinking produced by another
    # provider is left out rather than sent back as a block the API would reject.
    own = message.provider_name in (None, PROVIDER_NAME)
    blocks: list[ContentBlockParam] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            if part.content:  # the API rejects empty text blocks
                blocks.append(_text(part.content))
        elif isinstance(part, ThinkingPart):
            if own:
                blocks.extend(_thinking_blocks(part))
        else:
            blocks.append(
                {
                    "type": "tool_use",
                    "id": part.tool_call_id,
                    "name": part.tool_name,
                    "input": _tool_input(part),
                }
            )
    return blocks


def _thinking_blocks(part: ThinkingPart) -> list[ContentBlockParam]:
    if part.redacted:
        data = (part.provider_details or {}).get(REDACTED_DATA_KEY)
        if isinstance(data, str) and data:
            return [{"type": "redacted_thinking", "data": data}]
        return []
    if part.signature:
        return [{"type": "thinking", "thinking": part.content, "signature": part.signature}]
    return []


def _tool_input(part: ToolCallPart) -> dict[str, object]:
    try:
        return part.args_as_dict()
    except ValueError:
        # The model sent broken JSON; the API needs an object here, and the retry part that
        # follows this call already tells the model what was wrong.
        return {}
