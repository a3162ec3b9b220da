"""What is OpenAI's about its errors: their body shape, codes and wording, and its SDK's
exceptions. The mapping itself is the adapter kit's (`covey.spec.adapter_kit.ProviderErrors`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from covey.spec.adapter_kit import ContextOverflow, ProviderErrors, redact_exception
from covey.spec.errors import CoveyError, ModelHTTPError, UnexpectedModelBehavior

__all__ = ["OPENAI_OVERFLOW", "error_from_body", "map_sdk_error", "provider_errors"]

OPENAI_OVERFLOW = ContextOverflow(
    codes=frozenset({"context_length_exceeded", "string_above_max_length"}),
    patterns=(
        r"maximum context length",
        r"context (?:length|window)",
        r"too many tokens",
        r"prompt is too long",
        r"input is too long",
        r"reduce the length",
    ),
)
"""How OpenAI and the compatible servers word a context overflow."""

_STATUS_BY_CODE = {
    "rate_limit_exceeded": 429,
    "rate_limit_error": 429,
    "context_length_exceeded": 400,
    "string_above_max_length": 400,
    "invalid_request_error": 400,
    "invalid_api_key": 401,
    "insufficient_quota": 429,
}


def provider_errors(provider: str, api_key_env: str) -> ProviderErrors:
    """The error conventions of an OpenAI-compatible server."""
    return ProviderErrors(
        provider=provider,
        api_key_env=api_key_env,
        overflow=OPENAI_OVERFLOW,
        quota_codes=frozenset({"insufficient_quota"}),
        status_by_code=_STATUS_BY_CODE,
    )


def _error_fields(body: object) -> tuple[str | None, str | None, str | None]:
    """(message, code, type) from an OpenAI-style error body, `{"error": {...}}` or flat."""
    if isinstance(body, Mapping):
        inner = cast("Mapping[str, object]", body).get("error")
        if isinstance(inner, Mapping):
            body = cast("Mapping[str, object]", inner)
    if not isinstance(body, Mapping):
        return (body if isinstance(body, str) and body else None), None, None
    fields = cast("Mapping[str, object]", body)
    message, code, kind = fields.get("message"), fields.get("code"), fields.get("type")
    return (
        message if isinstance(message, str) else (str(message) if message else None),
        str(code) if code is not None else None,
        str(kind) if kind is not None else None,
    )


def error_from_body(
    body: object, *, errors: ProviderErrors, model_name: str, secrets: Sequence[str]
) -> ModelHTTPError:
    """The Covey error for an error reported inside a stream or a failed response.

    There is no HTTP status to go on, so the error code (else its type) decides; unknown
    failures count as the server's (5xx) and may be retried.
    """
    message, code, kind = _error_fields(body)
    status = errors.status_for(code, errors.status_for(kind))
    return errors.from_status(
        status, model_name=model_name, message=message, code=code, body=body, secrets=secrets
    )


def map_sdk_error(
    exc: BaseException, *, errors: ProviderErrors, model_name: str, secrets: Sequence[str]
) -> CoveyError | None:
    """The Covey error for an `openai` SDK exception, or `None` if it is not one. The SDK's
    exception is redacted in place, since it is chained to the returned error."""
    import openai

    if not isinstance(exc, openai.OpenAIError):
        return None
    redact_exception(exc, secrets)
    if isinstance(exc, openai.APIStatusError):
        message, code, _ = _error_fields(exc.body)
        return errors.from_status(
            exc.status_code,
            model_name=model_name,
            message=message or exc.message,
            code=code,
            body=exc.body,
            headers=dict(exc.response.headers),
            secrets=secrets,
        )
    if isinstance(exc, openai.APITimeoutError):
        return errors.connection_error(model_name=model_name, timed_out=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        reason = type(cause).__name__ if cause is not None else None
        return errors.connection_error(model_name=model_name, reason=reason, secrets=secrets)
    if isinstance(exc, openai.APIResponseValidationError):
        return UnexpectedModelBehavior(
            f"{errors.provider} sent a response the OpenAI SDK could not read (HTTP "
            f"{exc.status_code}); the server may not be OpenAI-compatible for this endpoint."
        )
    if isinstance(exc, openai.APIError):
        # An error event inside a stream: no status, only a body.
        body = exc.body if exc.body is not None else {"message": exc.message}
        return error_from_body(body, errors=errors, model_name=model_name, secrets=secrets)
    return None
