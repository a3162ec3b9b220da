"""`TracingConfig`: what is traced, what is kept, and where spans go (nowhere unless told)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["DEFAULT_REDACT_KEYS", "TracingConfig"]

DEFAULT_REDACT_KEYS: tuple[str, ...] = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "authorization",
    "cookie",
    "credential",
    "private_key",
)
"""Argument and attribute names whose values are never recorded (matched as substrings,
case-insensitively: `db_password`, `X-Api-Key` and `refresh_token` are all caught)."""

Ratio = Annotated[float, Field(ge=0.0, le=1.0)]


class TracingConfig(BaseModel):
    """How Covey traces runs.

    The defaults send nothing anywhere: spans go to an OTLP collector only when `otlp_endpoint`
    is set (the `OTEL_EXPORTER_OTLP_*` environment variables are deliberately not read, so a
    variable left in an environment never starts an export), and Covey sends no telemetry of
    its own, ever. Prompts, completions, tool arguments and results are recorded only with
    `capture_content=True`, and then redacted.

    Args:
        service_name: `service.name` of the exported resource.
        otlp_endpoint: An OTLP/HTTP collector, `http://host:4318` (`/v1/traces` is added when
            the URL has no path) or the full traces URL. `None`: nothing is exported.
        otlp_headers: Headers for the collector (an API key); kept secret in reprs and logs.
        otlp_timeout: Seconds one export may take, retries included; it also bounds how long
            shutdown waits for an unreachable collector. Spans that cannot be sent are dropped
            (the exporter logs it), never retried forever.
        capture_content: Record run input and output, model completions, tool arguments and
            results (redacted) as span attributes.
        redact_keys: More argument names whose values are replaced by `[REDACTED]`, on top of
            `DEFAULT_REDACT_KEYS` (substring match, case-insensitive).
        redact_values: Exact strings removed from every recorded text (a key you know).
        store_sample_ratio: The share of traces kept in the Covey store, decided by trace id
            (so every process keeps the same traces); `0` keeps none.
        export_sample_ratio: The share of traces sent to the collector, decided the same way.
        max_attribute_length: Longer text attributes are cut to this many characters.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    service_name: str = "covey"
    otlp_endpoint: str | None = None
    otlp_headers: dict[str, SecretStr] = Field(default_factory=dict[str, SecretStr])
    otlp_timeout: float = Field(default=5.0, gt=0, le=60)
    capture_content: bool = False
    redact_keys: tuple[str, ...] = ()
    redact_values: tuple[SecretStr, ...] = ()
    store_sample_ratio: Ratio = 1.0
    export_sample_ratio: Ratio = 1.0
    max_attribute_length: int = Field(default=4096, ge=64, le=1_000_000)

    @field_validator("otlp_endpoint")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("otlp_endpoint must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise ValueError("otlp_endpoint must not carry credentials; use otlp_headers")
        if parts.path in ("", "/"):
            value = value.rstrip("/") + "/v1/traces"
        return value

    def all_redact_keys(self) -> tuple[str, ...]:
        """The lower-cased key fragments whose values are never recorded."""
        return tuple(k.lower() for k in (*DEFAULT_REDACT_KEYS, *self.redact_keys))
