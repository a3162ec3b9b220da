"""`RecursiveChunker`: split at the largest natural boundary that makes pieces small enough."""

from __future__ import annotations

import re
from collections.abc import Sequence

from covey.knowledge.chunkers.base import TextSplitter

__all__ = ["DEFAULT_SEPARATORS", "RecursiveChunker"]

DEFAULT_SEPARATORS: tuple[str, ...] = (r"\n\s*\n", r"\n", r"(?<=[.!?;:])\s+", r"\s+")
"""Paragraphs, then lines, then sentences, then words (regular expressions)."""


class RecursiveChunker(TextSplitter):
    """Chunks of at most `size` characters, cut at paragraphs, else lines, sentences, words.

    The text is split at the first separator that occurs in it; neighbouring pieces are joined
    back while they fit in `size`; a piece still too long is split again with the next
    separator, and a single word longer than `size` is cut into `size`-character windows. Each
    chunk is whitespace-trimmed, and is a span of the original text.

    Args:
        size: The most characters in a chunk.
        separators: Regular expressions, coarsest first.
    """

    def __init__(self, size: int = 800, separators: Sequence[str] = DEFAULT_SEPARATORS) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.size = size
        self.separators = tuple(separators)
        self._patterns = [re.compile(s) for s in self.separators]

    @property
    def name(self) -> str:
        """`recursive(size=..)`."""
        return f"recursive(size={self.size})"

    def split(self, text: str) -> list[str]:
        """The chunks of `text`."""
        return [s for s in (p.strip() for p in self._split(text, 0)) if s]

    def _split(self, text: str, level: int) -> list[str]:
        if len(text.strip()) <= self.size:
            return [text]
        if level >= len(self._patterns):
            return [text[i : i + self.size] for i in range(0, len(text), self.size)]
        pieces = _split_keeping(text, self._patterns[level])
        if len(pieces) == 1:
            return self._split(text, level + 1)
        chunks: list[str] = []
        current = ""
        for piece in pieces:
            if len((current + piece).strip()) <= self.size:
                current += piece
                continue
            if current.strip():
                chunks.append(current)
            current = ""
            if len(piece.strip()) <= self.size:
                current = piece
            else:
                chunks.extend(self._split(piece, level + 1))
        if current.strip():
            chunks.append(current)
        return chunks


def _split_keeping(text: str, pattern: re.Pattern[str]) -> list[str]:
    # Each separator stays at the end of the piece before it, so the pieces join back to `text`.
    pieces: list[str] = []
    start = 0
    for match in pattern.finditer(text):
        if match.end() == 0 or match.end() == len(text):
            continue
        pieces.append(text[start : match.end()])
        start = match.end()
    pieces.append(text[start:])
    return [p for p in pieces if p]
