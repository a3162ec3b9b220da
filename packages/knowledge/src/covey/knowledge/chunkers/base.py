"""The `Chunker` interface."""

from __future__ import annotations

from abc import ABC, abstractmethod

import anyio

from covey.knowledge.documents import Chunk, Document

__all__ = ["Chunker", "TextSplitter"]

_THREAD_ABOVE = 100_000
"""Characters above which `TextSplitter.chunk` splits in a worker thread."""


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
        """`split` of the document's text, each piece with the document's metadata.

        A long text is split in a worker thread, so the event loop keeps serving meanwhile.
        """
        text = document.text
        if len(text) > _THREAD_ABOVE:
            pieces = await anyio.to_thread.run_sync(self.split, text)
        else:
            pieces = self.split(text)
        return [Chunk(piece, dict(document.metadata)) for piece in pieces]
