"""Plain text and Markdown."""

from __future__ import annotations

import re

from covey.knowledge.documents import Document
from covey.knowledge.readers.base import Reader, decode_text

__all__ = ["MarkdownReader", "TextReader"]

_NEWLINES = re.compile(r"\r\n?")
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.DOTALL)
_TITLE = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


class TextReader(Reader):
    """Plain text, UTF-8 or UTF-16 with a BOM; line endings become `\\n`."""

    content_types = ("text/plain",)
    extensions = (".txt", ".text", ".log", ".rst")

    def read(self, data: bytes, *, name: str | None = None) -> list[Document]:
        """One document with the whole text."""
        return [Document(_NEWLINES.sub("\n", decode_text(data)))]


class MarkdownReader(Reader):
    """Markdown, kept as Markdown (so `MarkdownChunker` sees the headings).

    YAML front matter is dropped; the first `# heading`, if any, becomes metadata `title`.
    """

    content_types = ("text/markdown", "text/x-markdown")
    extensions = (".md", ".markdown", ".mdx")

    def read(self, data: bytes, *, name: str | None = None) -> list[Document]:
        """One document with the Markdown text."""
        text = _FRONT_MATTER.sub("", _NEWLINES.sub("\n", decode_text(data)), count=1)
        title = _TITLE.search(text)
        return [Document(text, {"title": title.group(1)} if title else {})]
