"""The runtime's tracing: a `covey.otel.Tracing` built from the settings, for the app's life.

covey-otel (and the OpenTelemetry SDK) is an optional extra, `covey-runtime[otel]`: it is
imported only when `tracing = true` or `otlp_endpoint` is set, so a runtime without tracing
loads none of it.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from covey.runtime.config import RuntimeSettings
from covey.spec.errors import ConfigurationError
from covey.spec.store import Store

__all__ = ["TRACING_STATE", "flush_stored_spans", "tracing_enabled", "tracing_for"]

TRACING_STATE = "covey_tracing"
"""The app-state key of the app's tracing (a `covey.otel.Tracing`, or a no-op context)."""


def tracing_enabled(settings: RuntimeSettings) -> bool:
    """Whether the settings ask for tracing (`tracing = true` or an OTLP endpoint)."""
    return settings.tracing or settings.otlp_endpoint is not None


def tracing_for(settings: RuntimeSettings, store: Store) -> AbstractAsyncContextManager[Any]:
    """An async context manager tracing every run while the app runs (a no-op when off).

    Raises:
        ConfigurationError: tracing is asked for but covey-otel is not installed, or its
            settings are invalid (the message names the setting, never a header's value).
    """
    if not tracing_enabled(settings):
        return nullcontext()
    try:
        from covey.otel import Tracing, TracingConfig
    except ImportError:
        raise ConfigurationError(
            "tracing needs covey-otel: pip install 'covey-runtime[otel]'"
        ) from None
    from pydantic import ValidationError

    try:
        config = TracingConfig(
            service_name=settings.tracing_service_name,
            otlp_endpoint=settings.otlp_endpoint,
            otlp_headers=settings.otlp_headers,
            otlp_timeout=settings.otlp_timeout,
            capture_content=settings.tracing_capture_content,
            redact_keys=tuple(settings.tracing_redact_keys),
            store_sample_ratio=settings.tracing_store_sample_ratio,
            export_sample_ratio=settings.tracing_export_sample_ratio,
        )
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) + ": " + e["msg"] for e in exc.errors())
        raise ConfigurationError(f"tracing settings: {fields}") from None
    return Tracing(config, store=store)


async def flush_stored_spans(tracing: object) -> None:
    """Write this process's queued spans before a read, so `/v1/traces` right after a run's
    answer already shows its spans."""
    flush = getattr(tracing, "flush_stored", None)
    if flush is not None:
        await flush()
