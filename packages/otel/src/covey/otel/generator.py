"""`RunIds`: the id generator that names a root run's trace after the run."""

from __future__ import annotations

import threading

from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

__all__ = ["RunIds"]


class RunIds(IdGenerator):
    """Random span ids; the next root span's trace id is the one `use_trace_id` set (per
    thread), so a root run's span lands in the trace named after the run."""

    def __init__(self) -> None:
        self._random = RandomIdGenerator()
        self._next = threading.local()

    def use_trace_id(self, trace_id: int) -> None:
        self._next.trace_id = trace_id

    def generate_span_id(self) -> int:
        return self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        trace_id: int | None = getattr(self._next, "trace_id", None)
        if trace_id is None:
            return self._random.generate_trace_id()
        self._next.trace_id = None
        return trace_id
