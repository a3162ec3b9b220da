"""Metrics and cost: what the `/metrics` run observer adds to a run, what a scrape costs as the
series grow, and what pricing a model request and a stored run costs.

In process, on `FunctionModel` (one tool call, two priced model requests per run), so the
numbers are the framework's own; the scrape is `RunMetrics.render_now` (what `/metrics` runs in
a worker thread), measured after the runs of 10 agents with 20 tools each.
"""

from __future__ import annotations

from typing import Any

import anyio
from timing import median_ms, median_ms_async, median_us

from covey.core import Agent
from covey.core.testing import FunctionModel
from covey.runtime.costs import price, run_cost, warm_prices
from covey.runtime.metrics import RunMetrics
from covey.spec import ModelResponse, TextPart, ToolCallPart
from covey.spec.store import Run
from covey.spec.usage import Usage

TITLE = "metrics and cost: observer overhead, scrape, pricing"
HEADER = ("measurement", "wall", "cpu", "note")

_USAGE = Usage(input_tokens=1000, output_tokens=200, requests=1)


def _script(tool: str) -> Any:
    def script(messages: list[Any], info: Any) -> ModelResponse:
        if len(messages) == 1:
            part: Any = ToolCallPart(tool_name=tool, args={"city": "Paris"}, tool_call_id="c1")
        else:
            part = TextPart(content="sunny")
        return ModelResponse(
            parts=[part], model_name="gpt-4o", provider_name="openai", usage=_USAGE
        )

    return script


def _agents(count: int, tools: int) -> list[Agent[Any, Any]]:
    agents: list[Agent[Any, Any]] = []
    for a in range(count):
        funcs = []
        for t in range(tools):

            def weather(city: str) -> str:
                """Weather for a city."""
                return "sunny"

            weather.__name__ = f"tool_{t}"
            funcs.append(weather)
        agents.append(
            Agent(
                name=f"agent_{a}",
                model=FunctionModel(_script(f"tool_{a % tools}"), model_name="gpt-4o"),
                tools=funcs,
            )
        )
    return agents


async def _measure() -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    agent = _agents(1, 1)[0]

    async def one() -> None:
        await agent.run("Weather in Paris?")

    # Off, on, off again: the two "off" medians bracket the "on" one, so drift shows.
    before = await median_ms_async(one, runs=300)
    metrics = RunMetrics()
    async with metrics.running(warm=False):
        on = await median_ms_async(one, runs=300)
    after = await median_ms_async(one, runs=300)
    off = ((before[0] + after[0]) / 2, (before[1] + after[1]) / 2)
    rows.append(("run, observer off", f"{off[0]:.3f} ms", f"{off[1]:.3f} ms", "2 model requests"))
    rows.append(("run, /metrics observer on", f"{on[0]:.3f} ms", f"{on[1]:.3f} ms", ""))
    rows.append(
        (
            "observer overhead per run",
            f"{on[0] - off[0]:+.3f} ms",
            f"{on[1] - off[1]:+.3f} ms",
            "pricing deferred to the scrape",
        )
    )

    metrics = RunMetrics()
    agents = _agents(10, 20)
    async with metrics.running(warm=False):
        for _ in range(20):
            for a in agents:
                await a.run("Weather in Paris?")
    text = metrics.render_now()
    series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    scrape = median_ms(metrics.render_now, runs=50, warm=3)
    rows.append(
        (
            "scrape (render_now)",
            f"{scrape[0]:.3f} ms",
            f"{scrape[1]:.3f} ms",
            f"{series} samples, {len(text) / 1024:.0f} KiB, 200 runs seen",
        )
    )
    return rows


def run() -> list[tuple[str, ...]]:
    rows = anyio.run(_measure)
    warm_prices()
    per_request = median_us(lambda: price("gpt-4o", "openai", _USAGE, None), number=500)
    rows.append(("price one request", f"{per_request:.1f} us", "", "genai-prices, cached table"))
    response = ModelResponse(
        parts=[TextPart(content="x")], model_name="gpt-4o", provider_name="openai", usage=_USAGE
    )
    stored = [Run(messages=[response, response]) for _ in range(1000)]
    cost = median_ms(lambda: run_cost(stored), runs=5, warm=1)
    rows.append(
        ("cost of 1000 stored runs", f"{cost[0]:.1f} ms", f"{cost[1]:.1f} ms", "/v1/costs work")
    )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
