"""GoogleEmbedder through the real SDK: `batchEmbedContents` with task types and dimensions."""

from __future__ import annotations

import math

import pytest

from covey.models.google import GoogleEmbedder
from covey.models.google.testing import FakeGeminiServer
from covey.spec.embeddings import Embedder, embed_batched
from covey.spec.errors import RateLimitedError


async def test_documents_are_embedded_in_one_batch_request(gemini, make_embedder) -> None:
    gemini.add({"embeddings": [{"values": [0.1, 0.2, 0.3]}, {"values": [0.4, 0.5, 0.6]}]})
    embedder = make_embedder()

    vectors = await embedder.embed(["first doc", "second doc"])

    assert gemini.path() == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert gemini.last.headers["x-goog-api-key"] == gemini.api_key
    assert gemini.body() == {
        "requests": [
            {
                "model": "models/gemini-embedding-001",
                "content": {"role": "user", "parts": [{"text": "first doc"}]},
                "taskType": "RETRIEVAL_DOCUMENT",
            },
            {
                "model": "models/gemini-embedding-001",
                "content": {"role": "user", "parts": [{"text": "second doc"}]},
                "taskType": "RETRIEVAL_DOCUMENT",
            },
        ]
    }
    # Full-size vectors are returned as Gemini sent them.
    assert vectors == [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]


async def test_queries_use_the_query_task_type_and_reduced_dimensions(
    gemini, make_embedder
) -> None:
    gemini.add({"embeddings": [{"values": [3.0, 4.0]}]})
    embedder = make_embedder(dimensions=2)

    (vector,) = await embedder.embed(["where is it?"], input_type="query")

    (request,) = gemini.body()["requests"]
    assert request["taskType"] == "RETRIEVAL_QUERY"
    assert request["outputDimensionality"] == 2
    # A truncated vector is re-normalised to unit length, as Google advises.
    assert vector == pytest.approx([0.6, 0.8])


def test_identity_names_the_size_only_when_reduced() -> None:
    full = GoogleEmbedder()
    assert isinstance(full, Embedder)
    assert (full.model_name, full.dimensions, full.provider) == (
        "gemini-embedding-001",
        3072,
        "google",
    )
    assert full.name == "google:gemini-embedding-001"
    assert full.max_batch_size == 100
    small = GoogleEmbedder(dimensions=768)
    assert (small.dimensions, small.name) == (768, "google:gemini-embedding-001:768")
    assert GoogleEmbedder(dimensions=3072).name == "google:gemini-embedding-001"
    assert GoogleEmbedder("text-embedding-004").dimensions == 768
    assert repr(small) == "GoogleEmbedder(name='google:gemini-embedding-001:768', dimensions=768)"


async def test_no_texts_send_no_request(gemini, make_embedder) -> None:
    assert await make_embedder().embed([]) == []
    assert gemini.requests == []


async def test_more_than_a_batch_is_refused_and_embed_batched_splits(gemini, make_embedder) -> None:
    embedder = make_embedder(dimensions=2)
    with pytest.raises(ValueError, match="at most 100"):
        await embedder.embed(["x"] * 101)
    gemini.add(
        {"embeddings": [{"values": [1.0, 0.0]}] * 100},
        {"embeddings": [{"values": [0.0, 1.0]}] * 50},
    )
    vectors = await embed_batched(embedder, [f"t{i}" for i in range(150)])
    assert len(vectors) == 150
    assert [len(gemini.body(i)["requests"]) for i in range(2)] == [100, 50]


async def test_embedding_errors_are_mapped(gemini, make_embedder) -> None:
    gemini.add(gemini.error(429, "quota", "RESOURCE_EXHAUSTED", headers={"retry-after": "3"}))
    with pytest.raises(RateLimitedError) as caught:
        await make_embedder().embed(["x"])
    assert caught.value.retry_after == 3.0


async def test_embedder_against_the_fake_server() -> None:
    with FakeGeminiServer() as server:
        async with GoogleEmbedder(dimensions=64, api_key="k", base_url=server.url) as embedder:
            cat, kitten, car = await embedder.embed(
                ["the cat sat", "the cat slept", "engine oil change"]
            )
        assert server.last_request.action == "batchEmbedContents"
    assert all(len(v) == 64 for v in (cat, kitten, car))
    assert all(math.isclose(sum(x * x for x in v), 1.0) for v in (cat, kitten, car))

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(cat, kitten) > cosine(cat, car)
