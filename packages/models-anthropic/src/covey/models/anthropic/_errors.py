"""What is Anthropic's about its errors: error types, overflow wording and its SDK's
exceptions. The mapping itself is the adapter kit's (`covey.spec.adapter_kit.ProviderErrors`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from covey.spec.adapter_kit import ContextOverflow, ProviderErrors, redact_exception
from covey.spec.errors import CoveyError, UnexpectedModelBehavior

__all__ = ["ANTHROPIC_ERRORS", "map_error"]

ANTHROPIC_ERRORS = ProviderErrors(
    provider="Anthropic",
    api_key_env="ANTHROPIC_API_KEY",
    # "prompt is too long: 215000 tokens > 200000 maximum", "input length and `max_tokens`
    # exceed context limit: ...", and the like.
    overflow=ContextOverflow(
        patterns=(
            r"prompt is too long",
            r"exceed(?:s|ed)? (?:the )?context",
            r"context (?:window|limit|length)",
            r"too many (?:input )?tokens",
        )
    ),
    # The HTTP status an error `type` stands for, for errors sent inside a 200 event stream.
    status_by_code={
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
    },
)
"""Anthropic's error conventions."""


def map_error(exc: Exception, *, model_name: str, secrets: Sequence[str] = ()) -> Exception:
    """The Covey error for an exception raised by the SDK (or its HTTP layer).

    Statuses map as `ProviderErrors.from_status` says; an `error` event inside a stream is
    mapped by its error `type`. The SDK's exception is redacted in place (it is chained to the
    returned error). Exceptions that are not the provider's are returned unchanged.

    Args:
        exc: What the SDK raised.
        model_name: Named in the message.
        secrets: Strings (the API key) removed from anything copied into the message.
    """
    import anthropic
    import httpx2

    if isinstance(exc, CoveyError):
        return exc
    if not isinstance(exc, anthropic.AnthropicError | httpx2.TransportError):
        return exc
    redact_exception(exc, secrets)
    errors = ANTHROPIC_ERRORS
    if isinstance(exc, anthropic.APIStatusError):
        code: str | None = exc.type
        status = exc.status_code
        if status < 400:  # an `error` event inside a 200 stream
            status = errors.status_for(code)
        return errors.from_status(
            status,
            model_name=model_name,
            message=exc.api_message or _body_message(exc.body) or str(exc),
            code=code,
            body=exc.body,
            headers=dict(exc.response.headers),
            secrets=secrets,
        )
    if isinstance(exc, anthropic.APITimeoutError):
        return errors.connection_error(model_name=model_name, timed_out=True)
    if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
        return errors.connection_error(
            model_name=model_name, reason=str(exc.__cause__ or exc), secrets=secrets
        )
    if isinstance(exc, anthropic.APIResponseValidationError):
        return UnexpectedModelBehavior(
            f"The Anthropic API answered model {model_name!r} with a response the SDK could "
            f"not read (HTTP {exc.status_code})."
        )
    return exc


def _body_message(body: object) -> str | None:
    if isinstance(body, dict):
        error = cast(dict[str, object], body).get("error")
        if isinstance(error, dict):
            message = cast(dict[str, object], error).get("message")
            if isinstance(message, str):
                return message
    return None
