"""Small measuring helpers shared by the bench sections."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable


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
