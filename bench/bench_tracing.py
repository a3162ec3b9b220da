"""Tracing overhead per run: the same run (one tool call, two model requests) with covey-otel
off, on with spans dropped, on with spans kept in a store, and on with content captured (and
redacted). CPU time per run is what tracing adds to a server's load."""

from __future__ import annotations

import statistics
import time
from typing import Any

import anyio

from covey.core import Agent
from covey.core.testing import FunctionModel
from covey.spec import ModelResponse, TextPart, ToolCallPart

TITLE = "covey-otel: tracing overhead per run"
HEADER = ("configuration", "CPU µs/run", "wall µs/run", "added CPU µs", "spans/run")
NOTE = "median of 400 runs after 50 warm-up runs; async model and tool, in-memory store"

RUNS = 400


async def _model(messages: list[Any], info: Any) -> ModelResponse:
    if len(messages) == 1:
        return ModelResponse(
            parts=[ToolCallPart(tool_name="get_weather", args={"city": "Paris"}, tool_call_id="1")],
            finish_reason="tool_calls",
        )
    return ModelResponse(parts=[TextPart(content="It is sunny.")], finish_reason="stop")


async def get_weather(city: str) -> str:
    """Weather for a city."""
    return "sunny"


def _measure(mode: str) -> tuple[float, float, float]:
    from covey.db.memory import MemoryStore
    from covey.otel import Tracing, TracingConfig

    agent = Agent(name="weather", model=FunctionModel(_model), tools=[get_weather])

    async def main() -> tuple[float, float, float]:
        store = MemoryStore()
        tracing = None
        if mode != "off":
            tracing = Tracing(
                TracingConfig(capture_content=mode == "store+content"),
                store=store if mode.startswith("store") else None,
            )
            await tracing.__aenter__()
        cpu: list[float] = []
        wall: list[float] = []
        try:
            for i in range(RUNS + 50):
                t, c = time.perf_counter(), time.process_time()
                await agent.run("Weather in Paris?")
                if tracing is not None:
                    await tracing.flush_stored()  # the store write counts too
                if i >= 50:
                    cpu.append((time.process_time() - c) * 1e6)
                    wall.append((time.perf_counter() - t) * 1e6)
        finally:
            if tracing is not None:
                await tracing.__aexit__(None, None, None)
        written = tracing.stored.written if tracing and tracing.stored else 0
        return statistics.median(cpu), statistics.median(wall), written / (RUNS + 50)

    return anyio.run(main)


def run() -> list[tuple[str, ...]]:
    try:
        import covey.otel  # noqa: F401
    except ImportError:
        return [("covey-otel not installed", "-", "-", "-", "-")]
    rows: list[tuple[str, ...]] = []
    base_cpu = 0.0
    for mode in ("off", "on, spans dropped", "store", "store+content"):
        cpu, wall, spans = _measure("on" if mode.startswith("on") else mode)
        if mode == "off":
            base_cpu = cpu
        rows.append(
            (
                mode,
                f"{cpu:.0f}",
                f"{wall:.0f}",
                "-" if mode == "off" else f"{cpu - base_cpu:+.0f}",
                f"{spans:.1f}" if spans else "-",
            )
        )
    return rows
