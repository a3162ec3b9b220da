"""Teams: the framework's overhead per delegated member call, over the model's own time.

A coordinate team whose leader delegates to its one member N times (N leader turns that call
the delegation tool, N member runs, then the leader's answer), against the same team answering
at once: per delegation = (T(N) − T(0)) / N. Rows:

- on `FunctionModel` (Covey only): pure framework time, the model functions cost ~nothing;
- on the loopback fake OpenAI server (bench/runtime/fake_team_openai.py, its own process on the
  other core), side by side with Agno's `Team` in its own venv, and the floor: the two requests
  a delegation makes (leader turn + member answer) as bare `httpx` posts. "over the floor" is
  what each framework adds to those two requests.

Medians of `RUNS` runs, wall and this process's CPU time; ratios are of CPU time.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from typing import Any

from peers import agno_python, peer_env
from procs import HERE, cores, fake_openai, pinned
from timing import median_ms_async

TITLE = "Teams: overhead per delegated member call (coordinate, 1 member, N delegations)"
HEADER = ("measurement", "Covey wall / CPU ms", "Agno wall / CPU ms", "Covey ÷ Agno (CPU)")
RUNS = int(os.environ.get("COVEY_BENCH_TEAM_RUNS", "60"))
DELEGATIONS = 5
FINAL_TEXT = "All delegations done."
NOTE = (
    "over the floor: CPU only — loopback wall time varies with the client (a bare httpx post "
    "to uvicorn waits ~40 ms for a delayed ACK on some machines), CPU time does not"
)


def _prompt(count: int) -> str:
    return f"Please delegate {count} times."


def _covey_function_model() -> dict[str, float]:
    from covey.core import Agent, Team
    from covey.core.testing import AgentInfo, FunctionModel
    from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart

    async def lead(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        done = sum(
            isinstance(p, ToolReturnPart)
            for m in messages
            if isinstance(m, ModelRequest)
            for p in m.parts
        )
        wanted = int(str(messages[0].parts[-1].content).split()[2])  # type: ignore[union-attr]
        if done >= wanted:
            return ModelResponse(parts=[TextPart(content=FINAL_TEXT)])
        args = {"member": "worker", "task": "Say done."}
        return ModelResponse(
            parts=[ToolCallPart(tool_name="delegate_task", args=args, tool_call_id=f"c{done}")]
        )

    async def work(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[TextPart(content="done")])

    worker = Agent(name="worker", description="Does what it is asked.", model=FunctionModel(work))
    team = Team(name="desk", members=[worker], model=FunctionModel(lead))
    return asyncio.run(_measure(team))


async def _measure(team: Any) -> dict[str, float]:
    def runner(count: int) -> Any:
        async def run() -> None:
            result = await team.run(_prompt(count))
            assert result.output == FINAL_TEXT, (result.status, result.error)

        return run

    out: dict[str, float] = {}
    out["zero"], out["zero_cpu"] = await median_ms_async(runner(0), runs=RUNS)
    out["many"], out["many_cpu"] = await median_ms_async(runner(DELEGATIONS), runs=RUNS)
    return out


def _covey_openai(base_url: str) -> dict[str, float]:
    import httpx

    from covey.core import Agent, Team
    from covey.models.openai import OpenAIChatModel

    def model() -> OpenAIChatModel:
        return OpenAIChatModel("gpt-4.1", api_key="bench", base_url=base_url)

    worker = Agent(name="worker", description="Does what it is asked.", model=model())
    team = Team(name="desk", members=[worker], model=model())

    async def measure() -> dict[str, float]:
        out = await _measure(team)
        client = httpx.AsyncClient(timeout=30)
        url = base_url + "/chat/completions"
        tool = {
            "type": "function",
            "function": {
                "name": "delegate_task",
                "parameters": {"type": "object", "properties": {}},
            },
        }

        async def two_posts() -> None:
            leader = {
                "model": "gpt-4.1",
                "messages": [{"role": "user", "content": _prompt(1)}],
                "tools": [tool],
            }
            (await client.post(url, json=leader)).json()
            member = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "Say done."}]}
            (await client.post(url, json=member)).json()

        out["floor"], out["floor_cpu"] = await median_ms_async(two_posts, runs=RUNS)
        await client.aclose()
        return out

    return asyncio.run(measure())


def _agno(python: Any, base_url: str, core: int | None) -> dict[str, float]:
    command = [
        str(python),
        str(HERE / "peer_agno" / "team.py"),
        base_url,
        str(RUNS),
        str(DELEGATIONS),
    ]
    if core is not None:
        command = ["taskset", "-c", str(core), *command]
    done = subprocess.run(
        command, env=peer_env(), capture_output=True, text=True, check=False, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(f"Agno team bench failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _per_delegation(m: dict[str, float]) -> tuple[float, float]:
    return (
        (m["many"] - m["zero"]) / DELEGATIONS,
        (m["many_cpu"] - m["zero_cpu"]) / DELEGATIONS,
    )


def run() -> list[tuple[str, ...]]:
    import importlib.util

    load_core, server_core = cores()
    with pinned(load_core):
        fn = _covey_function_model()
    fn_wall, fn_cpu = _per_delegation(fn)
    rows: list[tuple[str, ...]] = [
        (
            "per delegation, FunctionModel (framework only)",
            f"{fn_wall:.3f} / {fn_cpu:.3f}",
            "-",
            "-",
        )
    ]
    if importlib.util.find_spec("covey.models.openai") is None:
        rows.append(("covey-models-openai not installed", "-", "-", "-"))
        return rows
    agno = agno_python()
    covey_runs: list[dict[str, float]] = []
    agno_runs: list[dict[str, float]] = []
    with fake_openai(server_core, "fake_team_openai.py") as base_url:
        for _ in range(2):
            with pinned(load_core):
                covey_runs.append(_covey_openai(base_url))
            if not isinstance(agno, str):
                agno_runs.append(_agno(agno, base_url, load_core))
    c = {k: min(r[k] for r in covey_runs) for k in covey_runs[0]}
    a = {k: min(r[k] for r in agno_runs) for k in agno_runs[0]} if agno_runs else {}
    c_wall, c_cpu = _per_delegation(c)
    floor_wall, floor_cpu = c["floor"], c["floor_cpu"]
    if a:
        a_wall, a_cpu = _per_delegation(a)
        agno_cell = f"{a_wall:.2f} / {a_cpu:.2f}"
        agno_over = f"- / {a_cpu - floor_cpu:.2f}"
        ratio = f"{c_cpu / a_cpu:.2f}"
        ratio_over = f"{(c_cpu - floor_cpu) / (a_cpu - floor_cpu):.2f}"
    else:
        agno_cell = agno_over = ratio = ratio_over = f"- ({agno})"
    rows += [
        (
            "floor: the delegation's 2 requests as httpx posts",
            f"{floor_wall:.2f} / {floor_cpu:.2f}",
            "-",
            "-",
        ),
        ("per delegation, loopback fake OpenAI", f"{c_wall:.2f} / {c_cpu:.2f}", agno_cell, ratio),
        (
            "per delegation over the floor (framework)",
            f"- / {c_cpu - floor_cpu:.2f}",
            agno_over,
            ratio_over,
        ),
        (
            "whole team run, 0 delegations (1 request)",
            f"{c['zero']:.2f} / {c['zero_cpu']:.2f}",
            f"{a['zero']:.2f} / {a['zero_cpu']:.2f}" if a else "-",
            f"{c['zero_cpu'] / a['zero_cpu']:.2f}" if a else "-",
        ),
    ]
    return rows
