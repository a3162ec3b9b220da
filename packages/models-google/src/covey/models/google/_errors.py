"""What is Google's about its errors: the `google.rpc` body, Gemini's wording, and the
exceptions of `google-genai` and its transports. The mapping itself is the adapter kit's
(`covey.spec.adapter_kit.ProviderErrors`)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

from covey.spec.adapter_kit import ContextOverflow, ProviderErrors, redact, redact_exception
from covey.spec.errors import (
    AuthenticationError,
    ConfigurationError,
    CoveyError,
    UnexpectedModelBehavior,
)

__all__ = ["GOOGLE_ERRORS", "VERTEX_ERRORS", "map_auth_error", "map_error", "retry_after"]

_OVERFLOW = ContextOverflow(
    patterns=(
        r"input token count",
        r"exceeds the maximum number of tokens",
        r"maximum context length",
        r"context (?:length|window)",
        r"too many (?:input )?tokens",
        r"prompt is too long",
        r"token limit",
    )
)

GOOGLE_ERRORS = ProviderErrors(
    provider="Gemini",
    api_key_env="GEMINI_API_KEY",
    overflow=_OVERFLOW,
    # Gemini answers an invalid key with 400 INVALID_ARGUMENT and reason API_KEY_INVALID.
    auth_codes=frozenset({"API_KEY_INVALID"}),
    auth_pattern=r"api key (?:not valid|expired|invalid)|invalid api key",
)
"""Gemini's error conventions."""

VERTEX_ERRORS = ProviderErrors(
    provider="Vertex AI",
    # Named in the hint of an authentication error: where the credentials come from.
    api_key_env="GOOGLE_APPLICATION_CREDENTIALS or the credentials_file",
    overflow=_OVERFLOW,
    # An express-mode key refused, or an OAuth token Google no longer takes.
    auth_codes=frozenset({"API_KEY_INVALID", "ACCESS_TOKEN_EXPIRED", "CREDENTIALS_MISSING"}),
    auth_pattern=r"api key (?:not valid|expired|invalid)|invalid api key|invalid authentication",
)
"""Vertex AI's error conventions: Gemini's, with Google Cloud credentials instead of a key."""

_TRANSPORT_PACKAGES = frozenset({"httpx", "httpx2", "httpcore", "httpcore2", "aiohttp"})
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_RETRY_IN_MESSAGE = re.compile(r"retry in\s+(\d+(?:\.\d+)?)\s*(ms|s)\b", re.IGNORECASE)


def map_error(
    exc: BaseException,
    *,
    model_name: str | None,
    secrets: Sequence[str] = (),
    errors: ProviderErrors = GOOGLE_ERRORS,
) -> CoveyError | None:
    """The Covey error for an SDK or transport exception; `None` when it is neither. The
    exception is redacted in place, since it is chained to the returned error. `errors` are
    the conventions of the backend (`GOOGLE_ERRORS` or `VERTEX_ERRORS`)."""
    from google.genai import errors as genai_errors

    if isinstance(exc, genai_errors.APIError):
        redact_exception(exc, secrets)
        return _from_api_error(exc, model_name=model_name, secrets=secrets, errors=errors)
    if isinstance(exc, genai_errors.UnknownApiResponseError | json.JSONDecodeError):
        redact_exception(exc, secrets)
        return UnexpectedModelBehavior(
            f"{errors.provider} answered with a body that is not JSON: {redact(str(exc), secrets)}"
        )
    if _is_transport_error(exc):
        redact_exception(exc, secrets)
        return errors.connection_error(
            model_name=model_name,
            reason=f"{type(exc).__name__}: {exc}",
            timed_out=_is_timeout(exc),
            secrets=secrets,
        )
    return None


def map_auth_error(
    exc: BaseException, *, model_name: str | None, secrets: Sequence[str] = ()
) -> CoveyError | None:
    """The Covey error for a `google-auth` failure while getting an access token; `None` for
    any other exception.

    A token endpoint that refuses the credentials (`RefreshError`: a revoked service-account
    key, a bad signature) is an `AuthenticationError`, not worth retrying; one that cannot be
    reached (`TransportError`) is a `ModelConnectionError`, which the run loop retries;
    credentials that cannot be found or read (`DefaultCredentialsError`) are a
    `ConfigurationError`. The exception is redacted in place, since it is chained.
    """
    from google.auth import exceptions as auth_errors

    if not isinstance(exc, auth_errors.GoogleAuthError):
        return None
    redact_exception(exc, secrets)
    reason = redact(_auth_reason(exc), secrets).rstrip(".")
    model = f" for model {model_name!r}" if model_name else ""
    if isinstance(exc, auth_errors.DefaultCredentialsError):
        return ConfigurationError(
            f"No usable Google Cloud credentials for Vertex AI{model}: {reason}. Run "
            f"`gcloud auth application-default login`, set GOOGLE_APPLICATION_CREDENTIALS to a "
            f"service-account file, or pass credentials_file=... or credentials=..."
        )
    if isinstance(exc, auth_errors.RefreshError):
        return AuthenticationError(
            f"Google refused the Vertex AI credentials{model} when asked for an access token: "
            f"{reason}. Check the service-account key (it may be revoked or expired) or "
            f"re-run `gcloud auth application-default login`",
            status_code=401,
            model_name=model_name,
        )
    if isinstance(exc, auth_errors.TransportError):
        return VERTEX_ERRORS.connection_error(
            model_name=model_name, reason=f"the token endpoint: {reason}", secrets=secrets
        )
    return AuthenticationError(
        f"Could not authenticate to Vertex AI{model}: {reason}",
        status_code=401,
        model_name=model_name,
    )


def _auth_reason(exc: BaseException) -> str:
    """The first argument of a google-auth error: its message without the response dict."""
    first = exc.args[0] if exc.args else ""
    return str(first) or type(exc).__name__


def _from_api_error(
    exc: Any, *, model_name: str | None, secrets: Sequence[str], errors: ProviderErrors
) -> CoveyError:
    code = int(exc.code or 0)
    status = str(exc.status or "")
    message = str(exc.message or "")
    error = _error_object(exc.details)
    reasons = sorted(_reasons(error))
    if status == "RESOURCE_EXHAUSTED":
        code = 429
    return errors.from_status(
        code,
        model_name=model_name,
        message=message,
        code=reasons[0] if reasons else (status or None),
        body=exc.details,
        headers=_headers(exc),
        retry_after=retry_after({}, error, message),
        secrets=secrets,
    )


def retry_after(
    headers: Mapping[str, str], error: Mapping[str, Any] | None, message: str = ""
) -> float | None:
    """Seconds to wait before retrying, from (in order) the `retry-after-ms` and `retry-after`
    headers, the `google.rpc.RetryInfo` error detail (`"retryDelay": "37s"`), or a
    "Please retry in 37.2s" message."""
    from covey.spec.http_headers import retry_after_seconds

    seconds = retry_after_seconds(headers)
    if seconds is not None:
        return seconds
    for detail in _details(error):
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    match = _RETRY_IN_MESSAGE.search(message)
    if match:
        value = float(match.group(1))
        return value / 1000 if match.group(2).lower() == "ms" else value
    return None


def _headers(exc: Any) -> dict[str, str]:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return {}
    try:
        return {str(k): str(v) for k, v in headers.items()}
    except AttributeError:
        return {}


def _error_object(body: Any) -> dict[str, Any] | None:
    if isinstance(body, list) and body:
        body = cast(list[Any], body)[0]
    if not isinstance(body, dict):
        return None
    body = cast(dict[str, Any], body)
    inner = body.get("error")
    return cast(dict[str, Any], inner) if isinstance(inner, dict) else body


def _details(error: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if error is None:
        return []
    details = error.get("details")
    if not isinstance(details, list):
        return []
    return [cast(dict[str, Any], d) for d in cast(list[Any], details) if isinstance(d, dict)]


def _reasons(error: Mapping[str, Any] | None) -> set[str]:
    return {str(d["reason"]) for d in _details(error) if "reason" in d}


def _is_transport_error(exc: BaseException) -> bool:
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    return any(cls.__module__.split(".")[0] in _TRANSPORT_PACKAGES for cls in type(exc).__mro__)


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or any(
        "Timeout" in cls.__name__ for cls in type(exc).__mro__
    )
