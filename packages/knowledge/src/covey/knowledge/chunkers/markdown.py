"""`MarkdownChunker`: sections under their headings, the heading path kept as metadata."""

from __future__ import annotations

import re

import anyio

from covey.knowledge.chunkers.base import Chunker
from covey.knowledge.chunkers.recursive import RecursiveChunker
from covey.knowledge.documents import Chunk, Document

__all__ = ["MarkdownChunker"]

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


class MarkdownChunker(Chunker):
    """Splits Markdown at its headings (`#` to `######`; not inside code fences).

    Each section becomes one chunk, or several (by `RecursiveChunker`) when longer than
    `size`; every chunk of it has metadata `heading`, the path of headings above it joined by
    `separator` (`"Guide > Install > Linux"`). Text before the first heading has no `heading`.

    Args:
        size: The most characters in a chunk.
        separator: Joins the heading path.
    """

    def __init__(self, size: int = 800, separator: str = " > ") -> None:
        self.size = size
        self.separator = separator
        self._splitter = RecursiveChunker(size)

    @property
    def name(self) -> str:
        """`markdown(size=..)`."""
        return f"markdown(size={self.size})"

    def sections(self, text: str) -> list[tuple[list[str], str]]:
        """`(heading path, section text)` pairs in order; a section starts with its heading line."""
        path: list[tuple[int, str]] = []
        sections: list[tuple[list[str], str]] = []
        current: list[str] = []
        current_path: list[str] = []
        in_fence = False
        for line in text.split("\n"):
            if _FENCE.match(line):
                in_fence = not in_fence
            heading = None if in_fence else _HEADING.match(line)
            if heading is None:
                current.append(line)
                continue
            sections.append((current_path, "\n".join(current)))
            level = len(heading.group(1))
            path = [(lv, title) for lv, title in path if lv < level] + [(level, heading.group(2))]
            current_path = [title for _, title in path]
            current = [line]
        sections.append((current_path, "\n".join(current)))
        return [(p, s) for p, s in sections if s.strip()]

    async def chunk(self, document: Document) -> list[Chunk]:
        """The document's chunks, section by section (a long text in a worker thread)."""
        if len(document.text) > 100_000:
            return await anyio.to_thread.run_sync(self._chunks, document)
        return self._chunks(document)

    def _chunks(self, document: Document) -> list[Chunk]:
        chunks: list[Chunk] = []
        for path, section in self.sections(document.text):
            metadata = dict(document.metadata)
            if path:
                metadata["heading"] = self.separator.join(path)
            chunks.extend(Chunk(piece, dict(metadata)) for piece in self._splitter.split(section))
        return chunks
