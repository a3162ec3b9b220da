"""Media helpers shared by both APIs: data URLs, audio formats, and the error for what an API
cannot take."""

from __future__ import annotations

import base64
from typing import Literal

from covey.spec import DocumentContent, ImageContent
from covey.spec.errors import ConfigurationError

__all__ = [
    "audio_format",
    "b64",
    "data_url",
    "document_file",
    "document_text",
    "image_url",
    "unsupported",
]

_AUDIO_FORMATS: dict[str, Literal["wav", "mp3"]] = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
}


def b64(data: bytes) -> str:
    """`data` as standard base64 text."""
    return base64.b64encode(data).decode("ascii")


def data_url(media_type: str, data: bytes) -> str:
    """A `data:` URL carrying `data` inline."""
    return f"data:{media_type};base64,{b64(data)}"


def image_url(item: ImageContent) -> str:
    """The image's URL, or a `data:` URL carrying its bytes."""
    if item.url is not None:
        return item.url
    # `_Media` validation guarantees both when there is no URL.
    assert item.data is not None
    assert item.media_type is not None
    return data_url(item.media_type, item.data)


def document_text(item: DocumentContent) -> str | None:
    """A `text/*` document's content as text (file parts take PDFs), or None for other types."""
    media_type = item.media_type or "application/octet-stream"
    if item.data is None or not media_type.startswith("text/"):
        return None
    header = f"{item.filename}:\n" if item.filename else ""
    return header + item.data.decode("utf-8", errors="replace")


def document_file(item: DocumentContent) -> tuple[str, str]:
    """The filename and `data:` URL a file part carries for a document given by bytes."""
    assert item.data is not None
    media_type = item.media_type or "application/octet-stream"
    return item.filename or "document.pdf", data_url(media_type, item.data)


def audio_format(media_type: str | None) -> Literal["wav", "mp3"]:
    """The `input_audio.format` for a media type.

    Raises:
        ConfigurationError: the API only takes WAV and MP3.
    """
    found = _AUDIO_FORMATS.get((media_type or "").lower())
    if found is None:
        raise ConfigurationError(
            f"OpenAI audio input must be WAV or MP3, got media type {media_type!r}; "
            f"convert the clip first."
        )
    return found


def unsupported(what: str, api: str, hint: str) -> ConfigurationError:
    """The error for content `api` cannot accept."""
    return ConfigurationError(f"The OpenAI {api} API does not accept {what}. {hint}")
