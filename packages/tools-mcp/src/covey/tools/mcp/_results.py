"""MCP tool results → Covey `ToolResult`s.

A model reads a tool's result as text or JSON, so the mapping keeps the common case plain: one
text item is the string itself. Anything richer (several items, images, audio, resources) is a
JSON list of Covey content dicts (`covey.spec.messages` parts, `model_dump(mode="json")`, bytes
as base64), the same shapes a user message carries. Structured content wins when a server gives
it: it is what the tool declared as its output, and the text is kept in the metadata.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from covey.spec.messages import AudioContent, DocumentContent, ImageContent, TextContent
from covey.spec.tools import ToolResult

if TYPE_CHECKING:
    from mcp_types import CallToolResult, ContentBlock

__all__ = ["to_tool_result"]


def to_tool_result(result: CallToolResult) -> ToolResult:
    """Map one `tools/call` result; `isError` becomes `is_error=True`."""
    blocks = list(result.content)
    texts = [b.text for b in blocks if b.type == "text"]
    text = "\n".join(texts)
    metadata: dict[str, Any] = {}
    if result.is_error:
        return ToolResult(content=text or _as_list(blocks) or "The tool failed.", is_error=True)
    if result.structured_content is not None:
        if text:
            metadata["text"] = text
        if len(texts) != len(blocks):
            metadata["content"] = _as_list(blocks)
        return ToolResult(content=result.structured_content, metadata=metadata)
    if len(blocks) == 1 and blocks[0].type == "text":
        return ToolResult(content=texts[0])
    if not blocks:
        return ToolResult(content="")
    return ToolResult(content=_as_list(blocks))


def _as_list(blocks: list[ContentBlock]) -> list[dict[str, Any]]:
    return [_part(b) for b in blocks]


def _part(block: ContentBlock) -> dict[str, Any]:
    from mcp_types import TextResourceContents

    if block.type == "text":
        return TextContent(text=block.text).model_dump(mode="json")
    if block.type == "image":
        data = _decode(block.data)
        if data is None:
            return _unreadable("image", block.mime_type)
        return ImageContent(data=data, media_type=block.mime_type).model_dump(mode="json")
    if block.type == "audio":
        data = _decode(block.data)
        if data is None:
            return _unreadable("audio", block.mime_type)
        return AudioContent(data=data, media_type=block.mime_type).model_dump(mode="json")
    if block.type == "resource":
        resource = block.resource
        media_type = resource.mime_type or None
        filename = str(resource.uri)
        if isinstance(resource, TextResourceContents):
            # A model reads text best as text; the URI says where it came from.
            return TextContent(text=f"[{filename}]\n{resource.text}").model_dump(mode="json")
        data = _decode(resource.blob)
        if data is None:
            return _unreadable("resource", media_type)
        return DocumentContent(
            data=data, media_type=media_type or "application/octet-stream", filename=filename
        ).model_dump(mode="json")
    # resource_link: a pointer the model may mention or a later tool may fetch.
    return DocumentContent(
        url=str(block.uri), media_type=block.mime_type or None, filename=block.name
    ).model_dump(mode="json")


def _decode(data: str) -> bytes | None:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def _unreadable(kind: str, media_type: str | None) -> dict[str, Any]:
    note = f"[the server sent {kind} ({media_type or 'unknown type'}) that is not valid base64]"
    return TextContent(text=note).model_dump(mode="json")
