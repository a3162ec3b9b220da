"""Helpers for cross-package tests that start commands serving HTTP on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# A developer's keys, model choices and Covey settings must not change what these tests see.
_PRIVATE_PREFIXES = ("COVEY_", "OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_", "OLLAMA_", "VLLM_")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without provider keys and `COVEY_*` settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PRIVATE_PREFIXES)}
    return {**env, **extra}


@dataclass
class Served:
    """A command serving HTTP on 127.0.0.1, in its own process group."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        """Everything it printed (stdout and stderr) so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM to its process group, then SIGKILL if it has not exited in 30 s."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


StartServer = Callable[..., Served]
"""`start_server(command, port=..., cwd=..., env=...)`, the fixture of `tests/conftest.py`."""


@contextmanager
def serve_app(app: object) -> Iterator[str]:
    """Serve the ASGI `app` with uvicorn on a free loopback port in a thread of this process
    (startup and shutdown included); yields its base URL."""
    import uvicorn

    config = uvicorn.Config(
        app,  # pyright: ignore[reportArgumentType]
        host="127.0.0.1",
        port=free_port(),
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(30)
