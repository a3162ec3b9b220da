"""Provider errors to covey.spec.errors; keys never leak; no SDK retries."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx2
import openai
import pytest

from covey.models.openai import OpenAIChatModel, OpenAIEmbedder, OpenAIResponsesModel
from covey.spec import ModelRequest, ModelRequestParams, ModelSettings
from covey.spec.errors import (
    AuthenticationError,
    ConfigurationError,
    ContextOverflowError,
    ModelConnectionError,
    ModelHTTPError,
    ModelServerError,
    RateLimitedError,
)

KEY = "sk-proj-SECRETabcdef0123456789"


def error_body(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error object: `{"error": {"message", "type", "param", "code"}}`."""
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


async def call(mock: Any, **kwargs: Any) -> None:
    model = OpenAIChatModel("gpt-4.1", api_key=KEY, http_client=mock.client, **kwargs)
    await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())


async def test_rate_limit_with_retry_after_ms(mock_openai: Any) -> None:
    mock = mock_openai(
        httpx2.Response(
            429,
            json=error_body(
                "Rate limit reached for gpt-4.1 on tokens per min.", "tokens", "rate_limit_exceeded"
            ),
            headers={"retry-after-ms": "1500", "retry-after": "2"},
        )
    )
    with pytest.raises(RateLimitedError) as info:
        await call(mock)
    err = info.value
    assert err.retry_after == 1.5
    assert err.status_code == 429
    assert "Rate limit reached" in str(err)
    assert isinstance(err.__cause__, openai.RateLimitError)
    assert len(mock.requests) == 1  # the SDK does not retry: the run loop does


async def test_insufficient_quota_is_not_a_retryable_rate_limit(mock_openai: Any) -> None:
    mock = mock_openai(
        httpx2.Response(
            429,
            json=error_body(
                "You exceeded your current quota.", "insufficient_quota", "insufficient_quota"
            ),
        )
    )
    with pytest.raises(ModelHTTPError) as info:
        await call(mock)
    assert type(info.value) is ModelHTTPError
    assert "billing" in str(info.value)


@pytest.mark.parametrize("status", [401, 403])
async def test_authentication_errors_never_show_the_key(mock_openai: Any, status: int) -> None:
    # OpenAI echoes part of a wrong key; a compatible server might echo all of it.
    message = f"Incorrect API key provided: {KEY}. You can find your API key at https://x."
    mock = mock_openai(
        httpx2.Response(
            status, json=error_body(message, "invalid_request_error", "invalid_api_key")
        )
    )
    with pytest.raises(AuthenticationError) as info:
        await call(mock)
    err = info.value
    assert err.status_code == status
    assert "OPENAI_API_KEY" in str(err)
    for text in (str(err), repr(err), json.dumps(err.body), repr(err.args)):
        assert KEY not in text
        assert "SECRETabcdef" not in text
    assert "[REDACTED]" in str(err)


async def test_groq_auth_error_names_its_variable(mock_openai: Any) -> None:
    mock = mock_openai(
        httpx2.Response(
            401, json=error_body("Invalid API Key", "invalid_request_error", "invalid_api_key")
        )
    )
    model = OpenAIChatModel(
        "llama-3.3-70b-versatile",
        provider="groq",
        api_key="gsk_abcdefgh12345678",
        http_client=mock.client,
    )
    with pytest.raises(AuthenticationError, match="GROQ_API_KEY"):
        await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())


@pytest.mark.parametrize(
    "body",
    [
        error_body(
            "This model's maximum context length is 128000 tokens. However, your messages "
            "resulted in 130000 tokens.",
            "invalid_request_error",
            "context_length_exceeded",
        ),
        # vLLM and others: no code, the message says it.
        {
            "object": "error",
            "message": "This model's maximum context length is 4096 tokens.",
            "type": "BadRequestError",
            "code": 400,
        },
    ],
)
async def test_context_overflow(mock_openai: Any, body: dict[str, Any]) -> None:
    mock = mock_openai(httpx2.Response(400, json=body))
    with pytest.raises(ContextOverflowError) as info:
        await call(mock)
    assert info.value.status_code == 400


@pytest.mark.parametrize("status", [500, 502, 503, 529])
async def test_server_errors(mock_openai: Any, status: int) -> None:
    mock = mock_openai(
        httpx2.Response(status, json=error_body("The server had an error.", "server_error"))
    )
    with pytest.raises(ModelServerError) as info:
        await call(mock)
    assert info.value.status_code == status
    assert len(mock.requests) == 1


async def test_other_statuses_are_plain_http_errors(mock_openai: Any) -> None:
    mock = mock_openai(
        httpx2.Response(
            404,
            json=error_body(
                "The model `gpt-9` does not exist.", "invalid_request_error", "model_not_found"
            ),
        )
    )
    with pytest.raises(ModelHTTPError) as info:
        await call(mock)
    assert type(info.value) is ModelHTTPError
    assert info.value.status_code == 404
    assert "model_not_found" in str(info.value)
    assert isinstance(info.value.__cause__, openai.NotFoundError)


@pytest.mark.parametrize(
    "exc", [httpx2.ConnectError("connection refused"), httpx2.ReadTimeout("timed out")]
)
async def test_connection_and_timeout_errors(mock_openai: Any, exc: Exception) -> None:
    def fail(request: httpx2.Request) -> httpx2.Response:
        raise exc

    mock = mock_openai(fail)
    with pytest.raises(ModelConnectionError) as info:
        await call(mock)
    assert isinstance(info.value.__cause__, openai.APIConnectionError)
    assert len(mock.requests) == 1


async def test_error_inside_a_chat_stream(mock_openai: Any, sse: Any) -> None:
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4.1",
        "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}],
    }
    mock = mock_openai(
        sse(chunk, {"error": {"message": "The server had an error", "type": "server_error"}})
    )
    model = OpenAIChatModel("gpt-4.1", api_key=KEY, http_client=mock.client)
    with pytest.raises(ModelServerError):
        async for _ in model.request_stream([ModelRequest.user("Hi")], None, ModelRequestParams()):
            pass


async def test_http_error_when_opening_a_stream(mock_openai: Any) -> None:
    mock = mock_openai(
        httpx2.Response(429, json=error_body("slow down", "requests"), headers={"retry-after": "3"})
    )
    model = OpenAIChatModel("gpt-4.1", api_key=KEY, http_client=mock.client)
    with pytest.raises(RateLimitedError) as info:
        async for _ in model.request_stream([ModelRequest.user("Hi")], None, ModelRequestParams()):
            pass
    assert info.value.retry_after == 3.0


async def test_missing_key_fails_at_first_request_naming_the_variable(mock_openai: Any) -> None:
    mock = mock_openai()
    model = OpenAIChatModel("gpt-4.1", http_client=mock.client)  # no error yet
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())
    groq = OpenAIChatModel("llama", provider="groq", http_client=mock.client)
    with pytest.raises(ConfigurationError, match="GROQ_API_KEY"):
        await groq.request([ModelRequest.user("Hi")], None, ModelRequestParams())
    embedder = OpenAIEmbedder(http_client=mock.client)
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        await embedder.embed(["x"])
    assert mock.requests == []


async def test_keys_come_from_each_providers_variable(
    mock_openai: Any, monkeypatch: pytest.MonkeyPatch, sse: Any
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-env-key-0001")
    monkeypatch.setenv("GROQ_API_KEY", "gsk_groq-env-key-0002")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-secret")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-secret")
    monkeypatch.setenv(
        "OPENAI_CUSTOM_HEADERS", "X-Openai-Only: internal\nAuthorization: Bearer gateway-token"
    )
    body = json.loads(
        '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
        '"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}'
    )
    mock = mock_openai(*(httpx2.Response(200, json=body) for _ in range(3)))
    for provider in ("openai", "groq", "ollama"):
        model = OpenAIChatModel("m", provider=provider, http_client=mock.client)
        await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())
    openai_req, groq_req, ollama_req = mock.requests
    # For OpenAI itself the SDK's own rules apply: OPENAI_CUSTOM_HEADERS may set the auth header.
    assert openai_req.headers["authorization"] == "Bearer gateway-token"
    assert openai_req.headers["openai-organization"] == "org-secret"
    assert openai_req.headers["x-openai-only"] == "internal"
    # OpenAI's key and organization never go to another provider.
    assert groq_req.headers["authorization"] == "Bearer gsk_groq-env-key-0002"
    assert str(groq_req.url) == "https://api.groq.com/openai/v1/chat/completions"
    assert ollama_req.headers["authorization"] == "Bearer not-needed"
    for request in (groq_req, ollama_req):
        assert "openai-organization" not in request.headers
        assert "openai-project" not in request.headers
        assert "x-openai-only" not in request.headers
        assert request.headers.get_list("authorization") == [request.headers["authorization"]]
        assert "gateway-token" not in request.headers["authorization"]


async def test_base_url_from_the_environment(
    mock_openai: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/proxy/v1")
    monkeypatch.setenv("VLLM_BASE_URL", "http://127.0.0.1:9/vllm/v1")
    assert OpenAIChatModel("gpt-4.1").base_url == "http://127.0.0.1:9/proxy/v1"
    assert OpenAIChatModel("m", provider="vllm").base_url == "http://127.0.0.1:9/vllm/v1"
    assert OpenAIChatModel("m", provider="llamacpp").base_url == "http://localhost:8080/v1"
    explicit = OpenAIChatModel("gpt-4.1", base_url="http://127.0.0.1:1/v1")
    assert explicit.base_url == "http://127.0.0.1:1/v1"


def test_key_never_in_repr() -> None:
    for model in (
        OpenAIChatModel("gpt-4.1", api_key=KEY),
        OpenAIResponsesModel("gpt-5", api_key=KEY),
        OpenAIEmbedder(api_key=KEY),
    ):
        assert KEY not in repr(model)
        assert KEY not in str(model)
        assert KEY not in repr(vars(model) if hasattr(model, "__dict__") else model)
    assert repr(OpenAIChatModel("llama3.2", provider="ollama")) == (
        "OpenAIChatModel(model_name='llama3.2', provider='ollama')"
    )


async def test_settings_timeout_reaches_the_transport(mock_openai: Any) -> None:
    def slow(request: httpx2.Request) -> httpx2.Response:
        assert request.extensions["timeout"] == {
            "connect": 0.5,
            "read": 0.5,
            "write": 0.5,
            "pool": 0.5,
        }
        raise httpx2.ReadTimeout("timed out", request=request)

    mock = mock_openai(slow)
    model = OpenAIChatModel("gpt-4.1", api_key=KEY, http_client=mock.client)
    with pytest.raises(ModelConnectionError, match="timed out"):
        await model.request(
            [ModelRequest.user("Hi")], ModelSettings(timeout=0.5), ModelRequestParams()
        )


def test_import_and_construction_do_not_import_the_sdk() -> None:
    code = (
        "import sys\n"
        "from covey.models.openai import OpenAIChatModel, OpenAIResponsesModel, OpenAIEmbedder\n"
        "import covey.models.openai.testing\n"
        "from covey.spec.plugins import resolve_model\n"
        "OpenAIChatModel('gpt-4.1'); OpenAIResponsesModel('gpt-5'); OpenAIEmbedder()\n"
        "resolve_model('ollama:llama3.2')\n"
        "loaded = sorted(m for m in ('openai', 'httpx2', 'httpx') if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


async def test_openai_key_from_its_variable(
    mock_openai: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-env-key-0001")
    body = json.loads(
        '{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
        '"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}'
    )
    mock = mock_openai(httpx2.Response(200, json=body))
    model = OpenAIChatModel("gpt-4.1", http_client=mock.client)
    await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())
    assert mock.requests[0].headers["authorization"] == "Bearer sk-openai-env-key-0001"


@pytest.mark.parametrize(
    "answer",
    [
        httpx2.Response(200, text="<html>Welcome to nginx!</html>"),
        httpx2.Response(200, json=["not", "an", "object"]),
    ],
    ids=["html", "json-list"],
)
async def test_a_success_that_is_not_a_json_object_is_unexpected_behaviour(
    mock_openai: Any, answer: httpx2.Response
) -> None:
    from covey.spec.errors import UnexpectedModelBehavior

    mock = mock_openai(answer)
    with pytest.raises(UnexpectedModelBehavior, match=r"not a JSON object.*/chat/completions"):
        await call(mock)
