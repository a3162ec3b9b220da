"""The models over real loopback HTTP against FakeOpenAIServer, and model strings through the
plugin registry (`"ollama:llama3.2"`, `"vllm:..."`) reaching the server via `<NAME>_BASE_URL`."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from covey.models.openai import OpenAIChatModel, OpenAIEmbedder, OpenAIResponsesModel
from covey.models.openai.testing import (
    FakeOpenAIServer,
    FakeReply,
    FakeToolCall,
    RecordedRequest,
    error_reply,
    reply,
    text_reply,
    tool_call_reply,
)
from covey.spec import (
    FinalResponseEvent,
    ModelRequest,
    ModelRequestParams,
    PartDeltaEvent,
    ToolDefinition,
)
from covey.spec.errors import ModelConnectionError, RateLimitedError
from covey.spec.plugins import refresh, resolve_embedder, resolve_model


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


async def test_scripted_text_and_recorded_request(server: FakeOpenAIServer) -> None:
    server.add(text_reply("Bonjour!"))
    model = OpenAIChatModel("gpt-4.1", api_key="sk-test-123456", base_url=server.url)
    try:
        response = await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())
    finally:
        await model.aclose()
    assert response.text() == "Bonjour!"
    [request] = server.requests
    assert request.method == "POST"
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test-123456"
    assert request.json == {"model": "gpt-4.1", "messages": [{"role": "user", "content": "Hi"}]}


async def test_default_echo_streams_over_sse(server: FakeOpenAIServer) -> None:
    model = OpenAIChatModel("gpt-4.1", api_key="sk-test-123456", base_url=server.url)
    events = [
        e
        async for e in model.request_stream(
            [ModelRequest.user("ping pong")], None, ModelRequestParams()
        )
    ]
    await model.aclose()
    assert any(isinstance(e, PartDeltaEvent) for e in events)
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    assert final.response.text() == "Echo: ping pong"
    assert final.response.usage.input_tokens == 10
    assert server.requests[0].json["stream_options"] == {"include_usage": True}


async def test_streamed_tool_call_from_the_fake_server(server: FakeOpenAIServer) -> None:
    server.add(tool_call_reply("get_weather", {"city": "Oslo"}, call_id="call_9", stream=True))
    model = OpenAIChatModel("gpt-4.1", api_key="sk-test-123456", base_url=server.url)
    events = [
        e
        async for e in model.request_stream(
            [ModelRequest.user("?")],
            None,
            ModelRequestParams(function_tools=[ToolDefinition(name="get_weather")]),
        )
    ]
    await model.aclose()
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    [call] = final.response.tool_calls()
    assert (call.tool_name, call.tool_call_id, call.args_as_dict()) == (
        "get_weather",
        "call_9",
        {"city": "Oslo"},
    )


async def test_responses_api_whole_and_streamed(server: FakeOpenAIServer) -> None:
    server.add(
        reply(text="Let me look.", tool_calls=[FakeToolCall("search", {"q": "x"})], api="responses")
    )
    model = OpenAIResponsesModel("gpt-4.1", api_key="sk-test-123456", base_url=server.url)
    response = await model.request([ModelRequest.user("Find x")], None, ModelRequestParams())
    assert response.text() == "Let me look."
    assert response.tool_calls()[0].args_as_dict() == {"q": "x"}
    events = [
        e
        async for e in model.request_stream(
            [ModelRequest.user("hello")], None, ModelRequestParams()
        )
    ]
    await model.aclose()
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    assert final.response.text() == "Echo: hello"
    assert [r.path for r in server.requests] == ["/v1/responses", "/v1/responses"]


async def test_error_reply_with_retry_after(server: FakeOpenAIServer) -> None:
    server.add(
        error_reply(429, "Slow down", code="rate_limit_exceeded", headers={"retry-after": "4"})
    )
    model = OpenAIChatModel("gpt-4.1", api_key="sk-test-123456", base_url=server.url)
    with pytest.raises(RateLimitedError) as info:
        await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())
    await model.aclose()
    assert info.value.retry_after == 4.0
    assert len(server.requests) == 1


async def test_responder_builds_answers_from_the_request() -> None:
    def answer(request: RecordedRequest) -> FakeReply:
        return text_reply(f"model was {request.json['model']}")

    with FakeOpenAIServer(answer) as server:
        model = OpenAIChatModel("my-model", provider="vllm", base_url=server.url)
        response = await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())
        await model.aclose()
    assert response.text() == "model was my-model"


async def test_connection_refused_after_close() -> None:
    with FakeOpenAIServer() as server:
        url = server.url
    model = OpenAIChatModel("m", provider="ollama", base_url=url)
    with pytest.raises(ModelConnectionError, match="Could not reach ollama"):
        await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())
    await model.aclose()


def test_models_endpoint(server: FakeOpenAIServer) -> None:
    with urllib.request.urlopen(f"{server.url}/models", timeout=5) as answer:
        models = json.load(answer)
    assert [m["id"] for m in models["data"]] == ["gpt-4.1", "text-embedding-3-small"]


@pytest.mark.parametrize(
    ("provider", "model_name"), [("ollama", "llama3.2"), ("vllm", "Qwen/Qwen3-8B")]
)
async def test_model_string_reaches_the_server_through_base_url_variable(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch, provider: str, model_name: str
) -> None:
    monkeypatch.setenv(f"{provider.upper()}_BASE_URL", server.url)
    refresh()
    model = resolve_model(f"{provider}:{model_name}")
    assert isinstance(model, OpenAIChatModel)
    assert model.provider == provider
    response = await model.request([ModelRequest.user("Hello there")], None, ModelRequestParams())
    await model.aclose()
    assert response.text() == "Echo: Hello there"
    assert response.provider_name == provider
    [request] = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.json["model"] == model_name
    assert request.headers["authorization"] == "Bearer not-needed"


async def test_ollama_tagged_model_string(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", server.url)
    model = resolve_model("ollama:llama3.2:3b")
    await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())
    await model.aclose()
    assert server.requests[0].json["model"] == "llama3.2:3b"


async def test_embedder_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAIServer(embedding_dimensions=768) as server:
        monkeypatch.setenv("OLLAMA_BASE_URL", server.url)
        embedder = resolve_embedder("ollama:nomic-embed-text")
        assert isinstance(embedder, OpenAIEmbedder)
        vectors = await embedder.embed(["a cat", "a dog"])
        await embedder.aclose()
    assert [len(v) for v in vectors] == [768, 768]
    assert server.requests[0].path == "/v1/embeddings"
    assert server.requests[0].json["model"] == "nomic-embed-text"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123456")
    openai_embedder = resolve_embedder("openai:text-embedding-3-large")
    assert isinstance(openai_embedder, OpenAIEmbedder)
    assert openai_embedder.dimensions == 3072


async def test_openai_responses_model_string(
    server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123456")
    model = resolve_model("openai-responses:gpt-5")
    assert isinstance(model, OpenAIResponsesModel)
    response = await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())
    await model.aclose()
    assert response.text() == "Echo: Hi"
    assert server.requests[0].path == "/v1/responses"
    assert server.requests[0].json["include"] == ["reasoning.encrypted_content"]


async def test_slow_reply_times_out(server: FakeOpenAIServer) -> None:
    from covey.spec import ModelSettings

    server.add(FakeReply(json={}, delay=0.5))
    model = OpenAIChatModel("gpt-4.1", api_key="sk-test-123456", base_url=server.url)
    with pytest.raises(ModelConnectionError, match="timed out"):
        await model.request(
            [ModelRequest.user("Hi")], ModelSettings(timeout=0.1), ModelRequestParams()
        )
    await model.aclose()
