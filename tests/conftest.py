"""Fixtures for cross-package tests: commands that serve on loopback, started and stopped here."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from serving import Served, StartServer


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """`start_server(command, port=..., cwd=..., env=...)`: run it, wait for `/health`, return it.

    Every command started is stopped when the test ends.
    """
    started: list[Served] = []

    def start(
        command: Sequence[str | Path], *, port: int, cwd: Path, env: Mapping[str, str]
    ) -> Served:
        log_path = tmp_path / f"server-{port}.log"
        with log_path.open("wb") as out:
            process = subprocess.Popen(
                [str(part) for part in command],
                cwd=cwd,
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        served = Served(f"http://127.0.0.1:{port}", process, log_path)
        started.append(served)
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise AssertionError(f"{command} exited ({process.returncode}):\n{served.log()}")
            try:
                if httpx.get(f"{served.url}/health", timeout=1).status_code == 200:
                    return served
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{command} did not start:\n{served.log()}")
            time.sleep(0.1)

    yield start
    for served in reversed(started):
        served.stop()
