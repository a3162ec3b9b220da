"""`EmbedderSuite`: what every `covey.spec.embeddings.Embedder` implementation must do.

Subclass it in your plugin's tests and supply one fixture, `embedder`::

    class TestMiniLM(EmbedderSuite):
        @pytest.fixture
        def embedder(self):
            return MiniLMEmbedder()

Tests are marked `@pytest.mark.asyncio`; in pytest-asyncio's strict mode declare an async
fixture with `@pytest_asyncio.fixture`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import pytest

from covey.spec.embeddings import Embedder, embed_batched

__all__ = ["EmbedderSuite"]

_TEXTS = [
    "The cat sat on the mat.",
    "Quarterly revenue grew by four percent.",
    "Paris is the capital of France.",
]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0


def _check_vectors(embedder: Embedder, vectors: list[list[float]], count: int) -> None:
    assert isinstance(vectors, list)
    assert len(vectors) == count, f"{count} texts gave {len(vectors)} vectors"
    for vector in vectors:
        assert len(vector) == embedder.dimensions, (
            f"a vector has {len(vector)} values; `dimensions` says {embedder.dimensions}"
        )
        assert all(isinstance(x, float) for x in vector), "vector values must be Python floats"
        assert all(math.isfinite(x) for x in vector), "vector values must be finite"


class EmbedderSuite:
    """Conformance tests for an `Embedder`. Supply the `embedder` fixture."""

    __covey_conformance_suite__: ClassVar[bool] = True

    @pytest.fixture
    def embedder(self) -> Embedder:
        """The embedder under test: override this fixture in your subclass."""
        pytest.fail(
            "EmbedderSuite needs an `embedder` fixture: define `embedder` in your subclass, "
            "returning (or yielding) an Embedder ready to use.",
            pytrace=False,
        )

    def test_identity(self, embedder: Embedder) -> None:
        """`model_name`, `provider`, `name`, `dimensions` and `max_batch_size` are set.

        If this fails: implement the `model_name` and `dimensions` properties, override
        `provider` with your provider's short name, and keep `name` stable: vector collections
        record it.
        """
        for attr in ("model_name", "provider", "name"):
            value = getattr(embedder, attr)
            assert isinstance(value, str), attr
            assert value.strip(), f"{attr} is empty"
        assert type(embedder.dimensions) is int
        assert embedder.dimensions >= 1
        assert type(embedder.max_batch_size) is int
        assert embedder.max_batch_size >= 1
        assert isinstance(embedder.deterministic, bool)
        assert repr(embedder)

    @pytest.mark.asyncio
    async def test_vectors_have_declared_dimensions(self, embedder: Embedder) -> None:
        """One finite vector of `dimensions` floats per text, not all zeros.

        If this fails: return `list[list[float]]` (convert numpy arrays with `.tolist()`), one
        vector per input, of the length `dimensions` declares.
        """
        vectors = await embedder.embed(_TEXTS)
        _check_vectors(embedder, vectors, len(_TEXTS))
        assert all(any(x != 0.0 for x in v) for v in vectors), "a text embedded to all zeros"

    @pytest.mark.asyncio
    async def test_empty_input(self, embedder: Embedder) -> None:
        """Embedding no texts returns an empty list (without calling the provider).

        If this fails: return `[]` early when `texts` is empty.
        """
        assert await embedder.embed([]) == []

    @pytest.mark.asyncio
    async def test_accepts_any_sequence(self, embedder: Embedder) -> None:
        """`embed` takes any sequence of strings, e.g. a tuple.

        If this fails: convert `texts` with `list(texts)` before handing it to an SDK.
        """
        _check_vectors(embedder, await embedder.embed(tuple(_TEXTS[:2])), 2)

    @pytest.mark.asyncio
    async def test_batch_keeps_input_order(self, embedder: Embedder) -> None:
        """The i-th vector of a batch belongs to the i-th text.

        If this fails: the provider may return embeddings out of order (OpenAI returns an
        `index` per item): sort them by index before returning.
        """
        batch = await embedder.embed(_TEXTS)
        singles = [(await embedder.embed([t]))[0] for t in _TEXTS]
        for i, single in enumerate(singles):
            same = _cosine(batch[i], single)
            assert same > 0.99, f"text {i}: batch and single vectors differ (cosine {same:.3f})"
            for j, other in enumerate(singles):
                if j != i:
                    assert _cosine(batch[i], other) < same, f"vector {i} looks like text {j}'s"

    @pytest.mark.asyncio
    async def test_same_input_same_vector(self, embedder: Embedder) -> None:
        """The same text embeds to the same vector (exactly, if the embedder is deterministic).

        If this fails: a `deterministic` embedder must not add noise or depend on batch
        composition; otherwise set `deterministic` to False.
        """
        [first] = await embedder.embed([_TEXTS[0]])
        [second] = await embedder.embed([_TEXTS[0]])
        if embedder.deterministic:
            assert first == second
        else:
            assert _cosine(first, second) > 0.999

    @pytest.mark.asyncio
    async def test_query_and_document_input_types(self, embedder: Embedder) -> None:
        """Both input types work, and a query lands nearest the document that answers it.

        If this fails: map `input_type` to your provider's option (e.g. `search_query` /
        `search_document`, or a query prefix) and keep both outputs in one vector space.
        """
        documents = ["Cats purr when they are happy.", "The stock market fell sharply today."]
        doc_vectors = await embedder.embed(documents, input_type="document")
        [query] = await embedder.embed(["Why do cats purr?"], input_type="query")
        _check_vectors(embedder, doc_vectors, 2)
        _check_vectors(embedder, [query], 1)
        assert _cosine(query, doc_vectors[0]) > _cosine(query, doc_vectors[1])

    @pytest.mark.asyncio
    async def test_similar_texts_are_closer(self, embedder: Embedder) -> None:
        """Texts with the same meaning are closer than unrelated texts.

        If this fails: the vectors are not the model's embeddings (wrong output field,
        truncated, or mixed up between texts).
        """
        a, b, c = await embedder.embed(
            ["The cat sat on the mat.", "A cat was sitting on the mat.", "Interest rates rose."]
        )
        assert _cosine(a, b) > _cosine(a, c)

    @pytest.mark.asyncio
    async def test_unicode_text(self, embedder: Embedder) -> None:
        """Non-ASCII text (accents, CJK, emoji) embeds like any other.

        If this fails: send text as UTF-8 and do not strip or escape it.
        """
        _check_vectors(embedder, await embedder.embed(["naïve café", "東京の天気", "🐈 + ☀️"]), 3)

    @pytest.mark.asyncio
    async def test_max_batch_size_is_honoured(self, embedder: Embedder) -> None:
        """One `embed` call accepts `max_batch_size` texts (up to 256 are tried).

        If this fails: lower `max_batch_size` to what the provider accepts in one request.
        """
        size = min(embedder.max_batch_size, 256)
        texts = [f"sentence number {i}" for i in range(size)]
        _check_vectors(embedder, await embedder.embed(texts), size)

    @pytest.mark.asyncio
    async def test_embed_batched(self, embedder: Embedder) -> None:
        """`embed_batched` in small batches gives the same vectors, in order, with progress.

        If this fails: see `test_batch_keeps_input_order`; vectors must not depend on how
        texts are grouped into batches.
        """
        texts = [*_TEXTS, "Berlin is the capital of Germany.", "Dogs bark."]
        progress: list[tuple[int, int]] = []

        def record(done: int, total: int) -> None:
            progress.append((done, total))

        batched = await embed_batched(embedder, texts, batch_size=2, on_progress=record)
        _check_vectors(embedder, batched, len(texts))
        singles = [(await embedder.embed([t]))[0] for t in texts]
        for i, (x, y) in enumerate(zip(batched, singles, strict=True)):
            assert _cosine(x, y) > 0.99, f"text {i} differs when batched"
        assert progress == [(2, 5), (4, 5), (5, 5)]

    @pytest.mark.asyncio
    async def test_aclose_is_idempotent(self, embedder: Embedder) -> None:
        """`aclose` can be called twice, and `async with` works.

        If this fails: guard the client close so a second call is a no-op.
        """
        async with embedder as entered:
            assert entered is embedder
        await embedder.aclose()
        await embedder.aclose()
