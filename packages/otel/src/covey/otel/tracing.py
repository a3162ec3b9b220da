"""`Tracing`: one object that turns every run of the process into OpenTelemetry spans."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Self

from covey.otel.config import TracingConfig
from covey.otel.generator import RunIds
from covey.otel.ids import sampled
from covey.otel.redact import Redactor
from covey.otel.spans import RunSpans
from covey.otel.stored import StoredSpans

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider

    from covey.spec.store import Store

__all__ = ["Tracing"]


def _sampled_processor(processor: SpanProcessor, ratio: float) -> SpanProcessor:
    """`processor`, given only the spans of traces within `ratio` (by trace id)."""
    if ratio >= 1.0:
        return processor
    from opentelemetry.sdk.trace import SpanProcessor as Base

    class Sampled(Base):
        def on_start(self, span: Span, parent_context: Context | None = None) -> None:
            if sampled(span.get_span_context().trace_id, ratio):
                processor.on_start(span, parent_context)

        def on_end(self, span: ReadableSpan) -> None:
            context = span.get_span_context()
            if context is not None and sampled(context.trace_id, ratio):
                processor.on_end(span)

        def shutdown(self) -> None:
            processor.shutdown()

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return processor.force_flush(timeout_millis)

    return Sampled()


class Tracing:
    """Spans for every run in this process, exported and stored as configured.

    `Tracing` owns its `TracerProvider` (it never replaces the global one, and reads no
    `OTEL_*` variable), so spans go exactly where the config and `processors` say: to the
    OTLP collector of `config.otlp_endpoint` (needs `covey-otel[otlp]`), to `processors` you
    pass (an in-memory exporter in tests), and to `store` (read back with
    `store.list_spans(scope, trace_id)`, a root run's trace id being its run id). With none of
    them, spans are made and dropped.

    Use it as an async context manager around the code that runs agents (the runtime does
    this for you with `tracing` settings), or `install()` / `shutdown()` without a store.

    Args:
        config: What to record and where to send it.
        store: Keep spans in this Covey store (sampled by `config.store_sample_ratio`).
        processors: More OpenTelemetry span processors (sampled by
            `config.export_sample_ratio`).
    """

    def __init__(
        self,
        config: TracingConfig | None = None,
        *,
        store: Store | None = None,
        processors: Sequence[SpanProcessor] = (),
    ) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.sampling import ALWAYS_ON

        self.config = config if config is not None else TracingConfig()
        self.ids = RunIds()
        self.provider: TracerProvider = TracerProvider(
            sampler=ALWAYS_ON,
            resource=Resource({"service.name": self.config.service_name}),
            id_generator=self.ids,
        )
        ratio = self.config.export_sample_ratio
        for processor in processors:
            self.provider.add_span_processor(_sampled_processor(processor, ratio))
        if self.config.otlp_endpoint is not None:
            self.provider.add_span_processor(_sampled_processor(self._otlp(), ratio))
        self.stored = (
            StoredSpans(store, self.config.store_sample_ratio) if store is not None else None
        )
        redactor = Redactor(
            self.config.all_redact_keys(),
            [s.get_secret_value() for s in self.config.redact_values]
            + [h.get_secret_value() for h in self.config.otlp_headers.values()],
            self.config.max_attribute_length,
        )
        self.spans = RunSpans(
            self.provider.get_tracer("covey"),
            self.ids,
            redactor,
            capture_content=self.config.capture_content,
            on_end=self.stored.add if self.stored is not None else None,
        )
        self._task: asyncio.Task[None] | None = None

    def _otlp(self) -> SpanProcessor:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            from covey.spec.errors import ConfigurationError

            raise ConfigurationError(
                "otlp_endpoint needs the OTLP exporter: pip install 'covey-otel[otlp]'"
            ) from None
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        headers = {k: v.get_secret_value() for k, v in self.config.otlp_headers.items()}
        exporter = OTLPSpanExporter(
            endpoint=self.config.otlp_endpoint, headers=headers, timeout=self.config.otlp_timeout
        )
        return BatchSpanProcessor(exporter)

    @property
    def exporting(self) -> bool:
        """Whether spans leave the process (an OTLP endpoint is configured)."""
        return self.config.otlp_endpoint is not None

    def install(self) -> None:
        """Start tracing every run (`covey.core.observe`)."""
        from covey.core.observe import add_observer

        add_observer(self.spans)

    def uninstall(self) -> None:
        """Stop tracing new events (open spans stay open until `shutdown`)."""
        from covey.core.observe import remove_observer

        remove_observer(self.spans)

    def force_flush(self) -> bool:
        """Hand every ended span to the exporters now (blocks until they are sent)."""
        return self.provider.force_flush()

    def shutdown(self) -> None:
        """Stop tracing, send what is queued, and close the exporters."""
        self.uninstall()
        self.provider.shutdown()

    async def flush_stored(self) -> None:
        """Write the spans queued for the store now (a reader after it sees every span of the
        runs that ended before the call)."""
        if self.stored is not None:
            await self.stored.flush()

    async def flush(self) -> None:
        """Store queued spans and send queued exports now (the export in a worker thread)."""
        if self.stored is not None:
            await self.stored.flush()
        await asyncio.to_thread(self.provider.force_flush)

    async def __aenter__(self) -> Self:
        self.install()
        if self.stored is not None:
            self._task = asyncio.create_task(self.stored.run(), name="covey-otel-store")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstall()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.stored is not None:
            await self.stored.flush()
        await asyncio.to_thread(self.provider.shutdown)
