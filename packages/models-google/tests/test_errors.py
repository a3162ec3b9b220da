"""Gemini errors become covey.spec errors, once (the SDK does not retry), without the key.

Error bodies follow Google's API error model: `{"error": {"code", "message", "status",
"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}, ...]}}`.
"""

from __future__ import annotations

import httpx2
import pytest

from covey.models.google import GoogleEmbedder, GoogleModel
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

RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
QUOTA = {
    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
    "violations": [
        {
            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
            "quotaValue": "10",
        }
    ],
}


async def send(model: GoogleModel) -> None:
    await model.request([ModelRequest.user("hello")], None, ModelRequestParams())


async def test_429_with_retry_info_is_rate_limited_with_retry_after(gemini, make_model) -> None:
    gemini.add(
        gemini.error(
            429,
            "You exceeded your current quota. Please retry in 37.5s.",
            "RESOURCE_EXHAUSTED",
            details=[QUOTA, {"@type": RETRY_INFO, "retryDelay": "37s"}],
        )
    )
    with pytest.raises(RateLimitedError) as caught:
        await send(make_model())
    error = caught.value
    assert error.retry_after == 37.0
    assert error.status_code == 429
    assert error.model_name == "gemini-2.5-flash"
    assert "RESOURCE_EXHAUSTED" in str(error)
    assert error.body["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert len(gemini.requests) == 1  # the SDK's own retries are off


@pytest.mark.parametrize(
    ("headers", "details", "message", "expected"),
    [
        ({"retry-after": "12"}, [{"@type": RETRY_INFO, "retryDelay": "37s"}], "", 12.0),
        ({"retry-after-ms": "1500", "retry-after": "9"}, [], "", 1.5),
        ({}, [{"@type": RETRY_INFO, "retryDelay": "0.250s"}], "", 0.25),
        ({}, [], "Quota exceeded. Please retry in 58.217843437s.", 58.217843437),
        ({}, [], "Resource has been exhausted (e.g. check quota).", None),
    ],
    ids=["retry-after", "retry-after-ms", "retry-info", "message", "none"],
)
async def test_retry_after_sources(gemini, make_model, headers, details, message, expected) -> None:
    gemini.add(
        gemini.error(
            429, message or "quota", "RESOURCE_EXHAUSTED", details=details, headers=headers
        )
    )
    with pytest.raises(RateLimitedError) as caught:
        await send(make_model())
    assert caught.value.retry_after == (pytest.approx(expected) if expected else None)


@pytest.mark.parametrize(
    ("status", "message", "status_text", "details"),
    [
        (401, "Request had invalid authentication credentials.", "UNAUTHENTICATED", []),
        (403, "Method doesn't allow unregistered callers.", "PERMISSION_DENIED", []),
        (
            400,
            "API key not valid. Please pass a valid API key.",
            "INVALID_ARGUMENT",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                }
            ],
        ),
    ],
    ids=["401", "403", "400-api-key-invalid"],
)
async def test_refused_credentials_are_authentication_errors(
    gemini, make_model, status, message, status_text, details
) -> None:
    gemini.add(gemini.error(status, message, status_text, details=details))
    with pytest.raises(AuthenticationError) as caught:
        await send(make_model())
    assert caught.value.status_code == status
    assert "GEMINI_API_KEY" in str(caught.value)


async def test_token_limit_400_is_context_overflow(gemini, make_model) -> None:
    gemini.add(
        gemini.error(
            400,
            "The input token count (1250000) exceeds the maximum number of tokens allowed "
            "(1048576).",
            "INVALID_ARGUMENT",
        )
    )
    with pytest.raises(ContextOverflowError) as caught:
        await send(make_model())
    assert caught.value.status_code == 400
    assert "1048576" in str(caught.value)


async def test_other_400_is_a_plain_http_error(gemini, make_model) -> None:
    gemini.add(gemini.error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT"))
    with pytest.raises(ModelHTTPError) as caught:
        await send(make_model())
    assert type(caught.value) is ModelHTTPError
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    ("status", "status_text"),
    [(500, "INTERNAL"), (503, "UNAVAILABLE"), (504, "DEADLINE_EXCEEDED"), (529, "UNAVAILABLE")],
)
async def test_5xx_is_a_server_error_sent_once(gemini, make_model, status, status_text) -> None:
    gemini.add(
        gemini.error(status, "The model is overloaded. Please try again later.", status_text)
    )
    with pytest.raises(ModelServerError) as caught:
        await send(make_model())
    assert caught.value.status_code == status
    assert len(gemini.requests) == 1


async def test_404_is_an_http_error(gemini, make_model) -> None:
    gemini.add(
        gemini.error(404, "models/gemini-9 is not found for API version v1beta", "NOT_FOUND")
    )
    with pytest.raises(ModelHTTPError) as caught:
        await send(make_model())
    assert caught.value.status_code == 404
    assert "not found" in str(caught.value)


async def test_a_non_json_error_body_is_still_mapped(gemini, make_model) -> None:
    gemini.add(httpx2.Response(502, text="<html>Bad Gateway</html>"))
    with pytest.raises(ModelServerError) as caught:
        await send(make_model())
    assert caught.value.status_code == 502


@pytest.mark.parametrize(
    ("raised", "word"),
    [
        (httpx2.ConnectError("connection refused"), "Could not reach"),
        (httpx2.ReadTimeout("timed out"), "timed out"),
    ],
)
async def test_transport_failures_are_connection_errors(gemini, make_model, raised, word) -> None:
    gemini.add(raised)
    with pytest.raises(ModelConnectionError, match=word) as caught:
        await send(make_model())
    assert caught.value.__cause__ is raised
    assert len(gemini.requests) == 1


async def test_errors_are_chained_to_the_sdk_error(gemini, make_model) -> None:
    from google.genai import errors

    gemini.add(gemini.error(500, "boom", "INTERNAL"))
    with pytest.raises(ModelServerError) as caught:
        await send(make_model())
    assert isinstance(caught.value.__cause__, errors.ServerError)


async def test_the_key_never_appears_in_reprs_or_errors(gemini, make_model) -> None:
    key = gemini.api_key
    # A (hypothetical) server that echoes the key back must not leak it either.
    gemini.add(
        gemini.error(400, f"API key not valid: {key}", "INVALID_ARGUMENT"),
        gemini.error(429, f"quota for {key}", "RESOURCE_EXHAUSTED"),
    )
    model = make_model()
    assert key not in repr(model)
    assert key not in str(model)
    assert repr(model) == "GoogleModel(model_name='gemini-2.5-flash')"
    for expected in (AuthenticationError, RateLimitedError):
        with pytest.raises(expected) as caught:
            await send(model)
        assert key not in str(caught.value)
        assert key not in repr(caught.value)
        assert key not in repr(caught.value.body)
        assert "[REDACTED]" in str(caught.value)
    embedder = GoogleEmbedder(api_key=key)
    assert key not in repr(embedder)


def test_construction_does_no_io_and_needs_no_key(monkeypatch) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    model = GoogleModel("gemini-2.5-flash")
    embedder = GoogleEmbedder()
    assert model.model_name == "gemini-2.5-flash"
    assert embedder.dimensions == 3072
    assert not model._clients.built()  # no SDK client until the first request


async def test_a_missing_key_fails_at_the_first_request_naming_the_variables(
    monkeypatch,
) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    model = GoogleModel("gemini-2.5-flash")
    with pytest.raises(ConfigurationError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        await send(model)
    with pytest.raises(ConfigurationError, match="GEMINI_API_KEY"):
        await GoogleEmbedder().embed(["x"])


async def test_the_key_and_base_url_come_from_the_environment(monkeypatch) -> None:
    from covey.models.google.testing import FakeGeminiServer, text_answer

    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", "env-key")
    with FakeGeminiServer([text_answer("hi")]) as server:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", server.url)
        model = GoogleModel("gemini-2.5-flash")
        try:
            await send(model)
        finally:
            await model.aclose()
        assert server.last_request.headers["x-goog-api-key"] == "env-key"
        monkeypatch.setenv("GEMINI_API_KEY", "gemini-key")  # GEMINI_API_KEY comes first
        server.add(text_answer("hi"))
        model = GoogleModel("gemini-2.5-flash")
        try:
            await send(model)
        finally:
            await model.aclose()
        assert server.last_request.headers["x-goog-api-key"] == "gemini-key"


async def test_a_200_that_is_not_json_is_unexpected_behaviour(gemini, make_model) -> None:
    from covey.spec.errors import UnexpectedModelBehavior

    gemini.add(httpx2.Response(200, text="<html>captive portal</html>"))
    with pytest.raises(UnexpectedModelBehavior, match="not JSON"):
        await send(make_model())


async def test_aclose_before_any_request_and_twice() -> None:
    model = GoogleModel("gemini-2.5-flash", api_key="k")
    await model.aclose()
    await model.aclose()
