"""Where a Covey server's CPU goes under load: py-spy samples of one server process serving JSON
runs (memory:// and SQLite stores), attributed to layers by the module of each sample's frames.

`make bench-profile` (or `python bench/profile_runtime.py [SECONDS]`). The server is pinned to
its own core and warmed up; then `py-spy record --format raw` attaches to it for the load; the
load generator, py-spy and the fake OpenAI server share the other core. Samples of imports and
of threads waiting for work are left out.

A sample is charged to the innermost frame that belongs to a layer. Frames of the standard
library, anyio, sniffio, h11 and httptools are charged to their caller (h11 parses both the
server's requests and the SDK's responses), except the event loop's own work (`_run_once`,
`Handle._run` at the innermost layer-less frames), which is its own row. ms/run is the layer's
share of the samples times the server's CPU ms per run measured over the same load.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_runtime import covey_command
from load import Measured, Target, measure
from procs import cores, fake_openai, free_port, spawn, stop, wait_http

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("runtime (covey.runtime)", ("covey/runtime/",)),
    ("core (covey.core)", ("covey/core/",)),
    (
        "store (covey.db, memory store, SQLAlchemy, sqlite3)",
        (
            "covey/db/",
            "sqlalchemy/",
            "aiosqlite/",
            "sqlmodel/",
            "asyncpg/",
            "sqlite3/",
        ),
    ),
    ("spec (events, messages, streaming)", ("covey/spec/",)),
    (
        "adapter + SDK (covey.models, openai, httpx, httpcore)",
        ("covey/models/", "openai/", "httpx/", "httpx2/", "httpcore/", "httpcore2/", "distro/"),
    ),
    (
        "HTTP framework (litestar, uvicorn, msgspec)",
        ("litestar/", "uvicorn/", "granian/", "starlette/", "msgspec/", "multipart/"),
    ),
    ("pydantic", ("pydantic/", "pydantic_core/", "pydantic_settings/")),
    ("bench agent's tool", ("bench/runtime/",)),
)
ROOT = f"{Path(__file__).resolve().parent.parent}/"
EVENT_LOOP = "event loop (asyncio)"
STORES = (("memory://", "memory://"), ("SQLite", "sqlite:///{tmp}/covey.db"))
"""(label, store URL) profiled in turn; `BENCH_PROFILE_STORE=SQLite` keeps one of them."""
OTHER = "other"
PASS_THROUGH = ("anyio", "sniffio", "h11", "httptools", "typing_extensions", "<frozen")
IMPORTING = "<frozen importlib._bootstrap"
# Innermost frames that wait rather than work (py-spy's idle detection misses some).
WAITING = {
    "EpollSelector.select",
    "Condition.wait",
    "Event.wait",
    "Thread.join",
    "_worker",  # concurrent.futures: a pool thread waiting for work
    "WorkerThread.run",  # anyio: a worker thread waiting for work
}


def _path(frame: str) -> tuple[str, str]:
    """(function, path relative to its import root) of a py-spy raw frame `fn (file:line)`."""
    function, _, where = frame.rpartition(" (")
    path = where.rsplit(":", 1)[0]
    for root in ("site-packages/", "/src/", "/bench/"):
        if root in path:
            prefix = "bench/" if root == "/bench/" else ""
            return function, prefix + path.rsplit(root, 1)[1]
    if "/lib/python3" in path:
        return function, "<stdlib>/" + path.split("/lib/python3", 1)[1].split("/", 1)[-1]
    return function, path.removeprefix(ROOT)


def layer_of(stack: list[str]) -> str:
    """The layer a sample's stack (outermost first) is charged to."""
    for frame in reversed(stack):
        function, path = _path(frame)
        for name, prefixes in LAYERS:
            if any(p in path for p in prefixes):
                return name
        top = path.split("/", 1)[0].removesuffix(".py")
        if path.startswith("<stdlib>/asyncio/") and function in ("_run_once", "Handle._run"):
            return EVENT_LOOP
        if path.startswith("<stdlib>") or top in sys.stdlib_module_names:
            continue
        if path.startswith(PASS_THROUGH) or top in PASS_THROUGH:
            continue
        return OTHER
    return OTHER


def _other_package(stack: list[str]) -> str:
    for frame in reversed(stack):
        _, path = _path(frame)
        if not path.startswith(("<stdlib>", *PASS_THROUGH)):
            return path.split("/", 1)[0]
    return "standard library"


def attribute(raw: str) -> tuple[Counter[str], Counter[str], Counter[str], int]:
    """(samples per layer, samples per innermost frame, samples under each Covey function
    (inclusive), samples while importing); `other` is broken down by package as
    `other: <package>`."""
    layers: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    importing = 0
    for line in raw.splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue
        count = int(count_text)
        stack = [f for f in stack_text.split(";") if f]
        if any(IMPORTING in f for f in stack):
            importing += count
            continue
        function, path = _path(stack[-1])
        if function in WAITING:
            continue
        layer = layer_of(stack)
        if layer == OTHER:
            layer = f"{OTHER}: {_other_package(stack)}"
        layers[layer] += count
        leaves[f"{function} ({path})"] += count
        seen: set[str] = set()
        for frame in stack:
            name, where = _path(frame)
            if where.startswith("covey/") and (key := f"{name} ({where})") not in seen:
                seen.add(key)
                inclusive[key] += count
    return layers, leaves, inclusive, importing


@dataclass(frozen=True, slots=True)
class Profile:
    measured: Measured
    layers: Counter[str]
    leaves: Counter[str]
    inclusive: Counter[str]
    importing: int


def _record(pid: int, out: Path, log: Path, core: int | None) -> subprocess.Popen[bytes]:
    """py-spy sampling `pid` until interrupted; attaching is retried (it can fail at once)."""
    spy = [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid)]
    spy += ["--format", "raw", "--output", str(out), "--rate", "200", "--full-filenames"]
    pinned = ["taskset", "-c", str(core)] if core is not None else []
    for _ in range(5):
        with open(log, "wb") as err:
            recorder = subprocess.Popen([*pinned, *spy], stdout=err, stderr=err)
        time.sleep(2)
        if recorder.poll() is None:
            return recorder
    raise RuntimeError(f"py-spy could not attach to {pid}: {log.read_text()[-1000:]}")


def profile(store: str, openai_url: str, seconds: float) -> Profile:
    load_core, server_core = cores()
    tmp = Path(tempfile.mkdtemp(prefix="covey-bench-profile-"))
    port = free_port()
    argv, env, _ = covey_command(store)(port, openai_url, tmp)
    log = tmp / "stderr.log"
    server = spawn(argv, core=server_core, env=env, log=log)
    base = f"http://127.0.0.1:{port}"
    out = tmp / "samples.txt"
    try:
        wait_http(base + "/health", server, log)
        target = Target(base + "/v1/agents/weather/runs", "covey")
        measure([server.pid], [target], seconds=1, core=load_core, warm=30)  # first-use costs
        recorder = _record(server.pid, out, tmp / "py-spy.log", load_core)
        try:
            m = measure([server.pid], [target], seconds=seconds, core=load_core, warm=0)
        finally:
            recorder.send_signal(signal.SIGINT)
            recorder.wait(60)
    finally:
        stop(server)
    layers, leaves, inclusive, importing = attribute(out.read_text())
    return Profile(m, layers, leaves, inclusive, importing)


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    from run import print_table

    with fake_openai(cores()[0]) as openai_url:
        only = os.environ.get("BENCH_PROFILE_STORE")
        for label, store in STORES:
            if only and label != only:
                continue
            result = profile(store, openai_url, seconds)
            m, layers, leaves = result.measured, result.layers, result.leaves
            total = sum(layers.values()) or 1
            cpu_ms = m.cpu_ms
            rows = [
                (name, str(n), f"{n / total * 100:.1f}", f"{n / total * cpu_ms:.2f}")
                for name, n in layers.most_common()
            ]
            rows.append(("all (server CPU per run)", str(total), "100.0", f"{cpu_ms:.2f}"))
            title = (
                f"Covey server CPU by layer: JSON runs, {label} store "
                f"({m.runs} runs, {m.rps:.0f} req/s, {cpu_ms:.2f} ms CPU/run; "
                f"{result.importing} import samples left out)"
            )
            print_table(title, ("layer", "samples", "%", "ms/run"), rows)
            top = [
                (frame[:110], str(n), f"{n / total * 100:.1f}")
                for frame, n in leaves.most_common(15)
            ]
            print_table(f"Innermost frames, {label} store", ("frame", "samples", "%"), top)
            under = [
                (frame[:110], str(n), f"{n / total * 100:.1f}", f"{n / total * cpu_ms:.2f}")
                for frame, n in result.inclusive.most_common(30)
            ]
            print_table(
                f"Covey functions, inclusive (with what they call), {label} store",
                ("function", "samples", "%", "ms/run"),
                under,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
