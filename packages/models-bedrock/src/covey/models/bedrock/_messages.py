"""Covey message history → the Converse API's `system` and `messages` parameters.

Builds plain dicts in the shapes boto3 takes (bytes stay bytes: the SDK base64-encodes them), so
importing this module imports no SDK.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

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

__all__ = ["PROVIDER_NAME", "REDACTED_CONTENT_KEY", "MappedMessages", "map_messages"]

PROVIDER_NAME = "bedrock"
"""`ModelResponse.provider_name` of every response this adapter builds."""

REDACTED_CONTENT_KEY = "redacted_content"
"""`ThinkingPart.provider_details` key holding a `redactedContent` block's bytes, base64."""

Block: TypeAlias = dict[str, Any]
Role: TypeAlias = Literal["user", "assistant"]

_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
_DOCUMENT_FORMATS = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
}
_VIDEO_FORMATS = {
    "video/x-matroska": "mkv",
    "video/quicktime": "mov",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/x-flv": "flv",
    "video/mpeg": "mpeg",
    "video/x-ms-wmv": "wmv",
    "video/3gpp": "three_gp",
}
# Bedrock allows letters, digits, single spaces, hyphens, parentheses and square brackets in a
# document's name (it is part of the prompt, so it is restricted against injection).
_NAME_CHARS = re.compile(r"[^A-Za-z0-9\-()\[\] ]+")


@dataclass(slots=True)
class MappedMessages:
    """The request's system blocks and its alternating user/assistant messages."""

    system: list[Block] = field(default_factory=list[Block])
    messages: list[Block] = field(default_factory=list[Block])
    has_tool_blocks: bool = False
    """Whether the history holds tool use or results (Bedrock then requires a `toolConfig`)."""


def map_messages(history: Sequence[ModelRequest | ModelResponse]) -> MappedMessages:
    """Translate a Covey history into Converse's `system` and `messages`.

    System parts become the top-level `system` blocks, in order; every other request part a
    block of a `user` message, every response part one of an `assistant` message. Consecutive
    messages of one role are merged (Converse wants roles to alternate), and tool results lead
    their user message.

    Raises:
        ConfigurationError: the history holds media Converse does not take (audio, a URL that
            is not `s3://`, an unknown image, document or video format).
    """
    mapped = MappedMessages()
    turns: list[tuple[Role, list[Block]]] = []
    for message in history:
        if isinstance(message, ModelRequest):
            blocks: list[Block] = []
            for part in message.parts:
                if isinstance(part, SystemPart):
                    if part.content:
                        mapped.system.append({"text": part.content})
                else:
                    blocks.extend(_request_part_blocks(part))
            _append_turn(turns, "user", blocks)
        else:
            _append_turn(turns, "assistant", _response_blocks(message))
    for role, blocks in turns:
        if role == "user":
            blocks = sorted(blocks, key=lambda b: "toolResult" not in b)
        mapped.has_tool_blocks = mapped.has_tool_blocks or any(
            "toolResult" in b or "toolUse" in b for b in blocks
        )
        mapped.messages.append({"role": role, "content": blocks})
    return mapped


def _append_turn(turns: list[tuple[Role, list[Block]]], role: Role, blocks: list[Block]) -> None:
    if not blocks:
        return
    if turns and turns[-1][0] == role:
        turns[-1][1].extend(blocks)
    else:
        turns.append((role, blocks))


# --- user side -----------------------------------------------------------------------------------


def _request_part_blocks(part: UserPart | ToolReturnPart | RetryPart) -> list[Block]:
    if isinstance(part, UserPart):
        if isinstance(part.content, str):
            return [{"text": part.content}] if part.content else []
        blocks: list[Block] = []
        for item in part.content:
            if isinstance(item, TextContent):
                if item.text:
                    blocks.append({"text": item.text})
            else:
                blocks.append(_media_block(item))
        return blocks
    if isinstance(part, ToolReturnPart):
        result: Block = {
            "toolUseId": part.tool_call_id,
            "content": _tool_result_content(part),
        }
        if part.is_error:
            result["status"] = "error"
        return [{"toolResult": result}]
    if part.tool_call_id is not None:
        return [
            {
                "toolResult": {
                    "toolUseId": part.tool_call_id,
                    "content": [{"text": part.message()}],
                    "status": "error",
                }
            }
        ]
    return [{"text": part.message()}]


def _tool_result_content(part: ToolReturnPart) -> list[Block]:
    items = part.content_parts()
    if items is None:
        return [{"text": part.content_as_text() or "(empty)"}]
    blocks: list[Block] = []
    numbers: dict[str, int] = {}
    for item in items:
        if isinstance(item, TextContent):
            if item.text:
                blocks.append({"text": item.text})
            continue
        numbers[item.kind] = numbers.get(item.kind, 0) + 1
        if isinstance(item, ImageContent | DocumentContent):
            try:
                blocks.append(_media_block(item, index=numbers[item.kind]))
                continue
            except ConfigurationError:
                note = f"not shown: Bedrock cannot read {item.media_type or 'this format'}"
        else:
            note = f"not shown: Bedrock tool results do not take {item.kind}"
        # A format Converse refuses must not fail the run: the model hears what it missed.
        blocks.append({"text": media_placeholder(item, numbers[item.kind], note)})
    return blocks or [{"text": "(empty)"}]


def _media_block(
    item: ImageContent | AudioContent | VideoContent | DocumentContent, *, index: int = 1
) -> Block:
    if isinstance(item, AudioContent):
        raise ConfigurationError(
            "Bedrock's Converse API does not take audio input. Transcribe the audio to text "
            "first, or use a provider that takes audio (e.g. covey-models-google)."
        )
    source = _source(item)
    media_type = (item.media_type or _data_url_type(item.url) or "").lower()
    if isinstance(item, ImageContent):
        image_format = _IMAGE_FORMATS.get(media_type)
        if image_format is None:
            raise ConfigurationError(
                f"Bedrock takes PNG, JPEG, GIF and WebP images, not {media_type or 'unknown'!r}."
            )
        return {"image": {"format": image_format, "source": source}}
    if isinstance(item, VideoContent):
        video_format = _VIDEO_FORMATS.get(media_type)
        if video_format is None:
            raise ConfigurationError(
                f"Bedrock takes MKV, MOV, MP4, WebM, FLV, MPEG, WMV and 3GP video, not "
                f"{media_type or 'unknown'!r}."
            )
        return {"video": {"format": video_format, "source": source}}
    document_format = _DOCUMENT_FORMATS.get(media_type)
    if document_format is None:
        raise ConfigurationError(
            f"Bedrock takes PDF, CSV, DOC(X), XLS(X), HTML, TXT and Markdown documents, not "
            f"{media_type or 'unknown'!r}."
        )
    return {
        "document": {
            "format": document_format,
            "name": _document_name(item, index),
            "source": source,
        }
    }


def _document_name(item: DocumentContent, index: int) -> str:
    stem = (item.filename or "").rsplit(".", 1)[0]
    name = " ".join(_NAME_CHARS.sub(" ", stem).split())[:200]
    return name or f"document {index}"


def _source(item: ImageContent | VideoContent | DocumentContent) -> Block:
    if item.data is not None:
        return {"bytes": item.data}
    url = item.url or ""
    if url.startswith("s3://"):
        return {"s3Location": {"uri": url}}
    if url.startswith("data:"):
        header, sep, payload = url.partition(",")
        if not sep or ";base64" not in header:
            raise ConfigurationError(
                f"Cannot read the {item.kind} data URL: expected 'data:<media type>;base64,<data>'."
            )
        try:
            return {"bytes": base64.b64decode(payload, validate=True)}
        except binascii.Error as exc:
            raise ConfigurationError(f"The {item.kind} data URL holds invalid base64.") from exc
    raise ConfigurationError(
        f"Bedrock does not fetch {item.kind}s from URLs: pass the bytes (data=...) or an "
        f"s3:// URI, not {url[:60]!r}."
    )


def _data_url_type(url: str | None) -> str | None:
    if url and url.startswith("data:"):
        return url.removeprefix("data:").split(",", 1)[0].split(";", 1)[0] or None
    return None


# --- assistant side ------------------------------------------------------------------------------


def _response_blocks(message: ModelResponse) -> list[Block]:
    # Reasoning signatures only verify on Bedrock (against the model that signed them):
    # reasoning produced by another provider is left out rather than sent and refused.
    own = message.provider_name in (None, PROVIDER_NAME)
    blocks: list[Block] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            if part.content:  # Converse rejects empty text blocks
                blocks.append({"text": part.content})
        elif isinstance(part, ThinkingPart):
            if own:
                blocks.extend(_reasoning_blocks(part))
        else:
            blocks.append(
                {
                    "toolUse": {
                        "toolUseId": part.tool_call_id,
                        "name": part.tool_name,
                        "input": _tool_input(part),
                    }
                }
            )
    return blocks


def _reasoning_blocks(part: ThinkingPart) -> list[Block]:
    if part.redacted:
        data = (part.provider_details or {}).get(REDACTED_CONTENT_KEY)
        if isinstance(data, str) and data:
            return [{"reasoningContent": {"redactedContent": base64.b64decode(data)}}]
        return []
    if part.signature:
        return [
            {
                "reasoningContent": {
                    "reasoningText": {"text": part.content, "signature": part.signature}
                }
            }
        ]
    return []  # unsigned reasoning cannot be verified, so it is not sent back


def _tool_input(part: ToolCallPart) -> dict[str, object]:
    try:
        return part.args_as_dict()
    except ValueError:
        # Broken JSON from the model: Converse needs an object, and the retry part that follows
        # already tells the model what was wrong.
        return {}
