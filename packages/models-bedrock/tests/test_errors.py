"""Errors: AWS error codes to Covey's typed errors, missing configuration, and no secret (secret
key, session token) in an error, a traceback, a repr or botocore's own debug logs."""

from __future__ import annotations

import logging
import socket
import traceback
from typing import Any

import pytest

from covey.models.bedrock import BedrockGuardrailIntervened, BedrockModel, Guardrail
from covey.models.bedrock.testing import FakeBedrockServer, FakeResponse, converse_response
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

HI = [ModelRequest.user("hi")]


async def _request(model: BedrockModel) -> Any:
    return await model.request(HI, None, ModelRequestParams())


@pytest.mark.parametrize(
    ("status", "code", "message", "error"),
    [
        (429, "ThrottlingException", "Too many requests, please wait.", RateLimitedError),
        (503, "ServiceUnavailableException", "Service unavailable.", ModelServerError),
        (500, "InternalServerException", "Internal error.", ModelServerError),
        (403, "AccessDeniedException", "You don't have access to the model.", AuthenticationError),
        (
            403,
            "ExpiredTokenException",
            "The security token included in the request is expired",
            AuthenticationError,
        ),
        (
            400,
            "ValidationException",
            "Input is too long for requested model.",
            ContextOverflowError,
        ),
        (
            400,
            "ValidationException",
            "The model returned the following errors: prompt is too long: 215000 tokens > 200000 maximum",
            ContextOverflowError,
        ),
        (404, "ResourceNotFoundException", "Model not found.", ModelHTTPError),
        (424, "ModelErrorException", "The model failed.", ModelHTTPError),
    ],
)
async def test_aws_errors_map_to_typed_errors(
    model: BedrockModel,
    server: FakeBedrockServer,
    status: int,
    code: str,
    message: str,
    error: type,
) -> None:
    server.add(FakeResponse.error(status, code, message))
    with pytest.raises(error) as caught:
        await _request(model)
    assert type(caught.value) is error
    assert caught.value.status_code == status
    assert code in str(caught.value)
    assert len(server.requests) == 1  # botocore did not retry on its own


async def test_throttling_carries_retry_after(
    model: BedrockModel, server: FakeBedrockServer
) -> None:
    server.add(FakeResponse.error(429, "ThrottlingException", "slow", headers={"retry-after": "4"}))
    with pytest.raises(RateLimitedError) as caught:
        await _request(model)
    assert caught.value.retry_after == pytest.approx(4)


async def test_model_timeout_is_a_retryable_connection_error(
    model: BedrockModel, server: FakeBedrockServer
) -> None:
    server.add(FakeResponse.error(408, "ModelTimeoutException", "Model timed out."))
    with pytest.raises(ModelConnectionError, match="timed out"):
        await _request(model)


async def test_unreachable_endpoint_is_a_connection_error(make_model: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = make_model(endpoint_url=f"http://127.0.0.1:{port}")
    with pytest.raises(ModelConnectionError, match="Could not reach Amazon Bedrock"):
        await _request(model)


async def test_the_timeout_setting_bounds_the_call(aws: Any) -> None:
    import threading

    release = threading.Event()

    def stall(request: Any) -> Any:
        release.wait(30)
        return FakeResponse.error(500, "InternalServerException", "late")

    with FakeBedrockServer(stall) as server:
        model = BedrockModel(aws.MODEL, region_name=aws.REGION, endpoint_url=server.url)
        try:
            with pytest.raises(ModelConnectionError, match="timed out"):
                await model.request(HI, ModelSettings(timeout=0.5), ModelRequestParams())
        finally:
            release.set()
            await model.aclose()


async def test_no_credentials_is_a_configuration_error(
    make_model: Any, monkeypatch: pytest.MonkeyPatch, server: FakeBedrockServer
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    with pytest.raises(ConfigurationError, match="No AWS credentials"):
        await _request(make_model())
    assert server.requests == []


async def test_no_region_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    model = BedrockModel("amazon.nova-pro-v1:0")
    with pytest.raises(ConfigurationError, match="No AWS region"):
        await _request(model)


async def test_unknown_profile_is_a_configuration_error() -> None:
    model = BedrockModel("amazon.nova-pro-v1:0", profile_name="nope", region_name="us-east-1")
    with pytest.raises(ConfigurationError, match="nope"):
        await _request(model)


async def test_secrets_never_show(
    model: BedrockModel, server: FakeBedrockServer, aws: Any, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = [aws.SECRET_KEY, aws.SESSION_TOKEN]
    echoed = f"Signature mismatch for {aws.SECRET_KEY} with token {aws.SESSION_TOKEN}"
    server.add(FakeResponse.error(403, "InvalidSignatureException", echoed))
    caplog.set_level(logging.DEBUG)  # botocore logs signed headers and bodies at DEBUG
    with pytest.raises(AuthenticationError) as caught:
        await _request(model)
    error = caught.value
    shown = [
        str(error),
        repr(error),
        repr(error.body),
        "".join(traceback.format_exception(error)),
        repr(model),
        str(model),
    ]
    for text in shown:
        for secret in secrets:
            assert secret not in text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    # botocore did log the request headers and the error body (so the filter had work to do)...
    assert "x-amz-security-token" in logged.lower()
    assert "Signature mismatch" in logged
    # ...and neither secret reached a log record.
    for secret in secrets:
        assert secret not in logged


async def test_guardrail_respond_mode_returns_the_guardrail_message(
    make_model: Any, server: FakeBedrockServer
) -> None:
    server.add(
        converse_response(
            [{"text": "Sorry, I cannot help with that."}], stop_reason="guardrail_intervened"
        ),
        converse_response([{"text": "Blocked."}], stop_reason="guardrail_intervened"),
    )
    model = make_model(
        guardrail=Guardrail("gr-2", "DRAFT", trace="disabled"), on_guardrail="respond"
    )
    response = await _request(model)
    assert response.text() == "Sorry, I cannot help with that."
    assert response.finish_reason == "content_filter"
    events = [e async for e in model.request_stream(HI, None, ModelRequestParams())]
    assert events[-1].response.finish_reason == "content_filter"


async def test_guardrail_on_output_names_its_policies_not_the_text(
    make_model: Any, server: FakeBedrockServer
) -> None:
    trace = {
        "guardrail": {
            "outputAssessments": {
                "gr-3": [
                    {
                        "sensitiveInformationPolicy": {
                            "piiEntities": [
                                {"type": "EMAIL", "match": "ada@example.com", "action": "BLOCKED"}
                            ]
                        }
                    }
                ]
            }
        }
    }
    server.add(
        converse_response([{"text": "[blocked]"}], stop_reason="guardrail_intervened", trace=trace)
    )
    model = make_model(guardrail=Guardrail("gr-3", "1", stream_processing_mode="sync"))
    with pytest.raises(BedrockGuardrailIntervened) as caught:
        await _request(model)
    error = caught.value
    assert error.stage == "output"
    assert error.policies == ("sensitiveInformationPolicy",)
    assert error.blocked_message == "[blocked]"
    assert "ada@example.com" not in str(error)
    assert "streamProcessingMode" not in server.requests[0].body["guardrailConfig"]


def test_invalid_guardrail_mode_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        BedrockModel("amazon.nova-pro-v1:0", on_guardrail="ignore")  # type: ignore[arg-type]
