"""What readers produce and chunkers consume: `Document`, and the `Chunk`s cut from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Chunk", "Document"]


@dataclass(frozen=True, slots=True)
class Document:
    """Text read from a source, with what the reader learned about it.

    Attributes:
        text: The text.
        metadata: Reader fields every chunk of it carries, e.g. `page` for a PDF page or
            `title` for an HTML page. Keys are plain names (never starting with `_`).
    """

    text: str
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document, the unit that is embedded, stored and found.

    Attributes:
        text: The passage.
        metadata: The document's metadata plus the chunker's (e.g. `heading`).
    """

    text: str
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])
