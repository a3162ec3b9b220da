"""Agno's `Workflow` (v2 steps API), the counterpart of bench_workflows.py: a workflow of
`STEPS` function steps (sync, then async), one of `STEPS` agent steps on an in-process model
that answers at once (`Fixed`, the counterpart of Covey's FunctionModel), and one of `STEPS` agent steps (each a tool-calling run: two requests
to the fake OpenAI server) next to the same agent run alone. Runs in Agno's own venv; prints
one JSON object.

Run: `python workflow.py OPENAI_BASE_URL RUNS STEPS`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent import make_agent
from agno.agent import Agent
from agno.models.base import Model
from agno.models.response import ModelResponse
from agno.workflow import Step, Workflow
from agno.workflow.types import StepInput, StepOutput

sys.path.insert(0, str(Path(__file__).parent.parent))  # bench/: timing.py (standard library)
from timing import median_ms_async, paired_overhead_ms

PROMPT = "Weather in Paris?"


@dataclass
class Fixed(Model):
    """An in-process model that answers "ok" at once: Covey's FunctionModel counterpart."""

    id: str = "fixed"
    name: str = "Fixed"
    provider: str = "bench"

    def invoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return ModelResponse(role="assistant", content="ok")

    async def ainvoke(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return ModelResponse(role="assistant", content="ok")

    def invoke_stream(self, *args: Any, **kwargs: Any) -> Any:
        yield ModelResponse(role="assistant", content="ok")

    async def ainvoke_stream(self, *args: Any, **kwargs: Any) -> Any:
        yield ModelResponse(role="assistant", content="ok")

    def _parse_provider_response(self, response: Any, **kwargs: Any) -> ModelResponse:
        return response

    def _parse_provider_response_delta(self, response: Any) -> ModelResponse:
        return response


def add_one(step_input: StepInput) -> StepOutput:
    previous = step_input.previous_step_content
    return StepOutput(content=(previous if isinstance(previous, int) else 0) + 1)


async def add_one_async(step_input: StepInput) -> StepOutput:
    previous = step_input.previous_step_content
    return StepOutput(content=(previous if isinstance(previous, int) else 0) + 1)


def main() -> None:
    base_url, runs, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    functions = Workflow(
        name="functions",
        steps=[Step(name=f"add{i}", executor=add_one) for i in range(steps)],
        telemetry=False,
    )
    async_functions = Workflow(
        name="async_functions",
        steps=[Step(name=f"add{i}", executor=add_one_async) for i in range(steps)],
        telemetry=False,
    )
    agents = Workflow(
        name="agents",
        steps=[Step(name=f"agent{i}", agent=make_agent(base_url)) for i in range(steps)],
        telemetry=False,
    )
    alone = make_agent(base_url)
    fixed_agents = Workflow(
        name="fixed",
        steps=[
            Step(name=f"agent{i}", agent=Agent(model=Fixed(), telemetry=False))
            for i in range(steps)
        ],
        telemetry=False,
    )
    fixed_alone = Agent(model=Fixed(), telemetry=False)

    async def run_fixed_agents() -> None:
        result = await fixed_agents.arun(input=PROMPT)
        assert result.content == "ok", result.content

    async def run_fixed_alone() -> None:
        result = await fixed_alone.arun(PROMPT)
        assert result.content == "ok", result.content

    async def run_functions() -> None:
        result = await functions.arun(input=0)
        assert result.content == steps, result.content

    async def run_async_functions() -> None:
        result = await async_functions.arun(input=0)
        assert result.content == steps, result.content

    async def run_agents() -> None:
        result = await agents.arun(input=PROMPT)
        assert result.content == "It is sunny in Paris, 21 °C.", result.content

    async def run_alone() -> None:
        result = await alone.arun(PROMPT)
        assert result.content == "It is sunny in Paris, 21 °C.", result.content

    async def measure() -> dict[str, float]:
        out: dict[str, float] = {}
        out["functions"], out["functions_cpu"] = await median_ms_async(run_functions, runs=runs)
        out["async_functions"], out["async_functions_cpu"] = await median_ms_async(
            run_async_functions, runs=runs
        )
        out["alone"], out["alone_cpu"] = await median_ms_async(run_alone, runs=runs)
        out["overhead"], out["overhead_cpu"] = await paired_overhead_ms(
            run_alone, run_agents, parts=steps, runs=max(10, runs // 3)
        )
        out["fm_alone"], out["fm_alone_cpu"] = await median_ms_async(run_fixed_alone, runs=runs)
        out["fm_overhead"], out["fm_overhead_cpu"] = await paired_overhead_ms(
            run_fixed_alone, run_fixed_agents, parts=steps, runs=runs
        )
        return out

    print(json.dumps(asyncio.run(measure())))


if __name__ == "__main__":
    main()
