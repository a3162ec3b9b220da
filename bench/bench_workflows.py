"""Workflows, in process, side by side with Agno's `Workflow` (v2 steps API): the framework's
time per step.

- `STEPS` function steps (each adds one): time per step, nothing else in it; async functions
  (on the event loop on both sides), then sync ones (Covey runs them in a worker thread so a
  blocking step never stalls the loop — the hop is most of that row; Agno calls them on the
  loop).
- `STEPS` agent steps, each a tool-calling run (two requests to the loopback fake OpenAI server,
  in its own process on the other core): overhead per step = (the workflow − `STEPS` × the same
  agent run alone) ÷ `STEPS`, i.e. what the workflow adds around each agent run; each sample
  times the `STEPS` runs alone and the workflow back to back (`timing.paired_overhead_ms`).
- The same on an in-process model that answers at once, where the model's own time is nil
  (Covey's `FunctionModel`; for Agno a `Model` subclass, `Fixed` in `peer_agno/workflow.py`).
- Covey only: `STEPS` function steps kept durable in a `memory://` store (each finished step
  written before the next; Agno runs without a database here).

Each figure is the median of `RUNS` runs, wall and this process's CPU time; ratios are of CPU
time. Agno runs in its own venv (`peer_agno/workflow.py`); both sides alternate twice and the
better median of the two is kept.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from typing import Any

from peers import agno_python, peer_env
from procs import HERE, cores, fake_openai, pinned
from timing import median_ms_async, paired_overhead_ms

TITLE = "Workflows: framework time per step, Covey next to Agno's Workflow"
HEADER = ("measurement", "Covey wall / CPU", "Agno wall / CPU", "Covey ÷ Agno")
NOTE = (
    "on the fake OpenAI server the difference 'workflow - 10 runs alone' is below what the "
    "measurement resolves (it comes out negative on both sides: a run alone waits ~50 ms per "
    "request on this fake, runs inside a workflow less), so read the in-process model rows for "
    "the overhead of an agent step"
)
RUNS = int(os.environ.get("COVEY_BENCH_WORKFLOW_RUNS", "100"))
STEPS = 10
PROMPT = "Weather in Paris?"
FINAL = "It is sunny in Paris, 21 °C."


def _covey(base_url: str) -> dict[str, float]:
    from bench_models import get_weather

    from covey.core import Agent, Step, StepInput, Workflow
    from covey.core.testing import FunctionModel
    from covey.db.memory import MemoryStore
    from covey.models.openai import OpenAIChatModel
    from covey.spec import ModelRequest, ModelResponse, TextPart

    def add_one(step: StepInput[int]) -> int:
        return step.previous + 1

    async def add_one_async(step: StepInput[int]) -> int:
        return step.previous + 1

    def agent() -> Agent[Any, Any]:
        model = OpenAIChatModel("gpt-4.1", api_key="bench", base_url=base_url)
        return Agent(model=model, tools=[get_weather], instructions="Answer with the weather.")

    def answer(messages: list[ModelRequest | ModelResponse], info: Any) -> ModelResponse:
        return ModelResponse(parts=[TextPart(content="ok")])

    def function_agent() -> Agent[Any, Any]:
        return Agent(model=FunctionModel(answer))

    functions = Workflow(
        name="functions", steps=[Step(add_one, name=f"add{i}") for i in range(STEPS)]
    )
    async_functions = Workflow(
        name="async_functions",
        steps=[Step(add_one_async, name=f"add{i}") for i in range(STEPS)],
    )
    agents = Workflow(name="agents", steps=[Step(agent(), name=f"agent{i}") for i in range(STEPS)])
    alone = agent()
    fm_agents = Workflow(
        name="fm", steps=[Step(function_agent(), name=f"agent{i}") for i in range(STEPS)]
    )
    fm_alone = function_agent()
    store = MemoryStore()

    async def run_functions() -> None:
        assert (await functions.run(0)).output == STEPS

    async def run_async_functions() -> None:
        assert (await async_functions.run(0)).output == STEPS

    async def run_durable() -> None:
        assert (await async_functions.run(0, store=store)).output == STEPS

    async def run_agents() -> None:
        assert (await agents.run(PROMPT)).output == FINAL

    async def run_alone() -> None:
        assert (await alone.run(PROMPT)).output == FINAL

    async def run_fm_agents() -> None:
        assert (await fm_agents.run(PROMPT)).output == "ok"

    async def run_fm_alone() -> None:
        assert (await fm_alone.run(PROMPT)).output == "ok"

    async def measure() -> dict[str, float]:
        out: dict[str, float] = {}
        for key, fn in (
            ("functions", run_functions),
            ("async_functions", run_async_functions),
            ("durable", run_durable),
            ("alone", run_alone),
        ):
            out[key], out[f"{key}_cpu"] = await median_ms_async(fn, runs=RUNS)
        out["overhead"], out["overhead_cpu"] = await paired_overhead_ms(
            run_alone, run_agents, parts=STEPS, runs=max(10, RUNS // 3)
        )
        out["fm_alone"], out["fm_alone_cpu"] = await median_ms_async(run_fm_alone, runs=RUNS)
        out["fm_overhead"], out["fm_overhead_cpu"] = await paired_overhead_ms(
            run_fm_alone, run_fm_agents, parts=STEPS, runs=RUNS
        )
        return out

    return asyncio.run(measure())


def _agno(python: Any, base_url: str, core: int | None) -> dict[str, float]:
    command = [str(python), str(HERE / "peer_agno" / "workflow.py"), base_url, str(RUNS)]
    command.append(str(STEPS))
    if core is not None:
        command = ["taskset", "-c", str(core), *command]
    done = subprocess.run(
        command, env=peer_env(), capture_output=True, text=True, check=False, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(f"Agno workflow bench failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _best(samples: list[dict[str, float]]) -> dict[str, float]:
    return {key: min(s[key] for s in samples) for key in samples[0]}


def _per_step(out: dict[str, float], key: str) -> tuple[float, float]:
    return out[key] / STEPS, out[f"{key}_cpu"] / STEPS


def _row(
    name: str, covey: tuple[float, float], agno: tuple[float, float] | None, unit: str = "ms"
) -> tuple[str, ...]:
    scale = 1000.0 if unit == "µs" else 1.0
    c = f"{covey[0] * scale:.1f} / {covey[1] * scale:.1f} {unit}"
    if agno is None:
        return (name, c, "-", "-")
    a = f"{agno[0] * scale:.1f} / {agno[1] * scale:.1f} {unit}"
    ratio = f"{covey[1] / agno[1]:.2f}" if agno[1] > 0 else "-"
    return (name, c, a, ratio)


def run() -> list[tuple[str, ...]]:
    import importlib.util

    if importlib.util.find_spec("covey.models.openai") is None:
        return [("covey-models-openai not installed", "-", "-", "-")]
    agno = agno_python()
    load_core, server_core = cores()
    covey_runs: list[dict[str, float]] = []
    agno_runs: list[dict[str, float]] = []
    with fake_openai(server_core) as base_url:
        for _ in range(2):
            with pinned(load_core):
                covey_runs.append(_covey(base_url))
            if not isinstance(agno, str):
                agno_runs.append(_agno(agno, base_url, load_core))
    c = _best(covey_runs)
    a: dict[str, float] | None = _best(agno_runs) if agno_runs else None
    rows = [
        _row(
            f"async function step ({STEPS} in a workflow), per step",
            _per_step(c, "async_functions"),
            _per_step(a, "async_functions") if a else None,
            "µs",
        ),
        _row(
            "sync function step, per step (Covey: worker thread; Agno: on the loop)",
            _per_step(c, "functions"),
            _per_step(a, "functions") if a else None,
            "µs",
        ),
        _row(
            "  Covey: async function step, durable in memory://, per step",
            _per_step(c, "durable"),
            None,
            "µs",
        ),
        _row(
            "agent run alone, in-process model (Covey FunctionModel, Agno Fixed)",
            (c["fm_alone"], c["fm_alone_cpu"]),
            (a["fm_alone"], a["fm_alone_cpu"]) if a else None,
            "µs",
        ),
        _row(
            f"agent step, in-process model: workflow overhead per step ({STEPS} steps)",
            (c["fm_overhead"], c["fm_overhead_cpu"]),
            (a["fm_overhead"], a["fm_overhead_cpu"]) if a else None,
            "µs",
        ),
        _row(
            "agent run alone (tool call, 2 requests to the fake)",
            (c["alone"], c["alone_cpu"]),
            (a["alone"], a["alone_cpu"]) if a else None,
        ),
        _row(
            f"agent step: workflow overhead per step ({STEPS} steps − {STEPS} runs alone)",
            (c["overhead"], c["overhead_cpu"]),
            (a["overhead"], a["overhead_cpu"]) if a else None,
            "µs",
        ),
    ]
    if isinstance(agno, str):
        rows.append((f"Agno: {agno}", "-", "-", "-"))
    return rows
