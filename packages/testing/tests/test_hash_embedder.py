"""`HashEmbedder`: deterministic, normalised, similar for shared words, batches bounded."""

from __future__ import annotations

import math

import pytest

from covey.spec.embeddings import embed_batched
from covey.testing import HashEmbedder


async def test_hash_embedder_is_deterministic_and_normalised() -> None:
    embedder = HashEmbedder()
    assert (embedder.dimensions, embedder.model_name, embedder.deterministic) == (
        64,
        "hash-bow-64",
        True,
    )
    assert embedder.name == "covey-test:hash-bow-64"
    [a] = await embedder.embed(["The cat sat on the mat"])
    [b] = await HashEmbedder().embed(["the CAT sat on the mat!"])
    assert a == b
    assert math.isclose(math.sqrt(sum(x * x for x in a)), 1.0)
    [empty] = await embedder.embed(["   "])
    assert empty == [0.0] * 64


async def test_hash_embedder_similarity_follows_shared_words() -> None:
    embedder = HashEmbedder(dimensions=256)
    base, close, far = await embedder.embed(
        ["solar panels make electricity", "solar panels make power", "bake bread with yeast"]
    )

    def cos(x: list[float], y: list[float]) -> float:
        return sum(p * q for p, q in zip(x, y, strict=True))

    assert cos(base, close) > 0.5
    assert cos(base, close) > cos(base, far)


async def test_hash_embedder_enforces_its_batch_size_and_records_batches() -> None:
    embedder = HashEmbedder(max_batch_size=2)
    with pytest.raises(ValueError, match="use embed_batched"):
        await embedder.embed(["a", "b", "c"])
    await embed_batched(embedder, ["a", "b", "c"])
    assert embedder.batch_sizes == [2, 1]
    with pytest.raises(ValueError, match="dimensions"):
        HashEmbedder(dimensions=0)
