"""The peers the benches compare against, each in its own virtual environment under
`bench/.peers/` (gitignored), created with uv on first use and kept between runs.

Agno is pinned so that numbers stay comparable from one run to the next; bump `AGNO` on purpose.
The libraries both sides use (the openai SDK, httpx, uvicorn) are pinned to the versions in
Covey's own environment, so the comparison is of the frameworks, not of their dependencies.
Every peer process gets `PEER_ENV`, which turns telemetry off before anything is imported.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

PEERS = Path(__file__).parent / ".peers"
AGNO = ("agno==3.1.10", "agno[os]==3.1.10")
SHARED = ("openai", "httpx", "uvicorn")
# What Agno's Knowledge needs beside Agno for bench_knowledge: its LanceDb and the libraries that
# run the one embedding model both sides use (pinned to Covey's versions when Covey has them).
KNOWLEDGE = ("lancedb", "pyarrow", "onnxruntime", "tokenizers", "numpy", "aiofiles")
# What Agno's `MCPTools` needs beside Agno for bench_mcp: Agno's `mcp` extra (the `mcp` SDK and
# fastmcp, which MCPTools builds its connections with), the SDK at Covey's version when Covey's
# environment has it (covey-tools-mcp depends on it), so both sides speak the same SDK.
MCP = ("agno[mcp]" + AGNO[0].removeprefix("agno"), "mcp")
# What Agno's memory manager needs beside Agno for bench_memory: SQLAlchemy, which its `SqliteDb`
# (where the memories go) is built on, at Covey's version (covey-db-sql uses it too).
MEMORY = ("sqlalchemy",)
PEER_ENV = {
    "AGNO_TELEMETRY": "false",
    "AGNO_DEBUG": "false",
    "DO_NOT_TRACK": "1",
    "ANONYMIZED_TELEMETRY": "false",
}


def _uv() -> list[str] | None:
    found = shutil.which("uv")
    if found:
        return [found]
    probe = subprocess.run(
        [sys.executable, "-m", "uv", "--version"], capture_output=True, check=False
    )
    return [sys.executable, "-m", "uv"] if probe.returncode == 0 else None


def peer_env(**extra: str) -> dict[str, str]:
    """This process's environment with telemetry off, plus `extra`."""
    return {**os.environ, **PEER_ENV, **extra}


def _requirements(extra: tuple[str, ...]) -> tuple[str, ...]:
    pins: list[str] = []
    for name in (*SHARED, *extra):
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            pins.append(name)
    return (*AGNO, *pins)


def agno_python(extra: tuple[str, ...] = (), name: str = "agno-knowledge") -> Path | str:
    """The Agno venv's interpreter, creating the venv when missing or out of date; or a
    sentence saying why it cannot be had (no uv, no registry). `extra` packages (e.g.
    `KNOWLEDGE`) go into a venv of their own, `name` (`agno-knowledge` unless told, e.g.
    `agno-mcp`), so the serving benches' Agno stays as it was."""
    venv = PEERS / (name if extra else "agno")
    python = venv / "bin" / "python"
    stamp = venv / "bench-requirements.txt"
    requirements = _requirements(extra)
    wanted = "\n".join(requirements)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    uv = _uv()
    if uv is None:
        return "uv is not installed (make uv)"
    env = {**os.environ, "UV_SYSTEM_CERTS": "1"}
    steps = [
        [*uv, "venv", "--quiet", "--clear", "--python", sys.executable, str(venv)],
        [
            *uv,
            "pip",
            "install",
            "--quiet",
            "--compile-bytecode",
            "--python",
            str(python),
            *requirements,
        ],
    ]
    print(f"bench: installing {' '.join(requirements)} into {venv}", file=sys.stderr, flush=True)
    for step in steps:
        done = subprocess.run(step, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return f"could not install Agno: {done.stderr.strip()[-300:]}"
    stamp.write_text(wanted)
    return python
