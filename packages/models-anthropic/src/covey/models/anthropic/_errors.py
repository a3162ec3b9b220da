"""SDK exceptions → the Covey error hierarchy."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, cast

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

if TYPE_CHECKING:
    from anthropic import APIStatusError

__all__ = ["map_error", "parse_retry_after"]

# The HTTP status an error `type` stands for, for errors sent inside a 200 event stream.
_STATUS_BY_TYPE: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}

# "prompt is too long: 215000 tokens > 200000 maximum", "input length and `max_tokens` exceed
# context limit: ...", and the like.
_OVERFLOW = re.compile(
    r"prompt is too long|exceed(s|ed)? (the )?context|context (window|limit|length)|"
    r"too many (input )?tokens",
    re.IGNORECASE,
)


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def map_error(exc: Exception, *, model_name: str, secrets: tuple[str, ...] = ()) -> Exception:
    """The Covey error for an exception raised by the SDK (or its HTTP layer).

    429 → `RateLimitedError` (with `retry_after` from the headers); 401/403 →
    `AuthenticationError`; a 400 saying the prompt is too long → `ContextOverflowError`; 5xx and
    529 (overloaded) → `ModelServerError`; other statuses → `ModelHTTPError`; connection
    failures and timeouts → `ModelConnectionError`. An `error` event inside a stream is mapped
    by its error `type`. Exceptions that are not the provider's are returned unchanged.

    Args:
        exc: What the SDK raised.
        model_name: Named in the message.
        secrets: Strings (the API key) removed from anything copied into the message.
    """
    import anthropic
    import httpx2

    if isinstance(exc, CoveyError):
        return exc
    if isinstance(exc, anthropic.APIStatusError):
        return _status_error(exc, model_name=model_name, secrets=secrets)
    if isinstance(exc, anthropic.APITimeoutError):
        return ModelConnectionError(
            f"The request to Anthropic for model {model_name!r} timed out. Retry, or raise "
            f"ModelSettings.timeout.",
            model_name=model_name,
        )
    if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
        reason = _scrub(str(exc.__cause__ or exc), secrets)
        return ModelConnectionError(
            f"Could not reach the Anthropic API for model {model_name!r}: {reason}. Check the "
            f"network and the base URL (ANTHROPIC_BASE_URL).",
            model_name=model_name,
        )
    if isinstance(exc, anthropic.APIResponseValidationError):
        return UnexpectedModelBehavior(
            f"The Anthropic API answered model {model_name!r} with a response the SDK could "
            f"not read (HTTP {exc.status_code})."
        )
    return exc


def _status_error(
    error: APIStatusError, *, model_name: str, secrets: tuple[str, ...]
) -> ModelHTTPError:
    error_type: str | None = error.type
    status = error.status_code
    if status < 400:  # an `error` event inside a 200 stream
        status = _STATUS_BY_TYPE.get(error_type or "", 500)
    detail = _scrub(error.api_message or _body_message(error.body) or str(error), secrets)
    what = f"Anthropic API error for model {model_name!r}"
    if error_type:
        what += f" ({error_type})"
    message = f"{what}: {detail}"
    body: object = error.body
    if status == 429 or error_type == "rate_limit_error":
        retry_after = parse_retry_after(error.response.headers)
        return RateLimitedError(
            f"{message}. Wait and retry, or lower the request rate",
            status_code=status,
            model_name=model_name,
            body=body,
            retry_after=retry_after,
        )
    if status in (401, 403):
        return AuthenticationError(
            f"{message}. Check the API key (ANTHROPIC_API_KEY) and its permissions",
            status_code=status,
            model_name=model_name,
            body=body,
        )
    if status in (400, 413) and _OVERFLOW.search(detail):
        return ContextOverflowError(
            f"{message}. Shorten the history or the prompt, or lower max_tokens",
            status_code=status,
            model_name=model_name,
            body=body,
        )
    if status >= 500:
        return ModelServerError(
            f"{message}. The provider failed or is overloaded; retry later",
            status_code=status,
            model_name=model_name,
            body=body,
        )
    return ModelHTTPError(message, status_code=status, model_name=model_name, body=body)


def _body_message(body: object) -> str | None:
    if isinstance(body, dict):
        error = cast(dict[str, object], body).get("error")
        if isinstance(error, dict):
            message = cast(dict[str, object], error).get("message")
            if isinstance(message, str):
                return message
    return None
