"""The runtime under load on loopback: JSON and SSE runs of an OpenAIChatModel agent (one tool
call, two model requests against a fake OpenAI server in its own process), next to the floor —
a bare Litestar handler making the same two requests with httpx — measured in the same run.

16 concurrent clients, one server worker, `COVEY_BENCH_SECONDS` (default 8) per scenario.
Server CPU per request is the server process's user+system time over the requests it served.
Afterwards every stored run's event log is checked for completeness.
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

TITLE = "Runtime under load (16 clients, 1 worker, loopback; fake OpenAI in its own process)"
HEADER = ("scenario", "requests", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "× floor CPU")

HERE = Path(__file__).parent / "runtime"
CLIENTS = 16
SECONDS = float(os.environ.get("COVEY_BENCH_SECONDS", "8"))
TICKS = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _wait_http(url: str, process: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


async def _load(url: str, body: dict[str, Any], *, sse: bool) -> tuple[list[float], list[str]]:
    import httpx

    latencies: list[float] = []
    run_ids: list[str] = []
    stop = time.monotonic() + SECONDS
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker() -> None:
            while time.monotonic() < stop:
                start = time.perf_counter()
                if sse:
                    async with client.stream("POST", url, json=body) as response:
                        last = ""
                        async for line in response.aiter_lines():
                            if line.startswith("data: "):
                                last = line
                    data = json.loads(last[6:])
                    ok = data.get("type") == "run.completed"
                    run_id = data.get("run_id")
                else:
                    response = await client.post(url, json=body)
                    data = response.json()
                    ok = (
                        response.status_code == 200
                        and data.get("status", "completed") == "completed"
                    )
                    run_id = data.get("run_id")
                if not ok:
                    raise RuntimeError(f"request failed: {str(data)[:300]}")
                latencies.append(time.perf_counter() - start)
                if run_id:
                    run_ids.append(run_id)

        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
    return latencies, run_ids


def _measure(
    pid: int, url: str, body: dict[str, Any], *, sse: bool
) -> tuple[dict[str, float], list[str]]:
    asyncio.run(_warm(url, body, sse=sse))
    cpu = _cpu_seconds(pid)
    began = time.perf_counter()
    latencies, run_ids = asyncio.run(_load(url, body, sse=sse))
    wall = time.perf_counter() - began
    cpu = _cpu_seconds(pid) - cpu
    latencies.sort()
    n = len(latencies)
    return (
        {
            "n": n,
            "rps": n / wall,
            "p50": statistics.median(latencies) * 1000,
            "p99": latencies[min(n - 1, int(n * 0.99))] * 1000,
            "cpu": cpu / n * 1000,
        },
        run_ids,
    )


async def _warm(url: str, body: dict[str, Any], *, sse: bool) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(20):
            if sse:
                async with client.stream("POST", url, json=body) as response:
                    await response.aread()
            else:
                await client.post(url, json=body)


async def _check_logs(store_url: str, run_ids: list[str]) -> tuple[int, int]:
    from covey.spec.plugins import resolve_store
    from covey.spec.store import Scope

    store = resolve_store(store_url)
    complete = 0
    async with store:
        for run_id in run_ids:
            events = await store.list_events(Scope(), run_id)
            seqs = [e.seq for e in events]
            opened: dict[str, int] = {}
            good = seqs == list(range(1, len(seqs) + 1)) and bool(events)
            for event in events:
                subject, _, verb = event.type.partition(".")
                if subject not in ("run", "model_request", "tool_call"):
                    continue
                key = subject + str(getattr(event, "tool_call_id", ""))
                if verb == "started":
                    good = good and opened.get(key, 0) == 0
                    opened[key] = 1
                elif verb in ("completed", "failed", "paused", "cancelled"):
                    good = good and opened.get(key) == 1
                    opened[key] = 0
            good = good and not any(opened.values()) and events[-1].type == "run.completed"
            complete += good
    return complete, len(run_ids)


def _row(name: str, m: dict[str, float], floor_cpu: float | None) -> tuple[str, ...]:
    ratio = "1.00" if floor_cpu is None else f"{m['cpu'] / floor_cpu:.2f}"
    return (
        name,
        str(int(m["n"])),
        f"{m['rps']:.0f}",
        f"{m['p50']:.1f}",
        f"{m['p99']:.1f}",
        f"{m['cpu']:.2f}",
        ratio,
    )


def _spawn(
    command: list[str], env: dict[str, str], cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def run() -> list[tuple[str, ...]]:
    if importlib.util.find_spec("covey.runtime") is None:
        return [("covey-runtime", "not installed", "-", "-", "-", "-", "-")]
    if importlib.util.find_spec("covey.models.openai") is None:
        return [("TODO: covey-models-openai not installed", "-", "-", "-", "-", "-", "-")]
    has_sql = importlib.util.find_spec("covey.db.sql") is not None
    fake = subprocess.Popen(
        [sys.executable, str(HERE / "fake_openai.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    processes: list[subprocess.Popen[bytes]] = []
    rows: list[tuple[str, ...]] = []
    try:
        assert fake.stdout is not None
        openai_url = fake.stdout.readline().decode().strip()
        env = {**os.environ, "BENCH_OPENAI_URL": openai_url}
        floor_port = _free_port()
        floor = _spawn(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "floor:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(floor_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env,
            cwd=HERE,
        )
        processes.append(floor)
        floor_url = f"http://127.0.0.1:{floor_port}"
        _wait_http(floor_url + "/run", floor)
        base, _ = _measure(floor.pid, floor_url + "/run", {"input": "Weather in Paris?"}, sse=False)
        rows.append(_row("floor: Litestar + httpx, 2 requests", base, None))
        sdk, _ = _measure(
            floor.pid, floor_url + "/run-sdk", {"input": "Weather in Paris?"}, sse=False
        )
        rows.append(_row("floor: Litestar + openai SDK, 2 requests", sdk, base["cpu"]))
        floor.terminate()
        floor.wait(10)

        stores = [("memory", "memory://")]
        tmp = Path(tempfile.mkdtemp(prefix="covey-bench-"))
        if has_sql:
            stores.append(("SQLite", f"sqlite:///{tmp / 'bench.db'}"))
        for label, store_url in stores:
            port = _free_port()
            config = tmp / f"covey-{label}.toml"
            config.write_text(
                f'agents = "agents:registry"\npython_path = ["{HERE}"]\n'
                f'store = "{store_url}"\nlog_level = "warning"\n'
            )
            server = _spawn(
                [
                    sys.executable,
                    "-m",
                    "covey.runtime.cli",
                    "serve",
                    "--config",
                    str(config),
                    "--port",
                    str(port),
                ],
                env,
            )
            processes.append(server)
            url = f"http://127.0.0.1:{port}"
            _wait_http(url + "/health", server)
            runs_url = url + "/v1/agents/weather/runs"
            json_m, json_ids = _measure(
                server.pid, runs_url, {"input": "Weather in Paris?"}, sse=False
            )
            rows.append(_row(f"covey JSON run ({label} store)", json_m, base["cpu"]))
            sse_m, sse_ids = _measure(
                server.pid, runs_url, {"input": "Weather in Paris?", "stream": True}, sse=True
            )
            rows.append(_row(f"covey SSE run ({label} store)", sse_m, base["cpu"]))
            server.terminate()
            server.wait(30)
            if store_url.startswith("sqlite"):
                complete, total = asyncio.run(_check_logs(store_url, json_ids + sse_ids))
                rows.append(
                    (
                        f"stored event logs complete ({label})",
                        f"{complete}/{total}",
                        "-",
                        "-",
                        "-",
                        "-",
                        "-",
                    )
                )
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(10)
        if fake.stdin is not None:
            fake.stdin.close()
        fake.wait(10)
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    from run import print_table

    print_table(TITLE, HEADER, run())
