"""Serving over HTTP, side by side with Agno's AgentOS: JSON and SSE runs of the same agent (same
instructions, one tool, two model requests per run against the same loopback fake OpenAI
server), next to two floors: a bare Litestar handler making the same two requests with httpx,
and the same handler through the official openai SDK.

One server process (one uvicorn worker) pinned to one core; the load generator (16 keep-alive
clients) and the fake model server pinned to the other. Every server is started afresh for each
repeat, repeats are interleaved so drift in machine load hits every row alike, and each cell is
the median over repeats. CPU ms/run is the server process's user+system time over the runs it
served; RSS is its resident memory after warm-up and at the end of the row's load. For Covey,
every run's stored event log is read back over HTTP and checked for completeness.

Quick by default; `COVEY_BENCH_FULL=1` (or `run.py --full`) makes every row 60 s long, which is
the memory-flat check.
"""

from __future__ import annotations

import os
import statistics
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


@dataclass(frozen=True, slots=True)
class Server:
    """A server to start for one repeat, and the rows (label, path, SSE) measured on it."""

    name: str
    kind: Kind
    command: Callable[[int, str, Path], tuple[list[str], dict[str, str], Path | None]]
    health: str
    rows: tuple[tuple[str, str, bool], ...]
    # the AgentOS row each row is compared with, by position
    versus: tuple[str, ...] = ()


def _floor(port: int, openai_url: str, tmp: Path) -> tuple[list[str], dict[str, str], Path]:
    command = [sys.executable, "-m", "uvicorn", "floor:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    return command, {**os.environ, "BENCH_OPENAI_URL": openai_url}, RUNTIME


def _covey(store: str) -> Callable[[int, str, Path], tuple[list[str], dict[str, str], None]]:
    def command(port: int, openai_url: str, tmp: Path) -> tuple[list[str], dict[str, str], None]:
        url = store.replace("{tmp}", str(tmp))
        config = tmp / f"covey-{port}.toml"
        config.write_text(
            f'agents = "agents:registry"\npython_path = ["{RUNTIME}"]\n'
            f'store = "{url}"\nlog_level = "warning"\n'
        )
        argv = [sys.executable, "-m", "covey.runtime.cli", "serve", "--config", str(config)]
        return [*argv, "--port", str(port)], {**os.environ, "BENCH_OPENAI_URL": openai_url}, None

    return command


def _agentos(
    python: Path, sqlite: bool
) -> Callable[[int, str, Path], tuple[list[str], dict[str, str], Path]]:
    def command(port: int, openai_url: str, tmp: Path) -> tuple[list[str], dict[str, str], Path]:
        argv = [str(python), "serve.py", str(port), openai_url]
        if sqlite:
            argv.append(str(tmp / f"agno-{port}.db"))
        return argv, peer_env(), HERE / "agno"

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
        store = "sqlite:///{tmp}/covey.db" if sqlite else "memory://"
        out.append(
            Server(
                f"covey-{slug}",
                "covey",
                _covey(store),
                "/health",
                (
                    (f"Covey, {covey_db}, JSON", runs, False),
                    (f"Covey, {covey_db}, SSE", runs, True),
                ),
                (json_row, sse_row),
            )
        )
    return out


def _one_repeat(
    server: Server, openai_url: str, load_core: int | None, server_core: int | None
) -> tuple[dict[str, Measured], dict[str, int]]:
    tmp = Path(tempfile.mkdtemp(prefix=f"covey-bench-{server.name}-"))
    port = free_port()
    argv, env, cwd = server.command(port, openai_url, tmp)
    log = tmp / "stderr.log"
    process = spawn(argv, core=server_core, env=env, cwd=cwd, log=log)
    base = f"http://127.0.0.1:{port}"
    measured: dict[str, Measured] = {}
    complete: dict[str, int] = {}
    try:
        wait_http(base + server.health, process, log)
        for label, path, sse in server.rows:
            target = Target(base + path, server.kind, sse)
            measured[label] = measure(
                [process.pid], [target], seconds=SECONDS, clients=CLIENTS, core=load_core
            )
        if server.kind == "covey":
            for label, m in measured.items():
                complete[label] = complete_logs(base, m.run_ids)
    finally:
        stop(process)
    return measured, complete


def _median(values: list[float]) -> float:
    return statistics.median(values)


def run() -> list[tuple[str, ...]]:
    import importlib.util

    if importlib.util.find_spec("covey.runtime") is None:
        return [("covey-runtime not installed", *("-",) * (len(HEADER) - 1))]
    agno = agno_python()
    todo = servers(agno)
    load_core, server_core = cores()
    results: dict[str, list[Measured]] = {}
    logs: dict[str, list[int]] = {}  # label -> [complete, runs]
    with fake_openai(load_core) as openai_url:
        for _ in range(REPEATS):
            for server in todo:
                measured, checked = _one_repeat(server, openai_url, load_core, server_core)
                for label, m in measured.items():
                    results.setdefault(label, []).append(m)
                for label, complete in checked.items():
                    done = logs.setdefault(label, [0, 0])
                    done[0] += complete
                    done[1] += len(measured[label].run_ids)
    rows: list[tuple[str, ...]] = []
    medians = {
        label: {
            "runs": _median([m.runs for m in ms]),
            "rps": _median([m.rps for m in ms]),
            "p50": _median([m.p50 for m in ms]),
            "p99": _median([m.p99 for m in ms]),
            "cpu": _median([m.cpu_ms for m in ms]),
            "rss0": _median([m.rss_start for m in ms]),
            "rss1": _median([m.rss_end for m in ms]),
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
    mode = "full" if FULL else "quick"
    rows.append(
        (
            f"({mode}: {SECONDS:.0f} s per row, median of {REPEATS} repeats, cores "
            f"load={load_core} server={server_core})",
            *("",) * (len(HEADER) - 1),
        )
    )
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    from run import print_table

    print_table(TITLE, HEADER, run())
