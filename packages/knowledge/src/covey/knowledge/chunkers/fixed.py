"""`FixedSizeChunker`: windows of a fixed number of characters."""

from __future__ import annotations

from covey.knowledge.chunkers.base import TextSplitter

__all__ = ["FixedSizeChunker"]


class FixedSizeChunker(TextSplitter):
    """Windows of `size` characters, each starting `size - overlap` after the previous one.

    Blind to words and sentences: the simplest and most predictable chunker. Windows with only
    whitespace are skipped.

    Args:
        size: Characters per chunk (at least 1).
        overlap: Characters each chunk repeats from the end of the previous one (0 to size-1).
    """

    def __init__(self, size: int = 800, overlap: int = 100) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        if not 0 <= overlap < size:
            raise ValueError(f"overlap must be from 0 to size-1 ({size - 1}), got {overlap}")
        self.size = size
        self.overlap = overlap

    @property
    def name(self) -> str:
        """`fixed(size=..,overlap=..)`."""
        return f"fixed(size={self.size},overlap={self.overlap})"

    def split(self, text: str) -> list[str]:
        """The windows of `text`."""
        step = self.size - self.overlap
        pieces: list[str] = []
        for start in range(0, len(text), step):
            piece = text[start : start + self.size]
            if piece.strip():
                pieces.append(piece)
            if start + self.size >= len(text):
                break
        return pieces
