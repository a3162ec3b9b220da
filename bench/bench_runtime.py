"""Serving over HTTP, side by side with Agno's AgentOS: JSON and SSE runs of the same agent (same
instructions, one tool, two model requests per run against the same loopback fake OpenAI
server), next to two floors: a bare Litestar handler making the same two requests with httpx,
and the same handler through the official openai SDK.

One server process (one uvicorn worker) pinned to one core; the load generator (16 keep-alive
clients) and the fake model server pinned to the other. Repeats are interleaved so drift in
machine load hits every row alike, and each cell is the median over repeats (runs: the sum). CPU ms/run is the server process's user+system time over the runs it
served; RSS is its resident memory after the row's first warm-up and at the end of its last
load (the server serves all repeats, so the end figure is after every run of it). For Covey,
every run's stored event log is read back over HTTP and checked for completeness.

Quick by default; `COVEY_BENCH_FULL=1` (or `run.py --full`) makes every row 60 s long, which is
the memory-flat check.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from load import Kind, Measured, Target, complete_logs, measure
from peers import agno_python, peer_env
from procs import HERE, RUNTIME, cores, fake_openai, free_port, spawn, stop, wait_http

TITLE = "Serving over HTTP: Covey vs AgentOS (1 pinned worker, 16 clients, loopback)"
HEADER = (
    "server / run",
    "runs",
    "req/s",
    "p50 ms",
    "p99 ms",
    "CPU ms/run",
    "RSS MB start→end",
    "req/s ×AgentOS",
    "CPU ×AgentOS",
    "events complete",
)

FULL = os.environ.get("COVEY_BENCH_FULL", "") not in ("", "0")
SECONDS = float(os.environ.get("COVEY_BENCH_SECONDS", "60" if FULL else "3"))
REPEATS = int(os.environ.get("COVEY_BENCH_REPEATS", "2" if FULL else "3"))
CLIENTS = 16
KEPT = 1000
MEMORY = f"memory://?max_runs={KEPT}&max_sessions={KEPT}"
"""The memory store keeps the last 1,000 runs and sessions (the default is 10,000), so a 60 s
row reaches its retention limit and shows whether memory stays flat after it; the event logs
checked on it are those of its newest 1,000 runs of each repeat."""
NOTE = ""
"""How the last `run()` measured (mode, cores, machine load); printed under the table."""

Command = Callable[[int, str, Path], tuple[list[str], dict[str, str], Path | None]]
"""(port, fake OpenAI URL, temporary folder) -> (argv, environment, working folder)."""


@dataclass(frozen=True, slots=True)
class Server:
    """A server to start, and the rows (label, path, SSE) measured on it."""

    name: str
    kind: Kind
    command: Command
    health: str
    rows: tuple[tuple[str, str, bool], ...]
    # the AgentOS row each row is compared with, by position
    versus: tuple[str, ...] = ()


def _floor(port: int, openai_url: str, tmp: Path) -> tuple[list[str], dict[str, str], Path | None]:
    command = [sys.executable, "-m", "uvicorn", "floor:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    return command, {**os.environ, "BENCH_OPENAI_URL": openai_url}, RUNTIME


def covey_command(store: str) -> Command:
    """`covey serve` of the bench agent (runtime/agents.py) on `store` (`{tmp}` is replaced)."""

    def command(
        port: int, openai_url: str, tmp: Path
    ) -> tuple[list[str], dict[str, str], Path | None]:
        url = store.replace("{tmp}", str(tmp))
        config = tmp / f"covey-{port}.toml"
        config.write_text(
            f'agents = "agents:registry"\npython_path = ["{RUNTIME}"]\n'
            f'store = "{url}"\nlog_level = "warning"\n'
        )
        argv = [sys.executable, "-m", "covey.runtime.cli", "serve", "--config", str(config)]
        return [*argv, "--port", str(port)], {**os.environ, "BENCH_OPENAI_URL": openai_url}, None

    return command


def _agentos(python: Path, sqlite: bool) -> Command:
    def command(
        port: int, openai_url: str, tmp: Path
    ) -> tuple[list[str], dict[str, str], Path | None]:
        argv = [str(python), "serve.py", str(port), openai_url]
        if sqlite:
            argv.append(str(tmp / f"agno-{port}.db"))
        return argv, peer_env(), HERE / "peer_agno"

    return command


def servers(agno: Path | str) -> list[Server]:
    """The floor, then AgentOS and Covey alternating: no database, then SQLite."""
    runs = "/v1/agents/weather/runs"
    out = [
        Server(
            "floor",
            "floor",
            _floor,
            "/run",
            (
                ("floor: Litestar + httpx, 2 requests", "/run", False),
                ("floor: Litestar + openai SDK, 2 requests", "/run-sdk", False),
            ),
            ("AgentOS, no db, JSON", "AgentOS, no db, JSON"),
        )
    ]
    for sqlite in (False, True):
        agentos_db, covey_db = ("SqliteDb", "SQLite") if sqlite else ("no db", "memory://")
        slug = "sqlite" if sqlite else "nodb"
        json_row, sse_row = f"AgentOS, {agentos_db}, JSON", f"AgentOS, {agentos_db}, SSE"
        if isinstance(agno, Path):
            out.append(
                Server(
                    f"agentos-{slug}",
                    "agentos",
                    _agentos(agno, sqlite),
                    "/health",
                    (
                        (json_row, "/agents/weather/runs", False),
                        (sse_row, "/agents/weather/runs", True),
                    ),
                )
            )
        store = "sqlite:///{tmp}/covey.db" if sqlite else MEMORY
        out.append(
            Server(
                f"covey-{slug}",
                "covey",
                covey_command(store),
                "/health",
                (
                    (f"Covey, {covey_db}, JSON", runs, False),
                    (f"Covey, {covey_db}, SSE", runs, True),
                ),
                (json_row, sse_row),
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Running:
    server: Server
    process: subprocess.Popen[bytes]
    base: str
    log: Path


def _start(server: Server, openai_url: str, core: int | None) -> Running:
    tmp = Path(tempfile.mkdtemp(prefix=f"covey-bench-{server.name}-"))
    port = free_port()
    argv, env, cwd = server.command(port, openai_url, tmp)
    log = tmp / "stderr.log"
    process = spawn(argv, core=core, env=env, cwd=cwd, log=log)
    return Running(server, process, f"http://127.0.0.1:{port}", log)


def _median(values: list[float]) -> float:
    return statistics.median(values)


def run() -> list[tuple[str, ...]]:
    global NOTE
    import importlib.util

    if importlib.util.find_spec("covey.runtime") is None:
        return [("covey-runtime not installed", *("-",) * (len(HEADER) - 1))]
    agno = agno_python()
    todo = servers(agno)
    load_core, server_core = cores()
    results: dict[str, list[Measured]] = {}
    logs: dict[str, tuple[int, int]] = {}  # label -> (complete, runs)
    with fake_openai(load_core) as openai_url:
        # Every server starts once (all at once: imports are slow) and serves every repeat;
        # the rows take turns, so drift in machine load hits them alike.
        running = [_start(server, openai_url, server_core) for server in todo]
        try:
            for r in running:
                wait_http(r.base + r.server.health, r.process, r.log)
            for _ in range(REPEATS):
                for r in running:
                    for label, path, sse in r.server.rows:
                        target = Target(r.base + path, r.server.kind, sse)
                        m = measure(
                            [r.process.pid],
                            [target],
                            seconds=SECONDS,
                            clients=CLIENTS,
                            core=load_core,
                        )
                        results.setdefault(label, []).append(m)
                        if r.server.kind == "covey":
                            # Checked at once: the memory store keeps only its newest runs.
                            ids = m.run_ids[-KEPT:] if "memory" in label else m.run_ids
                            done, seen = logs.get(label, (0, 0))
                            logs[label] = done + complete_logs(r.base, ids), seen + len(ids)
        finally:
            for r in running:
                stop(r.process)
    rows: list[tuple[str, ...]] = []
    medians = {
        label: {
            "runs": sum(m.runs for m in ms),
            "rps": _median([m.rps for m in ms]),
            "p50": _median([m.p50 for m in ms]),
            "p99": _median([m.p99 for m in ms]),
            "cpu": _median([m.cpu_ms for m in ms]),
            "rss0": ms[0].rss_start,
            "rss1": ms[-1].rss_end,
        }
        for label, ms in results.items()
    }
    for server in todo:
        for i, (label, _, _) in enumerate(server.rows):
            m = medians[label]
            versus = medians.get(server.versus[i]) if server.versus else m
            done = logs.get(label)
            rows.append(
                (
                    label,
                    f"{m['runs']:.0f}",
                    f"{m['rps']:.0f}",
                    f"{m['p50']:.1f}",
                    f"{m['p99']:.1f}",
                    f"{m['cpu']:.2f}",
                    f"{m['rss0']:.0f}→{m['rss1']:.0f}",
                    f"{m['rps'] / versus['rps']:.2f}" if versus else "-",
                    f"{m['cpu'] / versus['cpu']:.2f}" if versus else "-",
                    f"{done[0]}/{done[1]}" if done else "-",
                )
            )
    if isinstance(agno, str):
        rows.append((f"AgentOS: {agno}", *("-",) * (len(HEADER) - 1)))
    NOTE = (
        f"{'full' if FULL else 'quick'}: {SECONDS:.0f} s per row, median of {REPEATS} repeats; "
        f"cores: load generator + fake {load_core}, server {server_core}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    from run import print_table

    print_table(TITLE, HEADER, run())
    print(f"({NOTE})")
