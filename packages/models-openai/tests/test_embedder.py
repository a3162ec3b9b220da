"""OpenAIEmbedder: the request, vector order, sizes and names."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from covey.models.openai import OpenAIEmbedder
from covey.spec.embeddings import embed_batched
from covey.spec.errors import ConfigurationError, ModelServerError


def embeddings_body(*vectors: list[float], order: list[int] | None = None) -> dict[str, Any]:
    """The API reference's `list` of `embedding` objects; `order` shuffles the items."""
    indexes = order if order is not None else list(range(len(vectors)))
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": vectors[i]} for i in indexes],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 8, "total_tokens": 8},
    }


async def test_request_and_order(mock_openai: Any) -> None:
    mock = mock_openai(
        httpx2.Response(
            200, json=embeddings_body([0.1, 0.2], [0.3, 0.4], [0.5, 0.6], order=[2, 0, 1])
        )
    )
    embedder = OpenAIEmbedder(dimensions=2, api_key="sk-test-123456", http_client=mock.client)

    vectors = await embedder.embed(("a", "b", "c"), input_type="query")

    assert str(mock.requests[0].url) == "https://api.openai.com/v1/embeddings"
    assert mock.body() == {
        "model": "text-embedding-3-small",
        "input": ["a", "b", "c"],
        "encoding_format": "float",
        "dimensions": 2,
    }
    assert vectors == [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]
    assert embedder.name == "openai:text-embedding-3-small@2"
    assert embedder.dimensions == 2


async def test_native_size_sends_no_dimensions(mock_openai: Any) -> None:
    mock = mock_openai(httpx2.Response(200, json=embeddings_body([0.0] * 3071 + [1.0])))
    embedder = OpenAIEmbedder(
        "text-embedding-3-large", api_key="sk-test-123456", http_client=mock.client
    )
    [vector] = await embedder.embed(["x"])
    assert "dimensions" not in mock.body()
    assert len(vector) == embedder.dimensions == 3072
    assert embedder.name == "openai:text-embedding-3-large"
    assert embedder.provider == "openai"
    assert embedder.max_batch_size == 2048


async def test_ollama_embedder(mock_openai: Any) -> None:
    mock = mock_openai(httpx2.Response(200, json=embeddings_body([1.0] * 768)))
    embedder = OpenAIEmbedder("nomic-embed-text:latest", provider="ollama", http_client=mock.client)
    await embedder.embed(["x"])
    assert str(mock.requests[0].url) == "http://localhost:11434/v1/embeddings"
    assert mock.requests[0].headers["authorization"] == "Bearer not-needed"
    assert "dimensions" not in mock.body()
    assert embedder.dimensions == 768
    assert embedder.name == "ollama:nomic-embed-text:latest"
    assert embedder.max_batch_size == 96


def test_unknown_model_needs_dimensions() -> None:
    with pytest.raises(ConfigurationError, match="dimensions="):
        OpenAIEmbedder("my-embedder", provider="vllm")
    assert OpenAIEmbedder("my-embedder", provider="vllm", dimensions=384).dimensions == 384


async def test_empty_input_sends_nothing_and_batch_limit(mock_openai: Any) -> None:
    mock = mock_openai()
    embedder = OpenAIEmbedder(api_key="sk-test-123456", http_client=mock.client, max_batch_size=2)
    assert await embedder.embed([]) == []
    with pytest.raises(ValueError, match="at most 2"):
        await embedder.embed(["a", "b", "c"])
    assert mock.requests == []


async def test_embed_batched_splits_requests(mock_openai: Any) -> None:
    mock = mock_openai(
        httpx2.Response(200, json=embeddings_body([1.0, 0.0], [0.0, 1.0])),
        httpx2.Response(200, json=embeddings_body([0.6, 0.8])),
    )
    embedder = OpenAIEmbedder(
        dimensions=2, api_key="sk-test-123456", http_client=mock.client, max_batch_size=2
    )
    vectors = await embed_batched(embedder, ["a", "b", "c"])
    assert vectors == [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]
    assert [mock.body(i)["input"] for i in range(2)] == [["a", "b"], ["c"]]


async def test_errors_are_mapped(mock_openai: Any) -> None:
    mock = mock_openai(
        httpx2.Response(
            503,
            json={
                "error": {
                    "message": "overloaded",
                    "type": "server_error",
                    "param": None,
                    "code": None,
                }
            },
        )
    )
    embedder = OpenAIEmbedder(api_key="sk-test-123456", http_client=mock.client)
    with pytest.raises(ModelServerError):
        await embedder.embed(["x"])
