"""OpenTelemetry tracing for Covey runs.

`Tracing(TracingConfig(...), store=...)` turns every run of the process (agents, teams, member
runs, workflow steps) into spans with the OpenTelemetry GenAI semantic conventions, through
`covey.core.observe` (the run loop knows nothing of it). Spans are exported only to an OTLP
endpoint you configure, kept in the Covey store when you give one, and carry prompts,
completions and tool data only with `capture_content=True`, redacted.

Importing this package does not import the OpenTelemetry SDK; making a `Tracing` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from covey.otel.config import DEFAULT_REDACT_KEYS, TracingConfig

if TYPE_CHECKING:
    from covey.otel.ids import trace_id_for_run
    from covey.otel.tracing import Tracing

__all__ = ["DEFAULT_REDACT_KEYS", "Tracing", "TracingConfig", "trace_id_for_run"]


def __getattr__(name: str) -> Any:
    if name == "Tracing":
        from covey.otel.tracing import Tracing

        return Tracing
    if name == "trace_id_for_run":
        from covey.otel.ids import trace_id_for_run

        return trace_id_for_run
    raise AttributeError(name)
