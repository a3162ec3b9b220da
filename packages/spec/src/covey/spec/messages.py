"""Messages exchanged with a model: requests and responses made of typed parts.

Every part and content item is discriminated by `kind`, so a whole history round-trips through
JSON with one `TypeAdapter` (`dump_messages` / `load_messages`). Each part may carry opaque
`provider_details` (thinking signatures, reasoning item ids, ...) that the adapter that produced it
sends back when the history is replayed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from covey.spec.usage import Usage

__all__ = [
    "AudioContent",
    "DocumentContent",
    "ImageContent",
    "MediaContent",
    "ModelMessage",
    "ModelRequest",
    "ModelRequestPart",
    "ModelResponse",
    "ModelResponsePart",
    "RetryPart",
    "SystemPart",
    "TextContent",
    "TextPart",
    "ThinkingPart",
    "ToolCallPart",
    "ToolReturnPart",
    "UserContent",
    "UserPart",
    "VideoContent",
    "dump_messages",
    "load_messages",
    "media_placeholder",
    "messages_adapter",
]


def _now() -> datetime:
    return datetime.now(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(
        defer_build=True,
        extra="forbid",
        ser_json_bytes="base64",
        val_json_bytes="base64",
    )


# --- user content --------------------------------------------------------------------------------


class TextContent(_Model):
    """A piece of text inside a multi-part user message."""

    kind: Literal["text"] = "text"
    text: str


class _Media(_Model):
    url: str | None = None
    """Where the provider (or the adapter) can fetch the media."""
    data: bytes | None = None
    """The media itself; sent inline, base64 in JSON."""
    media_type: str | None = None
    """IANA media type, e.g. `image/png`. Required with `data`."""

    @model_validator(mode="after")
    def _one_source(self) -> _Media:
        if (self.url is None) == (self.data is None):
            raise ValueError("give exactly one of `url` or `data`")
        if self.data is not None and not self.media_type:
            raise ValueError("`media_type` is required when `data` is given")
        return self

    @property
    def is_url(self) -> bool:
        """Whether the media is referenced by URL rather than carried inline."""
        return self.url is not None


class ImageContent(_Media):
    """An image by URL or bytes."""

    kind: Literal["image"] = "image"
    detail: Literal["auto", "low", "high"] | None = None


class AudioContent(_Media):
    """An audio clip by URL or bytes."""

    kind: Literal["audio"] = "audio"


class VideoContent(_Media):
    """A video by URL or bytes."""

    kind: Literal["video"] = "video"


class DocumentContent(_Media):
    """A document (PDF, text, ...) by URL or bytes."""

    kind: Literal["document"] = "document"
    filename: str | None = None


MediaContent = ImageContent | AudioContent | VideoContent | DocumentContent
UserContent = Annotated[
    TextContent | ImageContent | AudioContent | VideoContent | DocumentContent,
    Field(discriminator="kind"),
]


_MEDIA_KINDS = frozenset({"image", "audio", "video", "document"})


@cache
def _content_adapter() -> TypeAdapter[TextContent | MediaContent]:
    return TypeAdapter(UserContent)


def _content_items(content: Any) -> list[Any]:
    return list(cast(list[Any], content)) if isinstance(content, list) else [content]


def _looks_like_media(item: Any) -> bool:
    if isinstance(item, ImageContent | AudioContent | VideoContent | DocumentContent):
        return True
    return isinstance(item, dict) and cast(dict[str, Any], item).get("kind") in _MEDIA_KINDS


def _content_part(item: Any) -> TextContent | MediaContent:
    if isinstance(item, TextContent | ImageContent | AudioContent | VideoContent | DocumentContent):
        return item
    if isinstance(item, str):
        return TextContent(text=item)
    if isinstance(item, dict) and cast(dict[str, Any], item).get("kind") in (
        _MEDIA_KINDS | {"text"}
    ):
        try:
            # JSON mode, so `data` is read as base64 (as `model_dump(mode="json")` wrote it).
            return _content_adapter().validate_json(json.dumps(item))
        except TypeError:  # not JSON-serialisable, e.g. raw bytes: validate the Python values
            try:
                return _content_adapter().validate_python(item)
            except ValueError:
                pass
        except ValueError:  # pydantic's ValidationError is a ValueError
            pass
    return TextContent(text=json.dumps(item, default=str, ensure_ascii=False))


def _size(num_bytes: int) -> str:
    if num_bytes < 1000:
        return f"{num_bytes} B"
    if num_bytes < 1_000_000:
        return f"{num_bytes / 1000:.1f} kB"
    return f"{num_bytes / 1_000_000:.1f} MB"


def media_placeholder(item: MediaContent, number: int, note: str = "attached below") -> str:
    """A one-line stand-in for a media item, e.g. `[image 1: image/png, 12.3 kB — attached below]`.

    Never contains the media's bytes: a `data:` URL is described by its size, not repeated.
    """
    details: list[str] = []
    if isinstance(item, DocumentContent) and item.filename:
        details.append(item.filename)
    url = item.url
    media_type = item.media_type
    if url is not None and url.startswith("data:"):
        header, _, payload = url.partition(",")
        media_type = media_type or header.removeprefix("data:").split(";", 1)[0] or None
        details.extend([media_type] if media_type else [])
        details.append(_size(len(payload) * 3 // 4))
    else:
        details.extend([media_type] if media_type else [])
        if item.data is not None:
            details.append(_size(len(item.data)))
        elif url is not None:
            details.append(url if len(url) <= 200 else url[:200] + "…")
    described = ", ".join(details)
    return f"[{item.kind} {number}: {described}{' — ' + note if note else ''}]"


# --- request parts -------------------------------------------------------------------------------


class _Part(_Model):
    provider_details: dict[str, Any] | None = None
    """Opaque data the producing adapter needs back when this part is replayed."""


class SystemPart(_Part):
    """Instructions for the model."""

    kind: Literal["system"] = "system"
    content: str


class UserPart(_Part):
    """What the user said: a string, or a list of text and media."""

    kind: Literal["user"] = "user"
    content: str | list[UserContent]
    timestamp: datetime = Field(default_factory=_now)

    def text(self) -> str:
        """The text of this part, media left out."""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(c.text for c in self.content if isinstance(c, TextContent))


class ToolReturnPart(_Part):
    """The result of a tool call, sent back to the model."""

    kind: Literal["tool-return"] = "tool-return"
    tool_name: str
    content: Any
    tool_call_id: str
    is_error: bool = False
    """True when `content` describes a failure of the tool rather than its result."""

    def content_as_text(self) -> str:
        """The content as a string for providers that only take text."""
        if isinstance(self.content, str):
            return self.content
        return json.dumps(self.content, default=str, ensure_ascii=False)

    def content_parts(self) -> list[TextContent | MediaContent] | None:
        """The content as text and media items, or `None` when it holds no media.

        A tool may return media as content objects (`ImageContent(...)`) or as their JSON dicts
        (what MCP results and stored runs hold). Adapters send media as the provider's image or
        file structures instead of base64 text; with `None` they send `content_as_text()`.
        Items that are neither text nor media become `TextContent` of their JSON.
        """
        items = _content_items(self.content)
        if not any(_looks_like_media(item) for item in items):
            return None
        parts = [_content_part(item) for item in items]
        if all(isinstance(p, TextContent) for p in parts):
            return None  # every media-looking dict failed validation: plain text as before
        return parts

    def content_as_placeholder_text(
        self, note: str | Callable[[MediaContent], str] = "attached below"
    ) -> str:
        """The content as text, each media item replaced by a short placeholder.

        For providers that take only text in a tool result: the media itself goes elsewhere
        (`note` says where, per item when a callable) and the model reads
        `[image 1: image/png, 12.3 kB — attached below]` here. Without media this is
        `content_as_text()`.
        """
        parts = self.content_parts()
        if parts is None:
            return self.content_as_text()
        counts: dict[str, int] = {}
        lines: list[str] = []
        for part in parts:
            if isinstance(part, TextContent):
                lines.append(part.text)
            else:
                counts[part.kind] = counts.get(part.kind, 0) + 1
                text = note if isinstance(note, str) else note(part)
                lines.append(media_placeholder(part, counts[part.kind], text))
        return "\n".join(lines)


class RetryPart(_Part):
    """Asks the model to try again: after invalid tool arguments, a `ModelRetry`, or bad output.

    With a `tool_call_id` it answers that tool call; without one it is a plain user-side message.
    """

    kind: Literal["retry"] = "retry"
    content: str | list[dict[str, Any]]
    tool_name: str | None = None
    tool_call_id: str | None = None

    def message(self) -> str:
        """The retry prompt as text, with validation errors listed."""
        if isinstance(self.content, str):
            body = self.content
        else:
            lines = [
                f"- {'.'.join(str(x) for x in err.get('loc', ())) or '(root)'}: {err.get('msg')}"
                for err in self.content
            ]
            body = "Validation failed:\n" + "\n".join(lines)
        return f"{body}\n\nFix the errors and try again."


ModelRequestPart = Annotated[
    SystemPart | UserPart | ToolReturnPart | RetryPart, Field(discriminator="kind")
]


# --- response parts ------------------------------------------------------------------------------


class TextPart(_Part):
    """Text the model wrote."""

    kind: Literal["text"] = "text"
    content: str


class ThinkingPart(_Part):
    """The model's reasoning. `signature` (or `provider_details`) lets it be replayed verbatim."""

    kind: Literal["thinking"] = "thinking"
    content: str
    signature: str | None = None
    id: str | None = None
    redacted: bool = False
    """The provider encrypted the reasoning; `content` is empty or opaque, replay it as is."""


class ToolCallPart(_Part):
    """The model asks for a tool to be called."""

    kind: Literal["tool-call"] = "tool-call"
    tool_name: str
    args: dict[str, Any] | str = Field(default_factory=dict[str, Any])
    """Arguments as a dict, or the raw JSON string the model produced."""
    tool_call_id: str

    def args_as_dict(self) -> dict[str, Any]:
        """The arguments as a dict. Raises `ValueError` if the model sent invalid JSON."""
        if isinstance(self.args, dict):
            return self.args
        if not self.args.strip():
            return {}
        value = json.loads(self.args)
        if not isinstance(value, dict):
            raise ValueError(f"tool arguments must be a JSON object, got {type(value).__name__}")
        return value  # pyright: ignore[reportUnknownVariableType]

    def args_as_json(self) -> str:
        """The arguments as a JSON string (what most APIs expect on replay)."""
        if isinstance(self.args, str):
            return self.args or "{}"
        return json.dumps(self.args, ensure_ascii=False)


ModelResponsePart = Annotated[TextPart | ThinkingPart | ToolCallPart, Field(discriminator="kind")]


# --- messages ------------------------------------------------------------------------------------


class ModelRequest(_Model):
    """One message to the model: system, user, tool-return and retry parts."""

    kind: Literal["request"] = "request"
    parts: list[ModelRequestPart]
    run_id: str | None = None
    """The run that produced this message; history loaders group by it."""

    @classmethod
    def user(cls, content: str | Sequence[UserContent]) -> ModelRequest:
        """A request holding a single user part."""
        return cls(parts=[UserPart(content=content if isinstance(content, str) else list(content))])


class ModelResponse(_Model):
    """One message from the model: text, thinking and tool-call parts, with its usage."""

    kind: Literal["response"] = "response"
    parts: list[ModelResponsePart]
    usage: Usage = Field(default_factory=Usage)
    model_name: str | None = None
    provider_name: str | None = None
    provider_response_id: str | None = None
    finish_reason: str | None = None
    """Normalised: `stop`, `length`, `tool_calls`, `content_filter`, or the provider's own word."""
    timestamp: datetime = Field(default_factory=_now)
    run_id: str | None = None

    def text(self) -> str:
        """All text parts joined."""
        return "".join(p.content for p in self.parts if isinstance(p, TextPart))

    def tool_calls(self) -> list[ToolCallPart]:
        """The tool-call parts, in order."""
        return [p for p in self.parts if isinstance(p, ToolCallPart)]


ModelMessage = Annotated[ModelRequest | ModelResponse, Field(discriminator="kind")]


@cache
def messages_adapter() -> TypeAdapter[list[ModelRequest | ModelResponse]]:
    """The `TypeAdapter` for a history; built on first use so imports stay cheap."""
    return TypeAdapter(list[ModelMessage])


def dump_messages(messages: Sequence[ModelRequest | ModelResponse]) -> bytes:
    """Serialise a history to JSON bytes."""
    return messages_adapter().dump_json(list(messages))


def load_messages(data: str | bytes | list[Any]) -> list[ModelRequest | ModelResponse]:
    """Load a history from JSON (bytes or str) or from already-parsed Python data."""
    if isinstance(data, list):
        return messages_adapter().validate_python(data)
    return messages_adapter().validate_json(data)
