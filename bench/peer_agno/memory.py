"""Agno's user memory, the counterpart of bench_memory.py's Covey side: agent runs on the fake
OpenAI server with memory off and on (`update_memory_on_run=True` with a `MemoryManager` on the
same model, `SqliteDb` in a temp dir). Runs in Agno's own venv; prints one JSON object.

Agno starts its memory manager as a task when the run starts (it reads the user's message, not
the answer) and awaits it before the run returns, so the memory is stored when the answer
arrives: "stored" is the answer's time, checked by reading the user's memories after the run.

Run: `python memory.py CONFIG.json` (base URL, runs, warm-up runs, prompt, final text).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from agent import INSTRUCTIONS, get_weather
from agno.agent import Agent
from agno.db.sqlite import SqliteDb
from agno.memory import MemoryManager
from agno.models.openai import OpenAIChat


def _model(base_url: str) -> OpenAIChat:
    return OpenAIChat(id="gpt-4.1", api_key="bench", base_url=base_url, max_retries=0)


def _agent(base_url: str, db: SqliteDb, workload: str, memory: bool) -> Agent:
    extra: dict[str, Any] = {}
    if memory:
        manager = MemoryManager(model=_model(base_url), db=db)
        extra = {"memory_manager": manager, "update_memory_on_run": True}
    return Agent(
        name="assistant",
        id=f"assistant-{workload}-{'on' if memory else 'off'}",
        model=_model(base_url),
        tools=[get_weather] if workload == "tool" else None,
        instructions=INSTRUCTIONS,
        db=db,
        telemetry=False,
        **extra,
    )


async def _requests(client: httpx.AsyncClient) -> dict[str, Any]:
    return (await client.get("/bench/requests")).json()


async def measure(config: dict[str, Any], db: SqliteDb) -> dict[str, Any]:
    base_url: str = config["openai_url"]
    runs, warm = int(config["runs"]), int(config["warm"])
    prompt, final = config["prompt"], config["final"]
    out: dict[str, Any] = {}
    root = base_url.removesuffix("/v1")
    async with httpx.AsyncClient(base_url=root) as client:
        for workload in config["workloads"]:
            agents = {name: _agent(base_url, db, workload, name == "on") for name in ("off", "on")}
            samples: dict[str, dict[str, list[float]]] = {
                name: {"answer": [], "stored": [], "requests": [], "memory_requests": []}
                for name in agents
            }
            for i in range(warm + runs):
                for name, agent in agents.items():  # interleaved: drift hits both alike
                    user = f"agno-{workload}-{name}-{i}"
                    before = await _requests(client)
                    start = time.perf_counter()
                    result = await agent.arun(prompt, user_id=user, session_id=f"s-{user}")
                    answered = time.perf_counter() - start
                    assert result.content == final, result.content
                    after = await _requests(client)
                    memories = db.get_user_memories(user_id=user)
                    if name == "on":
                        assert len(memories) == 1, memories  # stored when the answer came
                        assert memories[0].memory == "The user lives in Lyon.", memories
                    else:
                        assert not memories, memories
                    if i < warm:
                        continue
                    sample = samples[name]
                    sample["answer"].append(answered * 1000)
                    if name == "on":
                        sample["stored"].append(answered * 1000)
                    diff = {k: v - before["counts"].get(k, 0) for k, v in after["counts"].items()}
                    sample["requests"].append(sum(diff.values()))
                    sample["memory_requests"].append(
                        sum(v for k, v in diff.items() if k.startswith("agno-memory"))
                    )
            out[workload] = samples
        out["sent"] = {
            k: v for k, v in (await _requests(client))["last"].items() if k.startswith("agno")
        }
    return out


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    with tempfile.TemporaryDirectory(prefix="covey-bench-agno-memory-") as tmp:
        db = SqliteDb(db_file=str(Path(tmp) / "agno.db"))
        print(json.dumps(asyncio.run(measure(config, db))))


if __name__ == "__main__":
    main()
