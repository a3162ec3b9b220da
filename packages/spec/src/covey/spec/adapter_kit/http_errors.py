"""One mapping from a provider's HTTP error to `covey.spec.errors`, with the provider's
specifics (context-overflow wording, quota codes, error types sent inside streams) given as data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from covey.spec.adapter_kit.redaction import redact, redact_value
from covey.spec.errors import (
    AuthenticationError,
    ContextOverflowError,
    ModelConnectionError,
    ModelHTTPError,
    ModelServerError,
    RateLimitedError,
)

__all__ = ["ContextOverflow", "ProviderErrors"]

_OVERFLOW_STATUSES = frozenset({400, 413, 422})


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextOverflow:
    """How a provider says "the prompt is longer than the context window", as data.

    Attributes:
        codes: Error codes or types that always mean it (`context_length_exceeded`).
        patterns: Regular expressions (case-insensitive) matched against the error message,
            e.g. `r"prompt is too long"`.
    """

    codes: frozenset[str] = frozenset()
    patterns: tuple[str, ...] = ()

    def matches(self, message: str | None, code: str | None = None) -> bool:
        """Whether an error with this message and code is a context overflow."""
        if code is not None and code in self.codes:
            return True
        if not message or not self.patterns:
            return False
        return re.search("|".join(f"(?:{p})" for p in self.patterns), message, re.I) is not None


@dataclass(frozen=True, kw_only=True)
class ProviderErrors:
    """A provider's error conventions, and the one mapping to Covey's errors built from them.

    Status codes map the same way for every provider: 429 → `RateLimitedError` (with
    `retry_after` from the headers) unless the code says the quota is spent; 401/403, or an
    `auth_codes` code, or a message matching `auth_pattern` → `AuthenticationError`; 400/413/422
    matching `overflow` → `ContextOverflowError`; 5xx (and 529) → `ModelServerError`; anything
    else → `ModelHTTPError`. Messages and bodies are redacted on the way.

    Attributes:
        provider: The provider's name in messages, e.g. `Anthropic`.
        api_key_env: The key's variable, named in authentication errors.
        overflow: How the provider words a context overflow.
        quota_codes: 429 codes that mean "out of credit" (waiting will not help, so no retry).
        auth_codes: Codes that mean the key was refused whatever the status (Gemini answers an
            invalid key with 400 `API_KEY_INVALID`).
        auth_pattern: A regular expression on the message with the same meaning.
        status_by_code: The HTTP status an error code stands for, for errors that arrive
            without one (an `error` event inside a 200 stream).
    """

    provider: str
    api_key_env: str
    overflow: ContextOverflow = field(default_factory=ContextOverflow)
    quota_codes: frozenset[str] = frozenset()
    auth_codes: frozenset[str] = frozenset()
    auth_pattern: str | None = None
    status_by_code: Mapping[str, int] = field(default_factory=dict[str, int])

    @cached_property
    def _auth_regex(self) -> re.Pattern[str] | None:
        return re.compile(self.auth_pattern, re.I) if self.auth_pattern else None

    def status_for(self, code: str | None, default: int = 500) -> int:
        """The HTTP status `code` stands for (`default`, a server error, when unknown)."""
        return self.status_by_code.get(code or "", default)

    def from_status(
        self,
        status: int,
        *,
        model_name: str | None,
        message: str | None = None,
        code: str | None = None,
        body: object = None,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
        secrets: Iterable[str] = (),
    ) -> ModelHTTPError:
        """The Covey error for an HTTP error status.

        Args:
            status: The HTTP status (use `status_for(code)` when the error came without one).
            model_name: The model the request was for.
            message: The provider's error message.
            code: The provider's error code or type (`rate_limit_error`, `API_KEY_INVALID`).
            body: The error body, kept (redacted) on the error as `body`.
            headers: The response headers; `retry-after(-ms)` fills `retry_after`.
            retry_after: A wait the provider gave elsewhere (in the body), used when the
                headers give none.
            secrets: Exact values to redact (the configured key).
        """
        secrets = tuple(secrets)
        detail = redact(message, secrets) if message else None
        clean_body = redact_value(body, secrets)
        tag = f" [{code}]" if code else ""
        model = f" for model {model_name!r}" if model_name else ""
        text = f"{self.provider} API error{model}{tag}: {detail or 'no message'}"
        common = {"status_code": status, "model_name": model_name, "body": clean_body}
        if status == 429 and (code is None or code not in self.quota_codes):
            from covey.spec.http_headers import retry_after_seconds  # email.utils: on first use

            wait = retry_after_seconds(headers or {})
            return RateLimitedError(
                f"{text}. Wait and retry, or lower the request rate",
                retry_after=wait if wait is not None else retry_after,
                **common,  # pyright: ignore[reportArgumentType]
            )
        if status == 429:
            return ModelHTTPError(
                f"{text}. The account is out of quota: check its plan and billing",
                **common,  # pyright: ignore[reportArgumentType]
            )
        auth_regex = self._auth_regex
        if (
            status in (401, 403)
            or (code is not None and code in self.auth_codes)
            or (auth_regex is not None and detail is not None and auth_regex.search(detail))
        ):
            return AuthenticationError(
                f"{text}. Check the key in {self.api_key_env} (or the api_key argument)",
                **common,  # pyright: ignore[reportArgumentType]
            )
        if status in _OVERFLOW_STATUSES and self.overflow.matches(detail, code):
            return ContextOverflowError(
                f"{text}. Shorten the history or the prompt, or lower max_tokens",
                **common,  # pyright: ignore[reportArgumentType]
            )
        if status >= 500:
            return ModelServerError(
                f"{text}. The provider failed or is overloaded; retry later",
                **common,  # pyright: ignore[reportArgumentType]
            )
        return ModelHTTPError(text, **common)  # pyright: ignore[reportArgumentType]

    def connection_error(
        self,
        *,
        model_name: str | None,
        reason: str | None = None,
        timed_out: bool = False,
        secrets: Iterable[str] = (),
    ) -> ModelConnectionError:
        """The Covey error for a request that never got an HTTP answer (refused, reset, timed
        out); `reason` is redacted."""
        model = f" for model {model_name!r}" if model_name else ""
        if timed_out:
            return ModelConnectionError(
                f"The request to {self.provider}{model} timed out. Retry, or raise "
                f"ModelSettings.timeout.",
                model_name=model_name,
            )
        why = f": {redact(reason, secrets)}" if reason else ""
        return ModelConnectionError(
            f"Could not reach {self.provider}{model}{why}. Check the network, the base URL "
            f"and that the server is up.",
            model_name=model_name,
        )
