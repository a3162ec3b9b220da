"""Latency and memory over repeated runs of a real agent."""

from __future__ import annotations

import tracemalloc

from covey.core import Agent
from covey.core.testing import FunctionModel
from covey.evals import parse_suite, run_suite
from covey.evals.performance import percentile
from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart
from covey.spec.messages import ToolReturnPart

MIB = 1024 * 1024


def crunch(megabytes: int) -> str:
    """Allocate and touch `megabytes` MiB, as a heavy tool would.

    Args:
        megabytes: How much.
    """
    block = bytearray(megabytes * MIB)
    return f"{len(block)} bytes"


def heavy_model(messages: list[ModelRequest | ModelResponse], info: object) -> ModelResponse:
    last = messages[-1]
    if isinstance(last, ModelRequest) and any(isinstance(p, ToolReturnPart) for p in last.parts):
        return ModelResponse(parts=[TextPart(content="done")])
    call = ToolCallPart(tool_name="crunch", args={"megabytes": 8}, tool_call_id="c")
    return ModelResponse(parts=[call])


def heavy_agent() -> Agent[None, str]:
    return Agent(name="heavy", model=FunctionModel(heavy_model), tools=[crunch])


def suite(**thresholds: float) -> dict[str, object]:
    return {
        "name": "perf",
        "performance": {"runs": 3, "warmup": 1},
        "thresholds": thresholds,
        "cases": [{"id": "a", "input": "go"}, {"id": "b", "input": "again"}],
    }


async def test_runs_are_measured_and_a_memory_hungry_run_trips_the_memory_threshold() -> None:
    report = await run_suite(parse_suite(suite(memory_mb=4, latency_p95=3600)), heavy_agent())
    perf = report.performance
    assert perf is not None
    assert perf.runs == 6 and perf.failed_runs == 0  # 3 runs of each of 2 inputs
    assert 0 < perf.latency.min <= perf.latency.p50 <= perf.latency.p95 <= perf.latency.max
    assert perf.memory_peak_mb is not None and perf.memory_peak_mb >= 8
    checks = {c.name: c for c in report.thresholds}
    assert not checks["memory_mb"].passed and checks["latency_p95"].passed
    assert not report.passed
    assert not tracemalloc.is_tracing()  # tracing is stopped again


async def test_a_latency_budget_no_run_can_meet_fails() -> None:
    report = await run_suite(parse_suite(suite(latency_p95=1e-9)), heavy_agent())
    (check,) = report.thresholds
    assert check.name == "latency_p95" and not check.passed
    assert report.performance is not None and check.value == report.performance.latency.p95


async def test_a_threshold_on_something_not_measured_fails() -> None:
    data = suite(latency_p95=10)
    data["performance"] = {"runs": 0}
    report = await run_suite(parse_suite(data), heavy_agent())
    (check,) = report.thresholds
    assert check.value is None and not check.passed and not report.passed


async def test_memory_tracing_can_be_left_off() -> None:
    data = suite()
    data["performance"] = {"runs": 1, "warmup": 0, "memory": False}
    report = await run_suite(parse_suite(data), heavy_agent())
    assert report.performance is not None and report.performance.memory_peak_mb is None
    assert report.performance.runs == 2


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 95) == 95
    assert percentile(values, 50) == 50
    assert percentile([3.0], 95) == 3
