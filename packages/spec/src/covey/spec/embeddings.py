"""The `Embedder` interface, and `embed_batched` to embed any number of texts in batches."""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Literal, Self

from covey.spec.errors import EmbedderMismatchError, UnexpectedModelBehavior

__all__ = ["Embedder", "InputType", "ProgressCallback", "embed_batched"]

InputType = Literal["document", "query"]
"""What the texts are: documents to store, or queries to search them with. Some models embed
the two differently (asymmetric retrieval); others ignore it."""

ProgressCallback = Callable[[int, int], Awaitable[None] | None]
"""Called after each batch with `(texts_done, texts_total)`; may be sync or async."""


class Embedder(ABC):
    """Turns texts into vectors.

    Implementations set `model_name` and `dimensions`, and usually `provider`. `name` is the
    identity a vector collection records: vectors from embedders with different names never mix.
    """

    @property
    @abstractmethod
    def model_name(self) -> str:
        """The provider's name for the model, e.g. `text-embedding-3-small`."""

    @property
    @abstractmethod
    def dimensions(self) -> int:
        """The length of every vector this embedder returns."""

    @property
    def provider(self) -> str:
        """The provider's short name, e.g. `openai`. Override it: the default is the class name."""
        return type(self).__name__

    @property
    def name(self) -> str:
        """The identity a collection records: `provider:model_name` by default.

        Override it when an option changes the vectors without changing `model_name` (a
        reduced output dimension, a quantisation...), so that collections tell them apart.
        """
        return f"{self.provider}:{self.model_name}"

    @property
    def max_batch_size(self) -> int:
        """The most texts one `embed` call may take; `embed_batched` splits larger inputs."""
        return 96

    @property
    def deterministic(self) -> bool:
        """Whether the same text always gives exactly the same vector."""
        return False

    @abstractmethod
    async def embed(
        self, texts: Sequence[str], *, input_type: InputType = "document"
    ) -> list[list[float]]:
        """Embed `texts` (at most `max_batch_size` of them), one vector each, in order.

        An empty sequence returns an empty list without calling the provider.

        Raises:
            ModelHTTPError: and its subclasses for the provider's error statuses.
            ModelConnectionError: when the provider cannot be reached.
        """

    async def aclose(self) -> None:
        """Release network clients. Safe to call more than once."""
        return None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dimensions={self.dimensions})"


async def embed_batched(
    embedder: Embedder,
    texts: Sequence[str],
    *,
    input_type: InputType = "document",
    batch_size: int | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[list[float]]:
    """Embed any number of texts in batches of at most `batch_size`, keeping their order.

    Batches run one after another, so a provider's rate limit sees one request at a time.

    Args:
        embedder: The embedder.
        texts: The texts, in order.
        input_type: Documents or queries.
        batch_size: Texts per call; defaults to (and is capped at) `embedder.max_batch_size`.
        on_progress: Called after each batch with `(texts_done, texts_total)`.

    Returns:
        One vector per text, in the order of `texts`.

    Raises:
        ValueError: `batch_size` is below 1.
        UnexpectedModelBehavior: the embedder returned the wrong number of vectors, or a vector
            with a non-finite value.
        EmbedderMismatchError: a vector's length is not `embedder.dimensions`.
    """
    size = embedder.max_batch_size if batch_size is None else batch_size
    if size < 1:
        raise ValueError(f"batch_size must be at least 1, got {size}")
    size = min(size, max(embedder.max_batch_size, 1))
    total = len(texts)
    vectors: list[list[float]] = []
    for start in range(0, total, size):
        batch = list(texts[start : start + size])
        got = await embedder.embed(batch, input_type=input_type)
        if len(got) != len(batch):
            raise UnexpectedModelBehavior(
                f"Embedder {embedder.name!r} returned {len(got)} vectors for {len(batch)} texts"
            )
        for vector in got:
            if len(vector) != embedder.dimensions:
                raise EmbedderMismatchError(
                    f"Embedder {embedder.name!r} declares {embedder.dimensions} dimensions but "
                    f"returned a {len(vector)}-dimensional vector; fix its `dimensions`"
                )
            if not all(math.isfinite(x) for x in vector):
                raise UnexpectedModelBehavior(
                    f"Embedder {embedder.name!r} returned a vector with NaN or infinite values"
                )
        vectors.extend(got)
        if on_progress is not None:
            outcome = on_progress(len(vectors), total)
            if inspect.isawaitable(outcome):
                await outcome
    return vectors
