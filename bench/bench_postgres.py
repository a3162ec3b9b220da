"""Two Covey runtime processes on one PostgreSQL database (a throwaway cluster on loopback with
its default, durable settings): the load generator's 16 clients alternate between them, and every
run's stored event log is read back through the second process (half were served by the first). Reported with
no target: this is the multi-process shape, not a race with a peer.

The two servers are not pinned (with PostgreSQL, they share both cores); the load generator and
the fake OpenAI server are pinned to the first core. CPU ms/run is the two servers' CPU and,
separately, PostgreSQL's (the postmaster and its backends), over the runs served.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench_runtime import CLIENTS, SECONDS, covey_command
from load import Target, complete_logs, measure
from procs import cores, cpu_seconds, fake_openai, free_port, spawn, stop, wait_http

TITLE = "PostgreSQL: two Covey processes on one database (no target)"
HEADER = (
    "run",
    "runs",
    "req/s",
    "p50 ms",
    "p99 ms",
    "servers CPU ms/run",
    "PostgreSQL CPU ms/run",
    "events complete (all read via B)",
)


def _postgres_cpu(directory: Path) -> float:
    """CPU seconds of the cluster's postmaster and every process it started."""
    pid_file = next(directory.rglob("postmaster.pid"))
    postmaster = int(pid_file.read_text().split()[0])
    total = cpu_seconds(postmaster)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            total += cpu_seconds(int(stat.parent.name))
    return total


def run() -> list[tuple[str, ...]]:
    import importlib.util

    if importlib.util.find_spec("covey.db.sql") is None:
        return [("covey-db-sql not installed", *("-",) * (len(HEADER) - 1))]
    from covey.db.sql.testing import PostgresCluster, find_postgres_bin

    if find_postgres_bin() is None:
        return [("PostgreSQL server binaries not installed (make system-deps)",) + ("-",) * 7]
    load_core, _ = cores()
    rows: list[tuple[str, ...]] = []
    with PostgresCluster() as cluster, fake_openai(load_core) as openai_url:
        assert cluster.directory is not None
        store = cluster.create_database("covey_bench")
        tmp = Path(tempfile.mkdtemp(prefix="covey-bench-pg-"))
        servers = []
        try:
            # One after the other: the first applies the schema migrations.
            for name in ("a", "b"):
                port = free_port()
                argv, env, _ = covey_command(store)(port, openai_url, tmp)
                log = tmp / f"{name}.log"
                process = spawn(argv, core=None, env=env, log=log)
                servers.append((process, f"http://127.0.0.1:{port}"))
                wait_http(servers[-1][1] + "/health", process, log)
            pids = [p.pid for p, _ in servers]
            for label, sse in (("JSON", False), ("SSE", True)):
                targets = [
                    Target(base + "/v1/agents/weather/runs", "covey", sse) for _, base in servers
                ]
                pg_cpu = _postgres_cpu(cluster.directory)
                m = measure(pids, targets, seconds=SECONDS, clients=CLIENTS, core=load_core)
                pg_ms = (_postgres_cpu(cluster.directory) - pg_cpu) / m.runs * 1000
                # Read through B: half of the runs were served by A.
                complete = complete_logs(servers[1][1], m.run_ids)
                rows.append(
                    (
                        f"Covey ×2, PostgreSQL, {label}",
                        str(m.runs),
                        f"{m.rps:.0f}",
                        f"{m.p50:.1f}",
                        f"{m.p99:.1f}",
                        f"{m.cpu_ms:.2f}",
                        f"{pg_ms:.2f}",
                        f"{complete}/{len(m.run_ids)}",
                    )
                )
        finally:
            for process, _ in servers:
                stop(process)
    return rows


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    from run import print_table

    print_table(TITLE, HEADER, run())
