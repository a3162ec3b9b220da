"""SDK exceptions to Covey's error hierarchy, with every secret scrubbed from the message."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import cast

from covey.spec.errors import (
    AuthenticationError,
    ContextOverflowError,
    CoveyError,
    ModelConnectionError,
    ModelHTTPError,
    ModelServerError,
    RateLimitedError,
    UnexpectedModelBehavior,
)
from covey.spec.http_headers import retry_after_seconds as parse_retry_after

__all__ = ["error_from_body", "error_from_status", "map_sdk_error", "parse_retry_after", "redact"]

# Key shapes of OpenAI (sk-, sk-proj-), Groq (gsk_), xAI (xai-), OpenRouter (sk-or-), bearer tokens.
_KEY_PATTERN = re.compile(r"(?:\b(?:sk|xai|gsk)[-_][A-Za-z0-9_\-*.]{6,}|Bearer\s+[^\s\"',]+)")
_CONTEXT_CODES = frozenset({"context_length_exceeded", "string_above_max_length"})
_CONTEXT_PHRASES = (
    "maximum context length",
    "context length",
    "context window",
    "too many tokens",
    "prompt is too long",
    "input is too long",
    "reduce the length",
)


def redact(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret, and anything shaped like an API key, replaced."""
    for secret in secrets:
        text = text.replace(secret, "[REDACTED]")
    return _KEY_PATTERN.sub("[REDACTED]", text)


def _redact_value(value: object, secrets: Sequence[str]) -> object:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, Mapping):
        mapping = cast("Mapping[object, object]", value)
        return {str(k): _redact_value(v, secrets) for k, v in mapping.items()}
    if isinstance(value, list | tuple):
        items = cast("Sequence[object]", value)
        return [_redact_value(v, secrets) for v in items]
    return value


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


def _is_context_overflow(message: str | None, code: str | None) -> bool:
    if code in _CONTEXT_CODES:
        return True
    lowered = (message or "").lower()
    return any(phrase in lowered for phrase in _CONTEXT_PHRASES)


def _describe(provider: str, message: str | None, code: str | None) -> str:
    detail = f": {message}" if message else ""
    tag = f" [{code}]" if code else ""
    return f"{provider} API error{tag}{detail}"


def error_from_status(
    status: int,
    body: object,
    headers: Mapping[str, str],
    *,
    provider: str,
    model_name: str,
    api_key_env: str,
    secrets: Sequence[str],
) -> ModelHTTPError:
    """The Covey error for an HTTP error status from an OpenAI-compatible server."""
    message, code, kind = _error_fields(body)
    message = redact(message, secrets) if message else None
    clean_body = _redact_value(body, secrets)
    text = _describe(provider, message, code)
    if status == 429 and code != "insufficient_quota":
        return RateLimitedError(
            text,
            status_code=status,
            model_name=model_name,
            body=clean_body,
            retry_after=parse_retry_after(headers),
        )
    if status == 429:
        # Out of credit: waiting will not help, so this is not a retryable rate limit.
        return ModelHTTPError(
            f"{text}. Check the account's plan and billing.",
            status_code=status,
            model_name=model_name,
            body=clean_body,
        )
    if status in (401, 403):
        return AuthenticationError(
            f"{text}. Check the key in {api_key_env} (or the api_key argument).",
            status_code=status,
            model_name=model_name,
            body=clean_body,
        )
    if status in (400, 413, 422) and _is_context_overflow(message, code):
        return ContextOverflowError(
            text, status_code=status, model_name=model_name, body=clean_body
        )
    if status >= 500 or kind in ("server_error", "overloaded_error"):
        return ModelServerError(text, status_code=status, model_name=model_name, body=clean_body)
    return ModelHTTPError(text, status_code=status, model_name=model_name, body=clean_body)


def error_from_body(
    body: object,
    *,
    provider: str,
    model_name: str,
    api_key_env: str,
    secrets: Sequence[str],
) -> ModelHTTPError:
    """The Covey error for an error reported inside a stream or a failed response.

    There is no HTTP status to go on, so the error code decides; unknown failures count as the
    server's (5xx) and may be retried.
    """
    _, code, kind = _error_fields(body)
    if code in ("rate_limit_exceeded", "rate_limit_error") or kind == "rate_limit_exceeded":
        status = 429
    elif code in _CONTEXT_CODES or kind == "invalid_request_error":
        status = 400
    else:
        status = 500
    return error_from_status(
        status,
        body,
        {},
        provider=provider,
        model_name=model_name,
        api_key_env=api_key_env,
        secrets=secrets,
    )


def map_sdk_error(
    exc: BaseException,
    *,
    provider: str,
    model_name: str,
    api_key_env: str,
    secrets: Sequence[str],
) -> CoveyError | None:
    """The Covey error for an `openai` SDK exception, or `None` if it is not one."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        return error_from_status(
            exc.status_code,
            exc.body,
            dict(exc.response.headers),
            provider=provider,
            model_name=model_name,
            api_key_env=api_key_env,
            secrets=secrets,
        )
    if isinstance(exc, openai.APITimeoutError):
        return ModelConnectionError(
            f"{provider} did not answer in time (request timed out)", model_name=model_name
        )
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        reason = f": {type(cause).__name__}" if cause is not None else ""
        return ModelConnectionError(
            f"Could not reach {provider}{reason}. Check the base URL and that the server is up.",
            model_name=model_name,
        )
    if isinstance(exc, openai.APIResponseValidationError):
        return UnexpectedModelBehavior(
            f"{provider} sent a response the OpenAI SDK could not read (HTTP "
            f"{exc.status_code}); the server may not be OpenAI-compatible for this endpoint."
        )
    if isinstance(exc, openai.APIError):
        # An error event inside a stream: no status, only a body.
        body = exc.body if exc.body is not None else {"message": exc.message}
        return error_from_body(
            body,
            provider=provider,
            model_name=model_name,
            api_key_env=api_key_env,
            secrets=secrets,
        )
    return None
