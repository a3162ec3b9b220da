"""`BedrockEmbedder`: Titan and Cohere InvokeModel bodies, sizes, errors, and the entry point."""

from __future__ import annotations

from typing import Any

import pytest

from covey.models.bedrock import BedrockEmbedder
from covey.models.bedrock.testing import FakeBedrockServer, FakeResponse
from covey.spec import plugins
from covey.spec.errors import AuthenticationError, ConfigurationError, RateLimitedError


@pytest.fixture
def embedder_for(server: FakeBedrockServer, aws: Any) -> Any:
    def make(model_id: str, **kwargs: Any) -> BedrockEmbedder:
        return BedrockEmbedder(model_id, region_name=aws.REGION, endpoint_url=server.url, **kwargs)

    return make


async def test_titan_sends_one_text_per_call(embedder_for: Any, server: FakeBedrockServer) -> None:
    embedder = embedder_for("amazon.titan-embed-text-v2:0", dimensions=512)
    vectors = await embedder.embed(["a cat", "a dog", "a bird"])
    assert [len(v) for v in vectors] == [512, 512, 512]
    assert embedder.name == "bedrock:amazon.titan-embed-text-v2:0:512"
    bodies = sorted((r.body for r in server.requests), key=lambda b: b["inputText"])
    assert bodies == [
        {"inputText": t, "normalize": True, "dimensions": 512} for t in ("a bird", "a cat", "a dog")
    ]
    assert {r.operation for r in server.requests} == {"invoke"}
    assert {r.model_id for r in server.requests} == {"amazon.titan-embed-text-v2:0"}
    await embedder.aclose()


async def test_cohere_sends_a_batch_with_its_input_type(
    embedder_for: Any, server: FakeBedrockServer
) -> None:
    embedder = embedder_for("cohere.embed-english-v3")
    await embedder.embed(["doc one", "doc two"])
    await embedder.embed(["query"], input_type="query")
    assert [r.body for r in server.requests] == [
        {"texts": ["doc one", "doc two"], "input_type": "search_document", "truncate": "END"},
        {"texts": ["query"], "input_type": "search_query", "truncate": "END"},
    ]
    assert embedder.dimensions == 1024


async def test_cohere_v4_reads_typed_embeddings(
    embedder_for: Any, server: FakeBedrockServer
) -> None:
    server.add(
        {"embeddings": {"float": [[0.5, 0.5], [1.0, 0.0]]}, "response_type": "embeddings_by_type"}
    )
    embedder = embedder_for("cohere.embed-v4:0", dimensions=256)
    assert await embedder.embed(["a", "b"]) == [[0.5, 0.5], [1.0, 0.0]]
    assert server.requests[0].body["output_dimension"] == 256


async def test_errors_are_mapped_from_any_concurrent_call(
    embedder_for: Any, server: FakeBedrockServer
) -> None:
    server.add(FakeResponse.error(429, "ThrottlingException", "Too many requests"))
    embedder = embedder_for("amazon.titan-embed-text-v2:0")
    with pytest.raises(RateLimitedError):
        await embedder.embed(["one", "two"])
    server.add(FakeResponse.error(403, "AccessDeniedException", "no access"))
    with pytest.raises(AuthenticationError):
        await embedder_for("cohere.embed-english-v3").embed(["x"])


def test_unknown_models_and_sizes_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="Titan"):
        BedrockEmbedder("amazon.nova-pro-v1:0")
    with pytest.raises(ConfigurationError, match="1024"):
        BedrockEmbedder("amazon.titan-embed-text-v2:0", dimensions=100)
    with pytest.raises(ConfigurationError):
        BedrockEmbedder("cohere.embed-english-v3", dimensions=512)


async def test_too_many_texts_is_a_value_error(embedder_for: Any) -> None:
    with pytest.raises(ValueError, match="embed_batched"):
        await embedder_for("cohere.embed-english-v3").embed(["x"] * 97)


def test_entry_point_resolves_names_back() -> None:
    plugins.refresh()
    embedder = plugins.resolve_embedder("bedrock:amazon.titan-embed-text-v2:0")
    assert isinstance(embedder, BedrockEmbedder)
    assert (embedder.model_name, embedder.dimensions) == ("amazon.titan-embed-text-v2:0", 1024)
    sized = plugins.resolve_embedder("bedrock:amazon.titan-embed-text-v2:0:256")
    assert isinstance(sized, BedrockEmbedder)
    assert (sized.model_name, sized.dimensions) == ("amazon.titan-embed-text-v2:0", 256)
    assert sized.name == "bedrock:amazon.titan-embed-text-v2:0:256"
    cohere = plugins.resolve_embedder("bedrock:cohere.embed-multilingual-v3")
    assert isinstance(cohere, BedrockEmbedder)
    assert cohere.model_name == "cohere.embed-multilingual-v3"
