"""`google-genai` and transport exceptions -> `covey.spec.errors`, with no secret in them."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, cast

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
from covey.spec.http_headers import retry_after_seconds

__all__ = ["map_error", "retry_after"]

_TRANSPORT_PACKAGES = frozenset({"httpx", "httpx2", "httpcore", "httpcore2", "aiohttp"})
_CONTEXT_OVERFLOW = re.compile(
    r"input token count|exceeds the maximum number of tokens|maximum context length|"
    r"context (?:length|window)|too many (?:input )?tokens|prompt is too long|token limit",
    re.IGNORECASE,
)
_AUTH_MESSAGE = re.compile(r"api key (?:not valid|expired|invalid)|invalid api key", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_RETRY_IN_MESSAGE = re.compile(r"retry in\s+(\d+(?:\.\d+)?)\s*(ms|s)\b", re.IGNORECASE)


def map_error(
    exc: BaseException, *, model_name: str | None, secret: str | None
) -> CoveyError | None:
    """The Covey error for an SDK or transport exception; `None` when it is neither."""
    from google.genai import errors as genai_errors

    if isinstance(exc, genai_errors.APIError):
        return _from_api_error(exc, model_name=model_name, secret=secret)
    if isinstance(exc, genai_errors.UnknownApiResponseError | json.JSONDecodeError):
        return UnexpectedModelBehavior(
            f"Gemini answered with a body that is not JSON: {_redact(str(exc), secret)}"
        )
    if _is_transport_error(exc):
        kind = "timed out" if _is_timeout(exc) else "failed"
        return ModelConnectionError(
            f"Connection to the Gemini API {kind}: {_redact(f'{type(exc).__name__}: {exc}', secret)}",
            model_name=model_name,
        )
    return None


def _from_api_error(exc: Any, *, model_name: str | None, secret: str | None) -> CoveyError:
    code = int(exc.code or 0)
    status = str(exc.status or "")
    message = _redact(str(exc.message or ""), secret)
    body = _redact_body(exc.details, secret)
    error = _error_object(body)
    text = f"Gemini API error {status or code}: {message or 'no message'}"
    reasons = _reasons(error)
    if code == 429 or status == "RESOURCE_EXHAUSTED":
        wait = retry_after(_headers(exc), error, message)
        return RateLimitedError(
            text, status_code=code or 429, model_name=model_name, body=body, retry_after=wait
        )
    if code in (401, 403) or "API_KEY_INVALID" in reasons or _AUTH_MESSAGE.search(message):
        hint = " Check GEMINI_API_KEY (or the api_key passed to the model)."
        return AuthenticationError(text + hint, status_code=code, model_name=model_name, body=body)
    if code == 400 and _CONTEXT_OVERFLOW.search(message):
        return ContextOverflowError(text, status_code=code, model_name=model_name, body=body)
    if code >= 500:
        return ModelServerError(text, status_code=code, model_name=model_name, body=body)
    return ModelHTTPError(text, status_code=code, model_name=model_name, body=body)


def retry_after(
    headers: Mapping[str, str], error: Mapping[str, Any] | None, message: str = ""
) -> float | None:
    """Seconds to wait before retrying, from (in order) the `retry-after-ms` and `retry-after`
    headers, the `google.rpc.RetryInfo` error detail (`"retryDelay": "37s"`), or a
    "Please retry in 37.2s" message."""
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


def _redact(text: str, secret: str | None) -> str:
    if secret and secret in text:
        return text.replace(secret, "***")
    return text


def _redact_body(body: Any, secret: str | None) -> Any:
    if not secret:
        return body
    try:
        dumped = json.dumps(body)
    except (TypeError, ValueError):
        return _redact(str(body), secret)
    if secret not in dumped:
        return body
    return json.loads(dumped.replace(secret, "***"))
