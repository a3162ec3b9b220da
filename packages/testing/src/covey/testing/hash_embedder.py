"""`HashEmbedder`: a deterministic, offline embedder for tests."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

from covey.spec.embeddings import Embedder, InputType

__all__ = ["HashEmbedder"]

_WORD = re.compile(r"\w+")


class HashEmbedder(Embedder):
    """Bag-of-words vectors by the hashing trick: texts that share words are similar.

    Each lower-cased word adds ±1 at a position picked by its hash; the vector is then
    L2-normalised. A text without words embeds to the zero vector. The same text always gives
    the same vector, on any machine, with no model and no network.

    Args:
        dimensions: Length of the vectors.
        max_batch_size: The most texts one `embed` call accepts.

    Example:
        ```python
        embedder = HashEmbedder(dimensions=64)
        [vector] = await embedder.embed(["a cat on a mat"])
        ```
    """

    def __init__(self, dimensions: int = 64, *, max_batch_size: int = 96) -> None:
        if dimensions < 1:
            raise ValueError(f"dimensions must be at least 1, got {dimensions}")
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        self._dimensions = dimensions
        self._max_batch_size = max_batch_size
        self.batch_sizes: list[int] = []
        """The size of every batch `embed` was called with, in order."""

    @property
    def model_name(self) -> str:
        """`hash-bow-<dimensions>`."""
        return f"hash-bow-{self._dimensions}"

    @property
    def provider(self) -> str:
        """`covey-test`."""
        return "covey-test"

    @property
    def dimensions(self) -> int:
        """The length of every vector."""
        return self._dimensions

    @property
    def max_batch_size(self) -> int:
        """The most texts one `embed` call accepts."""
        return self._max_batch_size

    @property
    def deterministic(self) -> bool:
        """Always true."""
        return True

    def embed_one(self, text: str) -> list[float]:
        """The vector of one text."""
        vector = [0.0] * self._dimensions
        for word in _WORD.findall(text.lower()):
            digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
            vector[digest % self._dimensions] += 1.0 if (digest >> 40) & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in vector))
        return [x / norm for x in vector] if norm else vector

    async def embed(
        self, texts: Sequence[str], *, input_type: InputType = "document"
    ) -> list[list[float]]:
        """Embed `texts`; `input_type` makes no difference to this embedder.

        Raises:
            ValueError: more than `max_batch_size` texts.
        """
        if len(texts) > self._max_batch_size:
            raise ValueError(
                f"{len(texts)} texts in one call; the limit is {self._max_batch_size} "
                "(use embed_batched)"
            )
        if texts:
            self.batch_sizes.append(len(texts))
        return [self.embed_one(t) for t in texts]
