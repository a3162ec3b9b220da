"""Helpers for covey-runtime tests: servers on loopback and an SSE reader."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

TESTS = Path(__file__).parent


@dataclass
class SseEvent:
    id: int | None
    event: str | None
    data: Any


def read_sse(lines: Iterator[str], *, limit: int | None = None) -> Iterator[SseEvent]:
    """Parse SSE lines into events (comments skipped); stop after `limit` events."""
    fields: dict[str, str] = {}
    count = 0
    for line in lines:
        if line == "":
            if "data" in fields:
                yield SseEvent(
                    id=int(fields["id"]) if "id" in fields else None,
                    event=fields.get("event"),
                    data=json.loads(fields["data"]),
                )
                count += 1
                if limit is not None and count >= limit:
                    return
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields[name] = value[1:] if value.startswith(" ") else value


def sse(client: httpx.Client, method: str, url: str, **options: Any) -> list[SseEvent]:
    """Every event of an SSE response until the server closes the stream."""
    with client.stream(method, url, **options) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(read_sse(response.iter_lines()))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in a thread of this process."""

    def __init__(self, app: Any, *, ws_max_size: int = 1 << 20) -> None:
        self.config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=free_port(),
            log_level="warning",
            lifespan="on",
            ws_max_size=ws_max_size,
            timeout_graceful_shutdown=10,
        )
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    def start(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        assert not self.thread.is_alive(), "the test server did not stop"


class ProcessServer:
    """`covey serve` in a subprocess on 127.0.0.1, with its own config file."""

    def __init__(
        self,
        config: Path | None,
        env: Mapping[str, str] | None = None,
        *,
        cwd: Path | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.port = free_port()
        self.config = config
        self.env = {**os.environ, **(env or {})}
        if config is None:
            self.env.pop("COVEY_CONFIG", None)
        self.cwd = cwd
        self.args = list(args)
        self.process: subprocess.Popen[bytes] | None = None
        folder = config.parent if config is not None else cwd
        assert folder is not None, "give a config file or a working directory"
        self.log = folder / f"server-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ProcessServer:
        command = [
            sys.executable,
            "-m",
            "covey.runtime.cli",
            "serve",
            *(["--config", str(self.config)] if self.config is not None else []),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *self.args,
        ]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=log, cwd=self.cwd
            )
        deadline = time.monotonic() + 120  # a loaded CI machine imports slowly
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"covey serve exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"covey serve did not start: {self.log.read_text()}")
            time.sleep(0.05)

    def stop(self) -> int | None:
        process = self.process
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait(10)


def write_config(path: Path, **values: Any) -> Path:
    """A covey.toml with `values` (strings, numbers, booleans, lists)."""
    lines = []
    for key, value in values.items():
        lines.append(f"{key} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def server_pair(
    folder: Path, *, agents: str, store: str, gates_env: str
) -> Iterator[tuple[httpx.Client, httpx.Client, Path]]:
    """Two `covey serve` processes of the registry `agents` on one `store`: their clients, and
    the gates folder their tools wait on (named to them by `gates_env`)."""
    gates = folder / "gates"
    gates.mkdir()
    config = write_config(
        folder / "covey.toml",
        agents=agents,
        python_path=[str(TESTS)],
        store=store,
        shutdown_grace=1,
        poll_interval=0.05,
        log_level="warning",
    )
    env = {gates_env: str(gates)}
    a = ProcessServer(config, env).start()
    try:
        b = ProcessServer(config, env).start()
    except BaseException:
        a.stop()
        raise
    with (
        httpx.Client(base_url=a.url, timeout=30) as ca,
        httpx.Client(base_url=b.url, timeout=30) as cb,
    ):
        try:
            yield ca, cb, gates
        finally:
            a.stop()
            b.stop()


def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.02) -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def check_event_log(events: list[dict[str, Any]]) -> None:
    """`seq` runs 1..n without gaps, every `X.started` is closed once, one final event last."""
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(events) + 1)), seqs
    open_: dict[str, int] = {}
    finals = ("run.completed", "run.failed", "run.paused", "run.cancelled")
    for event in events:
        subject, _, verb = event["type"].partition(".")
        if subject not in ("run", "model_request", "tool_call"):
            continue
        key = subject + ":" + str(event.get("tool_call_id", ""))
        if verb == "started":
            assert open_.get(key, 0) == 0, f"{event['type']} twice"
            open_[key] = 1
        elif verb in ("completed", "failed", "paused", "cancelled"):
            assert open_.get(key) == 1, f"{event['type']} without a start"
            open_[key] = 0
    assert all(v == 0 for v in open_.values()), open_
    assert events[-1]["type"] in finals


def wait_until_event(client: httpx.Client, run_id: str, event_type: str) -> list[SseEvent]:
    """Follow a run until an event of `event_type` arrives; the events so far."""
    seen: list[SseEvent] = []
    with client.stream("GET", f"/v1/runs/{run_id}/events") as response:
        assert response.status_code == 200, response.read()
        for event in read_sse(response.iter_lines()):
            seen.append(event)
            if event.event == event_type:
                return seen
    raise AssertionError(f"run {run_id} ended without {event_type}: {[e.event for e in seen]}")


def npm_ci(folder: Path) -> Path | None:
    """`npm ci` of `folder`'s package.json + package-lock.json into
    `folder/.cache/<hash of the lock>/` once (later calls reuse it); the install folder, or
    `None` when node or npm is missing.
    """
    import hashlib
    import shutil
    import tempfile

    lock = (folder / "package-lock.json").read_bytes()
    target = folder / ".cache" / hashlib.sha256(lock).hexdigest()[:16]
    if (target / "node_modules" / ".package-lock.json").is_file():
        return target
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="npm-", dir=target.parent))
    for name in ("package.json", "package-lock.json"):
        shutil.copy(folder / name, staging / name)
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=staging,
        check=True,
        timeout=600,
    )
    try:
        staging.rename(target)
    except OSError:  # another process finished first
        shutil.rmtree(staging, ignore_errors=True)
    return target
