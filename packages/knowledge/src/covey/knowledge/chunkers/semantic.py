"""`SemanticChunker`: cut where the meaning changes, by embedding consecutive sentences."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence

from covey.knowledge.chunkers.base import Chunker
from covey.knowledge.documents import Chunk, Document
from covey.spec.embeddings import Embedder, embed_batched

__all__ = ["SemanticChunker"]

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class SemanticChunker(Chunker):
    """Groups consecutive sentences while they stay on one topic.

    Sentences (split after `.`, `!`, `?` and at blank lines) are embedded; a new chunk starts
    where the cosine similarity of a sentence to the one before it falls below `threshold`, or
    when adding it would pass `size` characters. Without `threshold`, the cut points are the
    similarities at or below the `percentile`-th percentile of the document's own ones.

    Args:
        embedder: Embeds the sentences (the knowledge base's embedder is a good choice).
        threshold: Cut where similarity is below this (-1 to 1), or `None` for `percentile`.
        percentile: With no `threshold`: the percentage of the lowest similarities to cut at.
        size: The most characters in a chunk.
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        threshold: float | None = None,
        percentile: float = 10.0,
        size: int = 1200,
    ) -> None:
        if threshold is not None and not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be from -1 to 1, got {threshold}")
        if not 0.0 < percentile < 100.0:
            raise ValueError(f"percentile must be between 0 and 100, got {percentile}")
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.embedder = embedder
        self.threshold = threshold
        self.percentile = percentile
        self.size = size

    @property
    def name(self) -> str:
        """`semantic(<embedder>,threshold=..|percentile=..,size=..)`."""
        cut = (
            f"threshold={self.threshold}"
            if self.threshold is not None
            else (f"percentile={self.percentile}")
        )
        return f"semantic({self.embedder.name},{cut},size={self.size})"

    async def chunk(self, document: Document) -> list[Chunk]:
        """The document's chunks."""
        sentences = [s.strip() for s in _SENTENCE_END.split(document.text) if s and s.strip()]
        if not sentences:
            return []
        vectors = await embed_batched(self.embedder, sentences)
        similarities = [_cosine(a, b) for a, b in itertools.pairwise(vectors)]
        cut_below = self._cut_level(similarities)
        groups: list[list[str]] = [[sentences[0]]]
        for sentence, similarity in zip(sentences[1:], similarities, strict=True):
            length = sum(len(s) + 1 for s in groups[-1]) + len(sentence)
            if similarity < cut_below or length > self.size:
                groups.append([sentence])
            else:
                groups[-1].append(sentence)
        return [Chunk(" ".join(group), dict(document.metadata)) for group in groups]

    def _cut_level(self, similarities: list[float]) -> float:
        if self.threshold is not None:
            return self.threshold
        if not similarities:
            return -math.inf
        ordered = sorted(similarities)
        index = max(0, math.ceil(len(ordered) * self.percentile / 100) - 1)
        # Cut at similarities up to and including the percentile value.
        return math.nextafter(ordered[index], math.inf)
