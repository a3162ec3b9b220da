"""Provider errors map onto covey.spec.errors; the API key never leaks."""

from __future__ import annotations

import anthropic
import httpx2
import pytest
from pydantic import SecretStr

from covey.models.anthropic import AnthropicModel
from covey.spec import ModelRequest, ModelRequestParams
from covey.spec.errors import (
    AuthenticationError,
    ConfigurationError,
    ContextOverflowError,
    ModelConnectionError,
    ModelHTTPError,
    ModelServerError,
    RateLimitedError,
)


async def fail(api, **model_kwargs):
    model = api.model(**model_kwargs)
    with pytest.raises(Exception) as caught:
        await model.request([ModelRequest.user("hi")], None, ModelRequestParams())
    return caught.value


async def test_429_is_rate_limited_with_retry_after_seconds(api):
    api.reply_error(
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your limit.",
        headers={"retry-after": "17"},
    )
    error = await fail(api)
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 17.0
    assert error.status_code == 429
    assert isinstance(error.__cause__, anthropic.RateLimitError)
    assert len(api.requests) == 1  # the SDK's own retries are off


async def test_retry_after_ms_wins(api):
    api.reply_error(
        429, "rate_limit_error", "slow down", headers={"retry-after-ms": "1500", "retry-after": "9"}
    )
    error = await fail(api)
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 1.5


async def test_429_without_header_has_no_retry_after(api):
    api.reply_error(429, "rate_limit_error", "slow down")
    error = await fail(api)
    assert isinstance(error, RateLimitedError)
    assert error.retry_after is None


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(401, "authentication_error"), (403, "permission_error")],
)
async def test_auth_errors(api, status, error_type):
    api.reply_error(status, error_type, "invalid x-api-key")
    error = await fail(api)
    assert isinstance(error, AuthenticationError)
    assert error.status_code == status
    assert "ANTHROPIC_API_KEY" in str(error)


async def test_prompt_too_long_is_context_overflow(api):
    api.reply_error(
        400, "invalid_request_error", "prompt is too long: 215439 tokens > 200000 maximum"
    )
    error = await fail(api)
    assert isinstance(error, ContextOverflowError)
    assert error.status_code == 400
    assert "215439" in str(error)


async def test_other_400_is_a_plain_http_error(api):
    api.reply_error(400, "invalid_request_error", "max_tokens: Field required")
    error = await fail(api)
    assert type(error) is ModelHTTPError
    assert error.status_code == 400
    assert error.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
    }


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(500, "api_error"), (529, "overloaded_error"), (503, "api_error"), (504, "timeout_error")],
)
async def test_server_errors(api, status, error_type):
    api.reply_error(status, error_type, "Overloaded")
    error = await fail(api)
    assert isinstance(error, ModelServerError)
    assert error.status_code == status


async def test_connection_failure(api):
    def refuse(request):
        raise httpx2.ConnectError("connection refused", request=request)

    api.replies.append(refuse)
    error = await fail(api)
    assert isinstance(error, ModelConnectionError)
    assert isinstance(error.__cause__, anthropic.APIConnectionError)


async def test_timeout(api):
    def slow(request):
        raise httpx2.ReadTimeout("timed out", request=request)

    api.replies.append(slow)
    error = await fail(api)
    assert isinstance(error, ModelConnectionError)
    assert "timed out" in str(error)


async def test_missing_key_fails_at_first_request_naming_the_variable():
    model = AnthropicModel("claude-sonnet-4-6")  # no key anywhere: constructing is fine
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        await model.request([ModelRequest.user("hi")], None, ModelRequestParams())


async def test_key_and_base_url_from_environment(api, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://proxy.example.test")
    api.reply_json(
        {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-6",
            "content": [{"type": "text", "text": "ok"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
    )
    model = api.model(api_key=None, base_url=None)
    await model.request([ModelRequest.user("hi")], None, ModelRequestParams())
    request = api.requests[0]
    assert str(request.url) == "https://proxy.example.test/v1/messages"
    sent = request.headers.get("x-api-key") or request.headers["authorization"].removeprefix(
        "Bearer "
    )
    assert sent == "sk-ant-from-env"


async def test_key_never_in_repr_or_errors(api):
    secret = "sk-ant-api03-SUPER-SECRET-KEY"
    api.reply_error(401, "authentication_error", f"invalid x-api-key {secret}")
    model = api.model(api_key=SecretStr(secret))
    for text in (repr(model), str(model), repr(model.__dict__)):
        assert secret not in text
    error = await fail(api, api_key=secret)
    used = api.models[-1]
    assert secret not in repr(used) + repr(used.__dict__)
    assert isinstance(error, AuthenticationError)
    assert secret not in str(error)
    assert secret not in repr(error)
    assert "[REDACTED]" in str(error)  # the echoed key was scrubbed
    assert secret not in repr(error.body)  # and so was the body kept on the error
    assert repr(AnthropicModel("claude-opus-4-8", api_key=secret)) == (
        "AnthropicModel(model_name='claude-opus-4-8')"
    )


def test_constructing_needs_a_model_name():
    with pytest.raises(ConfigurationError, match="model name"):
        AnthropicModel("")
