"""Small measuring helpers shared by the bench sections; standard library only, so the peers'
scripts (in their own venvs) use them too."""

from __future__ import annotations

import dataclasses
import gc
import inspect
import math
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any


def fresh_import_ms(statement: str, runs: int = 7) -> float:
    """Median wall time (ms) of `statement` in fresh interpreters, interpreter start excluded."""
    code = (
        "import time; t = time.perf_counter(); "
        f"{statement}; print((time.perf_counter() - t) * 1000)"
    )
    samples = [
        float(subprocess.check_output([sys.executable, "-c", code], text=True).strip())
        for _ in range(runs)
    ]
    return statistics.median(samples)


def median_us(fn: Callable[[], object], *, number: int = 1000, repeat: int = 7) -> float:
    """Median microseconds per call of `fn` over `repeat` batches of `number` calls."""
    samples: list[float] = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t) / number * 1e6)
    return statistics.median(samples)


def median_ms(fn: Callable[[], object], *, runs: int, warm: int = 10) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (all threads), in ms, of one call of
    `fn` over `runs` calls after `warm` unmeasured. CPU time is what a busy machine disturbs
    least: waiting for a core is wall time, not CPU time."""
    for _ in range(warm):
        fn()
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
    return statistics.median(wall), statistics.median(cpu)


async def median_ms_async(
    fn: Callable[[], Awaitable[object]], *, runs: int, warm: int = 10
) -> tuple[float, float]:
    """`median_ms` for a coroutine function, awaited in the running loop."""
    for _ in range(warm):
        await fn()
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        await fn()
        cpu.append((time.process_time() - c) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
    return statistics.median(wall), statistics.median(cpu)


async def paired_overhead_ms(
    part: Callable[[], Awaitable[object]],
    whole: Callable[[], Awaitable[object]],
    *,
    parts: int,
    runs: int,
    warm: int = 3,
) -> tuple[float, float]:
    """What `whole` costs beyond `parts` runs of `part`, per part: median wall and CPU ms of
    `(whole - parts x part) / parts`, each sample measured back to back so drift cancels."""
    for _ in range(warm):
        await part()
        await whole()
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(parts):
            await part()
        t1, c1 = time.perf_counter(), time.process_time()
        await whole()
        t2, c2 = time.perf_counter(), time.process_time()
        wall.append(((t2 - t1) - (t1 - t0)) / parts * 1000)
        cpu.append(((c2 - c1) - (c1 - c0)) / parts * 1000)
    return statistics.median(wall), statistics.median(cpu)


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p99) of `samples`, nearest rank."""
    ordered = sorted(samples)

    def nearest_rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

    return nearest_rank(0.50), nearest_rank(0.99)


def plain_twin(cls: type) -> type:
    """A plain slotted dataclass with the same fields as `cls` (its dataclass fields, or
    its constructor's parameters): the floor for constructing `cls`."""
    if dataclasses.is_dataclass(cls):
        names = [f.name for f in dataclasses.fields(cls)]
    else:
        parameters = inspect.signature(cls).parameters.values()
        names = [p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return dataclasses.make_dataclass(
        f"Plain{cls.__name__}",
        [(name, Any, dataclasses.field(default=None)) for name in names],
        slots=True,
        kw_only=True,
    )


def retained_bytes(make: Callable[[], object], count: int = 5_000) -> float:
    """Memory each object made by `make` keeps alive (tracemalloc), averaged over `count`."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    keep = [make() for _ in range(count)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del keep
    return (after - before) / count
