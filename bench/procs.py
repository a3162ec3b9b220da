"""Processes for the benches: spawn pinned to a core, read their CPU time and resident memory
from /proc, wait for them to answer, and the fake OpenAI server every bench talks to."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).parent
RUNTIME = HERE / "runtime"
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cores() -> tuple[int | None, int | None]:
    """(load core, server core): the load generator and the fake model server share the first,
    the server under test gets the second. `(None, None)` with fewer than two cores."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2 or shutil.which("taskset") is None:
        return None, None
    return allowed[0], allowed[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process, all its threads, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    """Resident memory of the process in MB."""
    resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return resident * PAGE / 1e6


def spawn(
    command: Sequence[str],
    *,
    core: int | None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: int | None = subprocess.DEVNULL,
    stdout: int | None = subprocess.DEVNULL,
    log: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start `command`, pinned to `core` with `taskset` (which execs it: same pid). Its stderr
    goes to `log` (a file, so a chatty server never blocks on a full pipe). Bytecode is written,
    so that only the first start of a server pays for compiling its imports."""
    pinned = ["taskset", "-c", str(core), *command] if core is not None else list(command)
    env = {k: v for k, v in (env or os.environ).items() if k != "PYTHONDONTWRITEBYTECODE"}
    with open(log or os.devnull, "wb") as err:
        return subprocess.Popen(pinned, env=env, cwd=cwd, stdin=stdin, stdout=stdout, stderr=err)


def tail(log: Path | None, chars: int = 2000) -> str:
    """The end of a process's stderr log."""
    if log is None or not log.exists():
        return ""
    return log.read_text(errors="replace")[-chars:]


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Ask the process to stop (SIGTERM), then kill it if it has not after `timeout`."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def wait_http(
    url: str, process: subprocess.Popen[bytes], log: Path | None = None, timeout: float = 240
) -> None:
    """Wait until `url` answers a GET (any status), or fail with the process's stderr."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {tail(log)}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@contextmanager
def url_server(command: Sequence[str], core: int | None, what: str) -> Iterator[str]:
    """A server `command` in its own process that prints its URL on stdout once it listens and
    exits when its stdin closes (the scripts of bench/runtime/); yields the URL."""
    log = Path(tempfile.mkdtemp(prefix="covey-bench-server-")) / "stderr.log"
    process = spawn(command, core=core, stdin=subprocess.PIPE, stdout=subprocess.PIPE, log=log)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().decode().strip()
        if not url:
            raise RuntimeError(f"{what} did not start: {tail(log)}")
        yield url
    finally:
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            stop(process)


@contextmanager
def fake_openai(
    core: int | None, script: str = "fake_openai.py", args: Sequence[str] = ()
) -> Iterator[str]:
    """The loopback fake OpenAI server (bench/runtime/fake_openai.py, or another `script` of
    bench/runtime/, with `args`) in its own process; yields its base URL
    (`http://127.0.0.1:PORT/v1`)."""
    command = [sys.executable, str(RUNTIME / script), *args]
    with url_server(command, core, "fake OpenAI server") as url:
        yield url


@contextmanager
def pinned(core: int | None) -> Iterator[None]:
    """Run this process (the load generator, the in-process timer) on `core` for a while."""
    if core is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
