"""Performance: latency and peak Python memory over repeated runs.

Runs are sequential (a concurrent run would show in another's latency and memory peak).
Memory is `tracemalloc`'s peak of Python allocations during one run: reproducible and
independent of the allocator's caching, unlike RSS, but blind to memory native libraries
allocate themselves.
"""

from __future__ import annotations

import math
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from covey.evals.report import LatencyStats, PerformanceStats
from covey.spec.runs import RunResult, RunStatus

__all__ = ["measure", "percentile"]

_MIB = 1024 * 1024


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile `q` (0-100) of non-empty `values`."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


async def measure(
    run: Callable[[str], Awaitable[RunResult[Any]]],
    inputs: Sequence[str],
    *,
    runs: int,
    warmup: int,
    memory: bool,
) -> PerformanceStats:
    """Run each input `warmup` times unmeasured, then `runs` times measured."""
    for _ in range(warmup):
        for text in inputs:
            await run(text)
    latencies: list[float] = []
    peaks: list[float] = []
    failed = 0
    started_tracing = memory and not tracemalloc.is_tracing()
    if started_tracing:
        tracemalloc.start()
    try:
        for _ in range(runs):
            for text in inputs:
                base = 0
                if memory:
                    tracemalloc.reset_peak()
                    base = tracemalloc.get_traced_memory()[0]
                begin = time.perf_counter()
                result = await run(text)
                latencies.append(time.perf_counter() - begin)
                if memory:
                    peak = tracemalloc.get_traced_memory()[1]
                    peaks.append(max(0, peak - base) / _MIB)
                if result.status is not RunStatus.COMPLETED:
                    failed += 1
    finally:
        if started_tracing:
            tracemalloc.stop()
    return PerformanceStats(
        runs=len(latencies),
        failed_runs=failed,
        latency=LatencyStats(
            mean=sum(latencies) / len(latencies),
            p50=percentile(latencies, 50),
            p95=percentile(latencies, 95),
            min=min(latencies),
            max=max(latencies),
        ),
        memory_peak_mb=max(peaks) if peaks else None,
        memory_mean_mb=sum(peaks) / len(peaks) if peaks else None,
    )
