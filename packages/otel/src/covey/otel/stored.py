"""`StoredSpans`: ended spans written to the Covey store in batches, off the run's path."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from covey.otel.ids import sampled
from covey.spec.store import Scope, SpanStatus, Store, TraceSpan

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["StoredSpans", "to_trace_span"]

log = logging.getLogger("covey.otel")

MAX_PENDING = 10_000
"""Spans waiting for the store at most; more are dropped (and counted) while it is slow."""

_STATUS: dict[str, SpanStatus] = {"UNSET": "unset", "OK": "ok", "ERROR": "error"}


def _time(ns: int | None) -> datetime | None:
    return None if ns is None else datetime.fromtimestamp(ns / 1_000_000_000, UTC)


def _value(value: object) -> Any:
    if isinstance(value, tuple):
        items: tuple[object, ...] = value  # pyright: ignore[reportUnknownVariableType]
        return list(items)
    return value


def to_trace_span(span: ReadableSpan, scope: Scope) -> TraceSpan:
    """The store's record of an ended SDK span (ids as OTel's hex: 32 and 16 digits)."""
    context = span.get_span_context()
    assert context is not None
    parent = span.parent
    attributes: Mapping[str, object] = span.attributes or {}
    events = [
        {
            "name": e.name,
            "time": _time(e.timestamp).isoformat() if _time(e.timestamp) else None,  # pyright: ignore[reportOptionalMemberAccess]
            "attributes": {k: _value(v) for k, v in (e.attributes or {}).items()},
        }
        for e in span.events
    ]
    data: dict[str, Any] = {k: _value(v) for k, v in attributes.items()}
    data["span.kind"] = span.kind.name.lower()
    if events:
        data["span.events"] = events
    return TraceSpan(
        trace_id=f"{context.trace_id:032x}",
        span_id=f"{context.span_id:016x}",
        parent_span_id=None if parent is None else f"{parent.span_id:016x}",
        name=span.name,
        start=_time(span.start_time) or datetime.now(UTC),
        end=_time(span.end_time),
        attributes=data,
        status=_STATUS.get(span.status.status_code.name, "unset"),
        status_message=span.status.description,
        user_id=scope.user_id,
    )


class StoredSpans:
    """Collects ended spans (in any thread) and writes them to `store` from `run()`'s task.

    Whether a trace is kept is decided by its trace id against `ratio`, so all spans of a trace
    are kept or none, in every process. A store error is logged (without the spans) and the
    batch dropped: tracing never fails a run.
    """

    def __init__(self, store: Store, ratio: float = 1.0) -> None:
        self._store = store
        self._ratio = ratio
        self._pending: list[tuple[ReadableSpan, Scope]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._writing: asyncio.Lock | None = None
        self.dropped = 0
        """Spans dropped because the queue was full or the store refused them."""
        self.written = 0
        """Spans written so far."""

    def add(self, span: ReadableSpan, scope: Scope) -> None:
        """Queue an ended span of a run in `scope` (cheap; called from the run observer)."""
        context = span.get_span_context()
        if context is None or not sampled(context.trace_id, self._ratio):
            return
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                self.dropped += 1
                return
            self._pending.append((span, scope))  # made a record in the writer, off the run
        self._signal()

    def _signal(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            wake.set()
        else:
            loop.call_soon_threadsafe(wake.set)

    async def flush(self) -> None:
        """Write every queued span now; returns once spans queued before the call are written
        (also those a concurrent flush took), so a reader after it sees them."""
        if self._writing is None:
            self._writing = asyncio.Lock()
        async with self._writing:
            await self._write()

    async def _write(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        groups: dict[Scope, list[TraceSpan]] = {}
        for span, scope in batch:
            groups.setdefault(scope, []).append(to_trace_span(span, scope))
        for scope, spans in groups.items():
            try:
                await self._store.add_spans(scope, spans)
                self.written += len(spans)
            except Exception as exc:
                self.dropped += len(spans)
                log.warning("could not store %d span(s): %s", len(spans), type(exc).__name__)

    async def run(self) -> None:
        """Write queued spans as they come, until cancelled (then write what is left)."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                await self.flush()
        finally:
            self._wake = None
            self._loop = None
