"""User memory: what it costs the user of an agent run, Covey's `MemoryManager` next to Agno's.

Both sides run the same agent on the same loopback fake OpenAI server (`runtime/fake_openai.py`
with `--delay-ms`: every model answer is held `DELAY_MS`, a model's latency, so work done after
the answer shows apart from work done before it), with the same model for the agent and for the
memory manager, and SQLite files in a temp dir. The fake answers each memory manager with ONE
operation creating one memory ("The user lives in Lyon."), in the form each asks for: Covey's
`MemoryManager` asks for structured output named `save_memory_operations` (here a JSON-schema
`response_format`, as the gpt-4.1 profile says) and gets the operations in one answer; Agno's
`MemoryManager` offers `add_memory` / `update_memory` / `delete_memory` tools, gets one
`add_memory` call, runs it, and sends the tool's result back for a closing text. Every run has a
new user, so each manager sees an empty list and makes the same one memory.

- Covey (this process, load core): `Agent(model, store=SqlStore(sqlite file))`, memory off;
  `learning=MemoryManager(model, store=<same store>)` in background mode (the default: learning
  starts after the run's final event) and in foreground mode (`background=False`: before it).
  Time to the answer = from `run_stream` to its `run.completed` event; time until stored = to
  `wait_for_learning()` returning (background) or the same event (foreground); each run's
  memory is read back from the store after it is timed.
- Agno (its own venv `bench/.peers/agno-memory`, `peer_agno/memory.py`, load core): `Agent(model,
  db=SqliteDb(file))`, memory off, and with `memory_manager=MemoryManager(model, db=<same db>)`,
  `update_memory_on_run=True` (Agno 3.1.10's name for `enable_user_memories`). Agno starts its
  manager when the run starts (on the user's message) and awaits it before `arun` returns.
- Two agents: `chat` (no tools: one model request) and `tool` (one `get_weather` call: two
  requests), the configurations interleaved run by run; `RUNS` runs after `WARM` unmeasured.
- Model requests per run are counted at the fake server (read before and after each run); the
  fake also keeps the last memory request of each side, whose size and shape are printed.

`COVEY_BENCH_MEMORY_RUNS` and `COVEY_BENCH_MEMORY_DELAY_MS` change the count and the latency;
`--full` (or `COVEY_BENCH_FULL=1`) raises the count.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from peers import MEMORY, agno_python, peer_env
from procs import HERE, cores, fake_openai, pinned

TITLE = "User memory: latency the user sees and extra model calls, Covey next to Agno"
HEADER = ("measurement", "Covey", "Agno", "Covey ÷ Agno")
FULL = os.environ.get("COVEY_BENCH_FULL") == "1"
RUNS = int(os.environ.get("COVEY_BENCH_MEMORY_RUNS", "100" if FULL else "30"))
WARM = 3
DELAY_MS = float(os.environ.get("COVEY_BENCH_MEMORY_DELAY_MS", "20"))
PROMPT = "I live in Lyon. What is the weather in Paris?"
FINAL = "It is sunny in Paris, 21 °C."
MEMORY_TEXT = "The user lives in Lyon."
INSTRUCTIONS = "Answer with the weather."
WORKLOADS = ("chat", "tool")
NOTE = (
    "ms, p50 / p95 of {runs} runs each after {warm} unmeasured; every model answer held "
    "{delay:g} ms by the fake; answer = run start → final answer (Covey: run.completed event; "
    "Agno: arun returns); stored = run start → the memory is in SQLite (Covey background: "
    "wait_for_learning returns); extra = median(on) − median(off); requests counted at the "
    "fake server"
)


def _say(message: str) -> None:
    print(f"bench: memory: {message}", file=sys.stderr, flush=True)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


async def _requests(client: Any) -> dict[str, Any]:
    return (await client.get("/bench/requests")).json()


async def _covey(base_url: str, folder: str) -> dict[str, Any]:
    """Covey's runs: memory off, background, foreground; per workload."""
    import httpx
    from bench_models import get_weather

    from covey.core import Agent, wait_for_learning
    from covey.db.sql import SqlStore
    from covey.learn import MemoryManager
    from covey.models.openai import OpenAIChatModel
    from covey.spec import events as ev
    from covey.spec.store import Scope

    def model() -> OpenAIChatModel:
        return OpenAIChatModel("gpt-4.1", api_key="bench", base_url=base_url)

    out: dict[str, Any] = {}
    async with (
        SqlStore(f"sqlite:///{folder}/covey.db") as store,
        httpx.AsyncClient(base_url=base_url.removesuffix("/v1")) as client,
    ):
        for workload in WORKLOADS:
            tools = [get_weather] if workload == "tool" else []

            def agent(learning: Any, tools: list[Any] = tools) -> Agent[Any, Any]:
                return Agent(
                    model=model(),
                    tools=tools,
                    instructions=INSTRUCTIONS,
                    learning=learning,
                    store=store,
                )

            agents = {
                "off": agent(None),
                "background": agent(MemoryManager(model(), store=store)),
                "foreground": agent(MemoryManager(model(), store=store, background=False)),
            }
            samples: dict[str, dict[str, list[float]]] = {
                name: {"answer": [], "stored": [], "requests": [], "memory_requests": []}
                for name in agents
            }
            for i in range(WARM + RUNS):
                for name, one in agents.items():  # interleaved: drift hits every one alike
                    user = f"covey-{workload}-{name}-{i}"
                    before = await _requests(client)
                    answered: float | None = None
                    start = time.perf_counter()
                    async for event in one.run_stream(PROMPT, user_id=user, session_id=f"s-{user}"):
                        if isinstance(event, ev.RunCompleted):
                            answered = time.perf_counter() - start
                            assert event.result.output == FINAL, event.result.output
                    assert answered is not None, f"{name} run did not complete"
                    assert await wait_for_learning() == 0
                    stored = time.perf_counter() - start
                    after = await _requests(client)
                    memories = (await store.list_memories(Scope(user_id=user))).items
                    if name == "off":
                        assert not memories, memories
                    else:
                        assert [m.memory for m in memories] == [MEMORY_TEXT], memories
                    if i < WARM:
                        continue
                    sample = samples[name]
                    sample["answer"].append(answered * 1000)
                    if name != "off":
                        sample["stored"].append(
                            (stored if name == "background" else answered) * 1000
                        )
                    diff = {k: v - before["counts"].get(k, 0) for k, v in after["counts"].items()}
                    sample["requests"].append(sum(diff.values()))
                    sample["memory_requests"].append(
                        sum(v for k, v in diff.items() if k.startswith("covey-memory"))
                    )
            out[workload] = samples
        last = (await _requests(client))["last"]
        out["sent"] = {k: v for k, v in last.items() if k.startswith("covey")}
    return out


def _agno(python: Any, base_url: str, core: int | None) -> dict[str, Any]:
    config = {
        "openai_url": base_url,
        "runs": RUNS,
        "warm": WARM,
        "prompt": PROMPT,
        "final": FINAL,
        "workloads": list(WORKLOADS),
    }
    with tempfile.TemporaryDirectory(prefix="covey-bench-memory-") as tmp:
        path = Path(tmp) / "agno.json"
        path.write_text(json.dumps(config))
        command = [str(python), str(HERE / "peer_agno" / "memory.py"), str(path)]
        if core is not None:
            command = ["taskset", "-c", str(core), *command]
        done = subprocess.run(
            command, env=peer_env(), capture_output=True, text=True, check=False, timeout=1800
        )
    if done.returncode != 0:
        raise RuntimeError(f"Agno memory bench failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, round(0.95 * len(ordered)) - 1)]


def _pair(samples: list[float] | None) -> str:
    if not samples:
        return "-"
    p50, p95 = _p50_p95(samples)
    return f"{p50:.1f} / {p95:.1f}"


def _ratio(covey: list[float] | None, agno: list[float] | None) -> str:
    if not covey or not agno:
        return "-"
    return f"{statistics.median(covey) / statistics.median(agno):.2f}"


def _extra(side: dict[str, Any] | None, on: str) -> str:
    if side is None:
        return "-"
    extra = statistics.median(side[on]["answer"]) - statistics.median(side["off"]["answer"])
    return f"{extra:+.1f}"


def _per_run(side: dict[str, Any] | None, name: str, key: str) -> str:
    """Requests per run: the number when every run made the same, else min-max."""
    if side is None:
        return "-"
    values = side[name][key]
    low, high = min(values), max(values)
    return f"{low:g}" if low == high else f"{low:g}-{high:g}"


def _rows(covey: dict[str, Any] | None, agno: dict[str, Any] | None) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for workload in WORKLOADS:
        c = covey and covey[workload]
        a = agno and agno[workload]
        what = "no tools, 1 model request" if workload == "chat" else "1 tool call, 2 requests"
        label = f"{workload} ({what})"

        def get(side: dict[str, Any] | None, name: str, key: str) -> list[float] | None:
            return side[name][key] if side else None

        rows.append(
            (
                f"{label}: answer, memory off",
                _pair(get(c, "off", "answer")),
                _pair(get(a, "off", "answer")),
                _ratio(get(c, "off", "answer"), get(a, "off", "answer")),
            )
        )
        for mode in ("background", "foreground"):
            rows.append(
                (
                    f"{label}: answer, memory on (Covey {mode})",
                    _pair(get(c, mode, "answer")),
                    _pair(get(a, "on", "answer")),
                    _ratio(get(c, mode, "answer"), get(a, "on", "answer")),
                )
            )
            rows.append(
                (
                    f"{label}:   extra latency the user sees (Covey {mode})",
                    _extra(c, mode),
                    _extra(a, "on"),
                    "-",
                )
            )
            rows.append(
                (
                    f"{label}:   memory stored (Covey {mode})",
                    _pair(get(c, mode, "stored")),
                    _pair(get(a, "on", "stored")),
                    _ratio(get(c, mode, "stored"), get(a, "on", "stored")),
                )
            )
        rows.append(
            (
                f"{label}: model requests per run, off / on (memory model's)",
                f"{_per_run(c, 'off', 'requests')} / {_per_run(c, 'background', 'requests')} "
                f"({_per_run(c, 'background', 'memory_requests')})"
                if c
                else "-",
                f"{_per_run(a, 'off', 'requests')} / {_per_run(a, 'on', 'requests')} "
                f"({_per_run(a, 'on', 'memory_requests')})"
                if a
                else "-",
                "-",
            )
        )
    rows.append(
        (
            "memory model requests of one run: size, what they ask for",
            _sent(covey),
            _sent(agno),
            "-",
        )
    )
    return rows


def _sent(side: dict[str, Any] | None) -> str:
    """What one side's memory manager sent per run: requests, their sizes, what they ask for."""
    sent = [summary for _, summary in sorted(((side or {}).get("sent") or {}).items())]
    if not sent:
        return "-"
    first = sent[0]
    asks = (
        f"response_format {first['response_format']}"
        if first["response_format"]
        else f"tools {', '.join(first['tools'])}"
    )
    sizes = " + ".join(f"{s['bytes']:,}" for s in sent)
    return f"{len(sent)} ({sizes} bytes), {asks}"


def run() -> list[tuple[str, ...]]:
    global NOTE
    NOTE = NOTE.format(runs=RUNS, warm=WARM, delay=DELAY_MS)
    has_covey = all(_installed(m) for m in ("covey.learn", "covey.db.sql", "covey.models.openai"))
    agno = agno_python(MEMORY, "agno-memory")
    load_core, server_core = cores()
    notes: list[str] = []
    covey_side: dict[str, Any] | None = None
    agno_side: dict[str, Any] | None = None
    with (
        fake_openai(server_core, args=["--delay-ms", f"{DELAY_MS:g}"]) as base_url,
        tempfile.TemporaryDirectory(prefix="covey-bench-memory-") as folder,
    ):
        if has_covey:
            _say(f"Covey: off, background, foreground × {', '.join(WORKLOADS)} ({RUNS} runs)")
            with pinned(load_core):
                try:
                    covey_side = asyncio.run(_covey(base_url, folder))
                except Exception as error:  # a failing side is a row, not the end of make bench
                    notes.append(f"Covey's side failed: {error!r}"[:300])
        else:
            notes.append("covey-learn, covey-db-sql or covey-models-openai is not installed")
        if isinstance(agno, str):
            notes.append(f"Agno: {agno}")
        else:
            _say(f"Agno: off, on × {', '.join(WORKLOADS)} ({RUNS} runs)")
            try:
                agno_side = _agno(agno, base_url, load_core)
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                notes.append(str(error)[-300:])
    rows = _rows(covey_side, agno_side)
    rows.extend((note, "-", "-", "-") for note in notes)
    return rows
