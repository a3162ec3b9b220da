"""The load generator: concurrent keep-alive clients posting runs to one server (or several),
each request checked for a completed run, bounded in time and in count; and the check that
every Covey run's stored event log is complete, read back over HTTP."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from procs import cpu_seconds, pinned, rss_mb

Kind = Literal["covey", "agentos", "floor"]
PROMPT = "Weather in Paris?"
MAX_REQUESTS = 200_000


@dataclass(frozen=True, slots=True)
class Target:
    """Where runs are posted and how a run is asked for and recognised as completed."""

    url: str
    kind: Kind
    sse: bool = False

    def request(self) -> dict[str, Any]:
        if self.kind == "agentos":
            return {"data": {"message": PROMPT, "stream": "true" if self.sse else "false"}}
        if self.kind == "covey" and self.sse:
            return {"json": {"input": PROMPT, "stream": True}}
        return {"json": {"input": PROMPT}}

    def completed(self, data: dict[str, Any]) -> bool:
        if self.kind == "floor":
            return bool(data.get("output"))
        if self.sse:
            return data.get("type" if self.kind == "covey" else "event") in (
                "run.completed",
                "RunCompleted",
            )
        return str(data.get("status", "")).lower() == "completed"


@dataclass(slots=True)
class Load:
    latencies: list[float] = field(default_factory=list[float])
    run_ids: list[str] = field(default_factory=list[str])
    wall: float = 0.0


async def one_run(client: httpx.AsyncClient, target: Target) -> str | None:
    """Post one run; its run id (`None` for the floors). Raises when it did not complete."""
    if target.sse:
        last = ""
        async with client.stream("POST", target.url, **target.request()) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    last = line
        data: dict[str, Any] = json.loads(last[6:]) if last else {}
    else:
        response = await client.post(target.url, **target.request())
        if response.status_code != 200:
            raise RuntimeError(
                f"run failed at {target.url}: {response.status_code} {response.text[:300]}"
            )
        data = response.json()
    if not target.completed(data):
        raise RuntimeError(f"run did not complete at {target.url}: {str(data)[:300]}")
    run_id = data.get("run_id")
    return str(run_id) if run_id else None


async def _load(targets: Sequence[Target], clients: int, seconds: float) -> Load:
    result = Load()
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker(target: Target) -> None:
            while time.monotonic() < stop and len(result.latencies) < MAX_REQUESTS:
                start = time.perf_counter()
                run_id = await one_run(client, target)
                result.latencies.append(time.perf_counter() - start)
                if run_id:
                    result.run_ids.append(run_id)

        began = time.perf_counter()
        await asyncio.gather(*(worker(targets[i % len(targets)]) for i in range(clients)))
        result.wall = time.perf_counter() - began
    return result


async def _warm(target: Target, runs: int) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(runs):
            await one_run(client, target)


@dataclass(frozen=True, slots=True)
class Measured:
    """One load on one server: throughput, latency, the server's CPU and memory."""

    runs: int
    rps: float
    p50: float
    p99: float
    cpu_ms: float
    rss_start: float
    rss_end: float
    run_ids: tuple[str, ...]


def measure(
    pids: Sequence[int],
    targets: Sequence[Target],
    *,
    seconds: float,
    clients: int = 16,
    warm: int = 30,
    core: int | None = None,
) -> Measured:
    """Warm up, then load the server processes `pids` through `targets` for `seconds` from
    `clients` connections, this process pinned to `core`. CPU is the servers' user+system time
    over the runs served; memory is the first server's resident set after warm-up and at the end.
    """
    with pinned(core):
        for target in targets:
            asyncio.run(_warm(target, warm))
        rss_start = rss_mb(pids[0])
        cpu = sum(cpu_seconds(pid) for pid in pids)
        load = asyncio.run(_load(targets, clients, seconds))
        cpu = sum(cpu_seconds(pid) for pid in pids) - cpu
        rss_end = rss_mb(pids[0])
    latencies = sorted(load.latencies)
    n = len(latencies)
    return Measured(
        runs=n,
        rps=n / load.wall,
        p50=statistics.median(latencies) * 1000,
        p99=latencies[min(n - 1, int(n * 0.99))] * 1000,
        cpu_ms=cpu / n * 1000,
        rss_start=rss_start,
        rss_end=rss_end,
        run_ids=tuple(load.run_ids),
    )


def _complete(events: list[dict[str, Any]]) -> bool:
    """Seqs 1..n without a gap, every run/model request/tool call opened once and closed once,
    nothing left open, `run.completed` last."""
    if not events or [e.get("seq") for e in events] != list(range(1, len(events) + 1)):
        return False
    opened: dict[str, bool] = {}
    for event in events:
        subject, _, verb = str(event.get("type", "")).partition(".")
        if subject not in ("run", "model_request", "tool_call"):
            continue
        key = subject + str(event.get("tool_call_id", ""))
        if verb == "started":
            if opened.get(key):
                return False
            opened[key] = True
        elif verb in ("completed", "failed", "paused", "cancelled"):
            if not opened.get(key):
                return False
            opened[key] = False
    return not any(opened.values()) and events[-1].get("type") == "run.completed"


async def _check(base_url: str, run_ids: Sequence[str], clients: int) -> int:
    complete = 0
    queue = list(run_ids)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:

        async def worker() -> None:
            nonlocal complete
            while queue:
                run_id = queue.pop()
                response = await client.get(f"/v1/runs/{run_id}/events")
                events = [
                    json.loads(line[6:])
                    for line in response.text.splitlines()
                    if line.startswith("data: ")
                ]
                complete += response.status_code == 200 and _complete(events)

        await asyncio.gather(*(worker() for _ in range(clients)))
    return complete


def complete_logs(base_url: str, run_ids: Sequence[str], clients: int = 8) -> int:
    """How many of `run_ids` have a complete stored event log, read from the Covey server at
    `base_url` (`GET /v1/runs/{id}/events`)."""
    return asyncio.run(_check(base_url, run_ids, clients))
