"""Errors as RFC 9457 `application/problem+json`, each with a stable `type`.

`type` is `urn:covey:problem:<slug>`; the slug never changes for a given kind of error, so
clients can branch on it. Validation errors list each bad field under `errors`.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.openapi.datastructures import ResponseSpec

from covey.runtime.dto import ProblemOut
from covey.spec.errors import (
    ConfigurationError,
    ConflictError,
    CoveyError,
    InvalidInputError,
    NotFoundError,
)

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "ApiError",
    "exception_handlers",
    "problem_body",
    "problem_responses",
    "problem_type",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"

log = logging.getLogger("covey.runtime")

_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "unprocessable",
    429: "too-many-requests",
    500: "internal-error",
    503: "unavailable",
}

_TITLES = {
    "bad-request": "Bad request",
    "validation-error": "The request is not valid",
    "unauthorized": "Not authenticated",
    "forbidden": "Not allowed",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "not-acceptable": "Not acceptable",
    "conflict": "Conflict",
    "payload-too-large": "Request body too large",
    "unsupported-media-type": "Unsupported media type",
    "unprocessable": "Unprocessable request",
    "too-many-requests": "Too many requests",
    "internal-error": "Internal server error",
    "unavailable": "Service unavailable",
}


_WHEN = {
    400: "The request is malformed: bad JSON, encoding, nesting, host or field values",
    401: "No valid bearer token",
    403: "The token lacks the scope, or the request's origin is not allowed",
    404: "No such resource",
    409: "The resource is not in a state that allows this",
    413: "The body is larger than max_body_size",
    415: "The body is not JSON (Content-Type application/json)",
    422: "The request is well-formed but does not fit the resource",
    503: "The server cannot take it now (shutting down, store not ready, misconfigured)",
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI responses for the error statuses a route answers, as `application/problem+json`.

    400 is always included (every route checks its host), so are the given `statuses`.
    """
    return {
        status: ResponseSpec(
            ProblemOut,
            description=_WHEN.get(status, "An error"),
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status in sorted({400, *statuses})
    }


def problem_type(slug: str) -> str:
    """The `type` URI of problem `slug`, e.g. `urn:covey:problem:not-found`."""
    return f"urn:covey:problem:{slug}"


class ApiError(HTTPException):
    """An error the API answers on purpose, with its problem slug.

    Args:
        status: The HTTP status.
        slug: The stable problem slug (`not-found`, `run-not-paused`, ...).
        detail: What happened and what to do.
        errors: Field errors, for validation problems.
        headers: Extra response headers.
    """

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=detail, status_code=status, headers=headers)
        self.slug = slug
        self.errors = errors


def problem_body(
    status: int,
    slug: str,
    detail: str | None,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of a problem."""
    body: dict[str, Any] = {
        "type": problem_type(slug),
        "title": _TITLES.get(slug, slug.replace("-", " ").capitalize()),
        "status": status,
        "detail": detail,
    }
    if instance is not None:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return body


def _respond(
    request: Request[Any, Any, Any],
    status: int,
    slug: str,
    detail: str | None,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    return Response(
        content=problem_body(status, slug, detail, instance=request.url.path, errors=errors),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


_UNION_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none", "null", "bytes"})


def _field_name(key: str) -> str:
    """`input.list[tagged-union[...]].0` → `input.0`: pydantic's union-member tags dropped."""
    parts: list[str] = []
    depth = 0
    current = ""
    for char in key:
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        if char == "." and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    kept = [p for p in parts if p and "[" not in p and "(" not in p and p not in _UNION_TAGS]
    return ".".join(kept)


def _field_errors(extra: Any) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    items = cast("list[Any]", extra if isinstance(extra, list) else [extra] if extra else [])
    for item in items:
        if isinstance(item, dict):
            entry = cast("dict[str, Any]", item)
            field = entry.get("key") or entry.get("field") or ""
            error = {"field": _field_name(str(field)), "message": str(entry.get("message", ""))}
            if entry.get("source"):
                error["source"] = str(entry["source"])
            errors.append(error)
        else:
            errors.append({"field": "", "message": str(item)})
    return errors


def _http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    headers = dict(exc.headers or {})
    if isinstance(exc, ApiError):
        return _respond(request, status, exc.slug, exc.detail, errors=exc.errors, headers=headers)
    if isinstance(exc, ValidationException):
        errors = _field_errors(exc.extra)
        named = ", ".join(dict.fromkeys(e["field"] for e in errors if e["field"]))
        detail = f"Invalid value for {named}" if named else exc.detail
        return _respond(request, 400, "validation-error", detail, errors=errors, headers=headers)
    if isinstance(exc, NotAuthorizedException):
        headers.setdefault("WWW-Authenticate", 'Bearer realm="covey"')
        return _respond(request, 401, "unauthorized", exc.detail, headers=headers)
    if isinstance(exc, PermissionDeniedException):
        return _respond(request, 403, "forbidden", exc.detail, headers=headers)
    if status >= 500:
        log.error("HTTP %s on %s: %s", status, request.url.path, exc.detail)
    slug = _SLUGS.get(status, "bad-request" if status < 500 else "internal-error")
    return _respond(request, status, slug, exc.detail, headers=headers)


def _not_found(request: Request[Any, Any, Any], exc: NotFoundError) -> Response[Any]:
    return _respond(request, 404, "not-found", str(exc))


def _conflict(request: Request[Any, Any, Any], exc: ConflictError) -> Response[Any]:
    return _respond(request, 409, "conflict", str(exc))


def _invalid_input(request: Request[Any, Any, Any], exc: InvalidInputError) -> Response[Any]:
    return _respond(request, 400, "invalid-input", str(exc))


def _configuration(request: Request[Any, Any, Any], exc: ConfigurationError) -> Response[Any]:
    log.error("configuration error on %s: %s", request.url.path, exc)
    return _respond(request, 503, "misconfigured", str(exc))


def _covey_error(request: Request[Any, Any, Any], exc: CoveyError) -> Response[Any]:
    log.exception("unhandled %s on %s", type(exc).__name__, request.url.path, exc_info=exc)
    return _respond(request, 500, "internal-error", "The server failed to handle the request.")


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    # Never show internals: the log has the traceback, the client gets a stable problem.
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    return _respond(request, 500, "internal-error", "The server failed to handle the request.")


def exception_handlers() -> dict[type[Exception] | int, Any]:
    """The app's exception handlers: every error becomes `application/problem+json`."""
    return {
        HTTPException: _http_exception,
        NotFoundError: _not_found,
        ConflictError: _conflict,
        InvalidInputError: _invalid_input,
        ConfigurationError: _configuration,
        CoveyError: _covey_error,
        Exception: _unexpected,
    }
