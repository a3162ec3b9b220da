"""Agent construction (time, retained memory) next to a plain slotted dataclass, and the
framework time of a run with one tool call and two model requests on `FunctionModel`."""

from __future__ import annotations

import dataclasses
import gc
import statistics
import time
import tracemalloc
from typing import Any

import anyio
from timing import fresh_import_ms, median_us

from covey.core import Agent
from covey.core.testing import FunctionModel, TestModel
from covey.spec import ModelResponse, TextPart, ToolCallPart

TITLE = "covey-core: construction, run overhead, import"
HEADER = ("measurement", "value", "floor", "ratio", "target")

PlainAgent = dataclasses.make_dataclass(
    "PlainAgent",
    [(f.name, Any, dataclasses.field(default=None)) for f in dataclasses.fields(Agent)],
    slots=True,
    frozen=True,
    kw_only=True,
)


def get_weather(city: str) -> str:
    """Weather for a city."""
    return "sunny"


def retained_bytes(make: Any, count: int = 20_000) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    keep = [make() for _ in range(count)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del keep
    return (after - before) / count


def script(messages: list[Any], info: Any) -> ModelResponse:
    if len(messages) == 1:
        return ModelResponse(
            parts=[ToolCallPart(tool_name="get_weather", args={"city": "Paris"}, tool_call_id="1")]
        )
    return ModelResponse(parts=[TextPart(content="It is sunny.")])


async def async_script(messages: list[Any], info: Any) -> ModelResponse:
    return script(messages, info)


async def async_get_weather(city: str) -> str:
    """Weather for a city."""
    return "sunny"


def run_overhead_us(*, sync: bool, runs: int = 300) -> tuple[float, float]:
    if sync:
        agent = Agent(model=FunctionModel(script), tools=[get_weather])
    else:
        agent = Agent(model=FunctionModel(async_script), tools=[async_get_weather])

    def call_model_only() -> None:
        script([None], None)
        script([None, None, None], None)

    async def main() -> list[float]:
        await agent.run("warm up")
        samples: list[float] = []
        for _ in range(runs):
            t = time.perf_counter()
            await agent.run("Weather in Paris?")
            samples.append((time.perf_counter() - t) * 1e6)
        return samples

    samples = anyio.run(main)
    return statistics.median(samples), median_us(call_model_only, number=2000)


def run() -> list[tuple[str, ...]]:
    model = TestModel()
    agent_us = median_us(lambda: Agent(model=model, tools=[get_weather]), number=20_000)
    plain_us = median_us(lambda: PlainAgent(model=model, tools=[get_weather]), number=20_000)
    agent_b = retained_bytes(lambda: Agent(model=model, tools=[get_weather]))
    plain_b = retained_bytes(lambda: PlainAgent(model=model, tools=[get_weather]))
    run_us, model_us = run_overhead_us(sync=True)
    async_us, _ = run_overhead_us(sync=False)
    floor_ms = fresh_import_ms("import pydantic, anyio")
    basemodel_ms = fresh_import_ms("from pydantic import BaseModel; import anyio")
    core_ms = fresh_import_ms("import covey.core")
    agent_ms = fresh_import_ms("from covey.core import Agent")
    return [
        (
            "Agent(model=m, tools=[fn]) µs",
            f"{agent_us:.2f}",
            f"{plain_us:.2f}",
            f"{agent_us / plain_us:.2f}×",
            "< 3×",
        ),
        (
            "retained bytes per Agent",
            f"{agent_b:.0f}",
            f"{plain_b:.0f}",
            f"{agent_b / plain_b:.2f}×",
            "< 1024 B",
        ),
        (
            "run: 1 tool call, 2 requests, sync fns (µs)",
            f"{run_us:.0f}",
            f"{model_us:.1f} (model fn)",
            "-",
            "3 worker-thread hops included",
        ),
        (
            "run: 1 tool call, 2 requests, async fns (µs)",
            f"{async_us:.0f}",
            f"{model_us:.1f} (model fn)",
            "-",
            "framework time",
        ),
        (
            "import covey.core (ms)",
            f"{core_ms:.1f}",
            f"{floor_ms:.1f}",
            f"{core_ms / floor_ms:.2f}×",
            "< 2×",
        ),
        (
            "from covey.core import Agent (ms)",
            f"{agent_ms:.1f}",
            f"{floor_ms:.1f} / {basemodel_ms:.1f}",
            f"{agent_ms / floor_ms:.2f}× / {agent_ms / basemodel_ms:.2f}×",
            "floor: pydantic+anyio / +BaseModel",
        ),
    ]
