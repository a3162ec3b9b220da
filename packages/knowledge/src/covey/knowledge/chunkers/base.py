"""The `Chunker` interface."""

from __future__ import annotations

from abc import ABC, abstractmethod

from covey.knowledge.documents import Chunk, Document

__all__ = ["Chunker", "TextSplitter"]


class Chunker(ABC):
    """Cuts a `Document` into `Chunk`s. Sizes are in characters unless a chunker says otherwise.

    `name` identifies the chunker and its settings: when it changes, re-ingesting a source
    re-chunks it even though its bytes did not change.
    """

    @property
    def name(self) -> str:
        """The chunker and its settings, e.g. `recursive(size=800,overlap=0)`."""
        return type(self).__name__

    @abstractmethod
    async def chunk(self, document: Document) -> list[Chunk]:
        """The document's chunks, in order; each carries the document's metadata."""


class TextSplitter(Chunker):
    """A chunker that needs no I/O: implement `split`, a pure function of the text."""

    @abstractmethod
    def split(self, text: str) -> list[str]:
        """The text's pieces, in order, none blank."""

    async def chunk(self, document: Document) -> list[Chunk]:
        """`split` of the document's text, each piece with the document's metadata."""
        return [Chunk(piece, dict(document.metadata)) for piece in self.split(document.text)]
