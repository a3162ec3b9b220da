"""Trace ids from run ids, so a run's trace is found by its run id, in any process."""

from __future__ import annotations

import hashlib
import threading

from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator

__all__ = ["RunIds", "sampled", "trace_id_for_run"]

_HEX = frozenset("0123456789abcdef")


def trace_id_for_run(run_id: str) -> int:
    """The trace id of a root run: its id when that is 32 hex digits (Covey's own ids), else
    the first 128 bits of its SHA-256, never 0."""
    lowered = run_id.lower()
    if len(lowered) == 32 and set(lowered) <= _HEX and int(lowered, 16):
        return int(lowered, 16)
    value = int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:16], "big")
    return value or 1


def sampled(trace_id: int, ratio: float) -> bool:
    """Whether a trace falls in `ratio`, by its low 64 bits (as OTel's `TraceIdRatioBased`), so
    every process decides alike."""
    if ratio >= 1.0:
        return True
    if ratio <= 0.0:
        return False
    return (trace_id & 0xFFFF_FFFF_FFFF_FFFF) < int(ratio * (1 << 64))


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
