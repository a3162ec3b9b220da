"""Trace ids from run ids, so a run's trace is found by its run id, in any process (no SDK
import here: the runtime's `/v1/traces` uses it)."""

from __future__ import annotations

import hashlib

__all__ = ["sampled", "trace_id_for_run"]

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
