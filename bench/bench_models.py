"""In process, side by side with Agno: one run with one tool call (two requests to the loopback
fake OpenAI server, in its own process on the other core) through Covey's `Agent.run`,
`run_sync` in a loop and a persistent event loop, next to Agno's `arun` and `run` (in Agno's own
venv) and three floors making the same two requests: httpx, the official openai SDK, and the
SDK's low-level `client.post(..., cast_to=httpx2.Response)`. Then agent construction (the model
object + one tool) next to plain slotted dataclasses with the same fields.

Each figure is the median of `RUNS` runs, as wall time and as this process's CPU time (all its
threads); ratios are of CPU time, which a busy machine disturbs least. The Covey and Agno
measurements alternate twice and the better median of the two is kept.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from typing import Any

from peers import agno_python, peer_env
from procs import HERE, cores, fake_openai, pinned
from timing import median_ms, median_ms_async, median_us, plain_twin, retained_bytes

TITLE = "In process: a run with one tool call (2 requests, loopback fake in its own process)"
HEADER = ("measurement", "Covey wall / CPU", "Agno wall / CPU", "Covey ÷ Agno", "÷ httpx floor")
RUNS = int(os.environ.get("COVEY_BENCH_INPROCESS_RUNS", "150"))
PROMPT = "Weather in Paris?"
INSTRUCTIONS = "Answer with the weather."
TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: The city.
    """
    return f"sunny in {city}, 21 °C"


def _covey(base_url: str) -> dict[str, float]:
    import httpx
    import httpx2
    from openai import AsyncOpenAI

    from covey.core import Agent
    from covey.models.openai import OpenAIChatModel

    def agent() -> Agent[Any, Any]:
        model = OpenAIChatModel("gpt-4.1", api_key="bench", base_url=base_url)
        return Agent(model=model, tools=[get_weather], instructions=INSTRUCTIONS)

    url = base_url + "/chat/completions"

    def first_messages() -> list[dict[str, Any]]:
        return [
            {"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": PROMPT},
        ]

    def second_messages(messages: list[dict[str, Any]], message: dict[str, Any]) -> None:
        call = message["tool_calls"][0]
        messages.append(message)
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": "sunny"})

    async def measure_async() -> dict[str, float]:
        covey = agent()
        client = httpx.AsyncClient(timeout=30)
        sdk = AsyncOpenAI(api_key="bench", base_url=base_url, max_retries=0)

        async def run() -> None:
            result = await covey.run(PROMPT)
            assert result.output == "It is sunny in Paris, 21 °C.", result.output

        async def floor_httpx() -> None:
            messages = first_messages()
            body = {"model": "gpt-4.1", "messages": messages, "tools": [TOOL]}
            first = (await client.post(url, json=body)).json()
            second_messages(messages, first["choices"][0]["message"])
            (await client.post(url, json=body)).json()

        async def floor_sdk() -> None:
            messages: list[Any] = first_messages()
            first = await sdk.chat.completions.create(
                model="gpt-4.1", messages=messages, tools=[TOOL]
            )
            second_messages(messages, first.choices[0].message.model_dump(exclude_none=True))
            await sdk.chat.completions.create(model="gpt-4.1", messages=messages, tools=[TOOL])

        async def floor_sdk_raw() -> None:
            messages = first_messages()
            body = {"model": "gpt-4.1", "messages": messages, "tools": [TOOL]}
            first = await sdk.post("/chat/completions", body=body, cast_to=httpx2.Response)
            second_messages(messages, first.json()["choices"][0]["message"])
            await sdk.post("/chat/completions", body=body, cast_to=httpx2.Response)

        out: dict[str, float] = {}
        out["httpx"], out["httpx_cpu"] = await median_ms_async(floor_httpx, runs=RUNS)
        out["sdk"], out["sdk_cpu"] = await median_ms_async(floor_sdk, runs=RUNS)
        out["sdk_raw"], out["sdk_raw_cpu"] = await median_ms_async(floor_sdk_raw, runs=RUNS)
        out["async"], out["async_cpu"] = await median_ms_async(run, runs=RUNS)
        await client.aclose()
        await sdk.close()
        return out

    out = asyncio.run(measure_async())
    sync_agent, loop_agent = agent(), agent()
    out["run_sync"], out["run_sync_cpu"] = median_ms(lambda: sync_agent.run_sync(PROMPT), runs=RUNS)
    with asyncio.Runner() as runner:
        out["persistent"], out["persistent_cpu"] = median_ms(
            lambda: runner.run(loop_agent.run(PROMPT)), runs=RUNS
        )

    plain_model, plain_agent = plain_twin(OpenAIChatModel), plain_twin(Agent)

    def build() -> object:
        model = OpenAIChatModel("gpt-4.1", api_key="bench", base_url=base_url)
        return Agent(name="weather", model=model, tools=[get_weather], instructions=INSTRUCTIONS)

    def build_plain() -> object:
        model = plain_model(model_name="gpt-4.1", api_key="bench", base_url=base_url)
        return plain_agent(
            name="weather", model=model, tools=[get_weather], instructions=INSTRUCTIONS
        )

    out["build_us"] = median_us(build, number=2000)
    out["build_plain_us"] = median_us(build_plain, number=2000)
    out["build_bytes"] = retained_bytes(build, count=2000)
    out["build_plain_bytes"] = retained_bytes(build_plain, count=2000)
    return out


def _agno(python: Any, base_url: str, core: int | None) -> dict[str, float]:
    command = [str(python), str(HERE / "peer_agno" / "inprocess.py"), base_url, str(RUNS)]
    if core is not None:
        command = ["taskset", "-c", str(core), *command]
    done = subprocess.run(
        command, env=peer_env(), capture_output=True, text=True, check=False, timeout=900
    )
    if done.returncode != 0:
        raise RuntimeError(f"Agno in-process bench failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _best(samples: list[dict[str, float]]) -> dict[str, float]:
    return {key: min(s[key] for s in samples) for key in samples[0]}


def _row(
    name: str, c: dict[str, float], a: dict[str, float], key: str, agno_key: str | None
) -> tuple[str, ...]:
    """A timed row: wall and CPU ms for both; ratios of CPU time (what load disturbs least)."""
    cpu, floor = c[f"{key}_cpu"], c["httpx_cpu"]
    agno = f"{a[agno_key]:.2f} / {a[agno_key + '_cpu']:.2f}" if agno_key and a else "-"
    versus = f"{cpu / a[agno_key + '_cpu']:.2f}" if agno_key and a else "-"
    return (name, f"{c[key]:.2f} / {cpu:.2f}", agno, versus, f"{cpu / floor:.2f}")


def _build_row(
    name: str, c: dict[str, float], a: dict[str, float], key: str, unit: str
) -> tuple[str, ...]:
    agno = f"{a[key]:.1f} {unit}" if a else "-"
    versus = f"{c[key] / a[key]:.2f}" if a else "-"
    return (name, f"{c[key]:.1f} {unit}", agno, versus, "-")


def run() -> list[tuple[str, ...]]:
    import importlib.util

    if importlib.util.find_spec("covey.models.openai") is None:
        return [("covey-models-openai not installed", "-", "-", "-", "-")]
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
    a: dict[str, float] = _best(agno_runs) if agno_runs else {}
    rows = [
        _row("floor: httpx.AsyncClient, 2 posts", c, a, "httpx", None),
        _row("floor: openai SDK chat.completions.create", c, a, "sdk", None),
        _row("floor: openai SDK client.post(cast_to=Response)", c, a, "sdk_raw", None),
        _row("Covey await agent.run | Agno arun", c, a, "async", "arun"),
        _row("Covey agent.run_sync in a loop | Agno run", c, a, "run_sync", "run"),
        _row("Covey asyncio.Runner, one loop | Agno run", c, a, "persistent", "run"),
        _build_row("build model + Agent with 1 tool", c, a, "build_us", "µs"),
        _build_row("  plain slotted dataclasses, same fields", c, a, "build_plain_us", "µs"),
        _build_row("  retained per agent (with its model)", c, a, "build_bytes", "B"),
        _build_row("  retained, plain dataclasses", c, a, "build_plain_bytes", "B"),
    ]
    if isinstance(agno, str):
        rows.append((f"Agno: {agno}", "-", "-", "-", "-"))
    return rows
