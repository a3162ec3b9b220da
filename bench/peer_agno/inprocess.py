"""Agno in process, the counterpart of bench_models.py: one tool-calling run (two requests to the
fake OpenAI server) through `arun` and `run`, and agent construction next to plain slotted
dataclasses with the same fields. Runs in Agno's own venv; prints one JSON object.

Run: `python inprocess.py OPENAI_BASE_URL RUNS`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from agent import INSTRUCTIONS, get_weather, make_agent
from agno.agent import Agent
from agno.models.openai import OpenAIChat

sys.path.insert(0, str(Path(__file__).parent.parent))  # bench/: timing.py (standard library)
from timing import median_ms, median_ms_async, median_us, plain_twin, retained_bytes

PROMPT = "Weather in Paris?"


def main() -> None:
    base_url, runs = sys.argv[1], int(sys.argv[2])
    async_agent = make_agent(base_url)
    sync_agent = make_agent(base_url)

    async def arun() -> None:
        result = await async_agent.arun(PROMPT)
        assert result.content == "It is sunny in Paris, 21 °C.", result.content

    def run() -> None:
        result = sync_agent.run(PROMPT)
        assert result.content == "It is sunny in Paris, 21 °C.", result.content

    async def timed_arun() -> tuple[float, float]:
        return await median_ms_async(arun, runs=runs)

    plain_model, plain_agent = plain_twin(OpenAIChat), plain_twin(Agent)

    def build() -> object:
        model = OpenAIChat(id="gpt-4.1", api_key="bench", base_url=base_url)
        return Agent(name="weather", model=model, tools=[get_weather], instructions=INSTRUCTIONS)

    def build_plain() -> object:
        model = plain_model(id="gpt-4.1", api_key="bench", base_url=base_url)
        return plain_agent(
            name="weather", model=model, tools=[get_weather], instructions=INSTRUCTIONS
        )

    out: dict[str, float] = {}
    out["arun"], out["arun_cpu"] = asyncio.run(timed_arun())
    out["run"], out["run_cpu"] = median_ms(run, runs=runs)
    out |= {
        "build_us": median_us(build, number=2000),
        "build_plain_us": median_us(build_plain, number=2000),
        "build_bytes": retained_bytes(build, count=2000),
        "build_plain_bytes": retained_bytes(build_plain, count=2000),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
