"""Build a package's wheel and try it installed alone, in a fresh virtual environment.

A plugin's tests pass in the workspace, where every package is installed; a user installs one
wheel. This harness checks what that user gets: it builds wheels with `uv build`, makes a
virtual environment with `uv venv`, installs the wheels with `uv pip install` (their
dependencies come from the package index, so it needs the network) and runs Python in it.
Every command that fails raises `CommandError` with its output, so a test fails, never skips.

Example:
    ```python
    from pathlib import Path

    import pytest

    from covey.conformance.wheels import build_wheel, fresh_venv

    PACKAGE = Path(__file__).resolve().parents[1]


    @pytest.mark.slow
    def test_wheel_installs_alone(tmp_path: Path) -> None:
        wheels = [
            build_wheel(PACKAGE, tmp_path / "dist"),
            build_wheel(PACKAGE.parent / "spec", tmp_path / "dist"),
        ]
        venv = fresh_venv(tmp_path / "venv", unset_prefixes=("MYPROVIDER_",))
        venv.install(*wheels)
        assert venv.run("import covey.tools.mine; print('ok')").strip() == "ok"
        assert "openai" not in venv.distributions()
    ```
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CommandError",
    "Venv",
    "build_wheel",
    "clean_env",
    "find_uv",
    "fresh_venv",
    "normalize_name",
]

TIMEOUT = 600.0
"""Seconds any one command may take."""

_LIST_DISTRIBUTIONS = """
import importlib.metadata, json
print(json.dumps([d.metadata["Name"] for d in importlib.metadata.distributions()]))
"""


class CommandError(AssertionError):
    """A command the harness ran failed, or `uv` is missing; the message holds its output."""


def normalize_name(name: str) -> str:
    """A distribution name as PEP 503 compares them: `Google_GenAI` -> `google-genai`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def find_uv() -> str:
    """The `uv` executable: `$UV` (set by `uv run`), else the one on `PATH`.

    Raises:
        CommandError: `uv` is not installed.
    """
    uv = os.environ.get("UV") or shutil.which("uv")
    if not uv:
        raise CommandError(
            "uv is needed to build and install wheels; install it (pip install uv, or see "
            "https://docs.astral.sh/uv/)"
        )
    return uv


def clean_env(*, unset_prefixes: Iterable[str] = ()) -> dict[str, str]:
    """This process's environment, made fit for an isolated install.

    Drops `VIRTUAL_ENV*` and `PYTHONPATH` (which would point into the workspace) and every
    variable starting with one of `unset_prefixes` (e.g. `("OPENAI_",)`, so a developer's keys
    and base URLs do not leak in), and sets `UV_SYSTEM_CERTS=1` so `uv` trusts the system's
    certificate store.
    """
    prefixes = ("VIRTUAL_ENV", *unset_prefixes)
    env = {
        name: value
        for name, value in os.environ.items()
        if name != "PYTHONPATH" and not name.startswith(prefixes)
    }
    env["UV_SYSTEM_CERTS"] = "1"
    return env


def _run(args: Iterable[str | Path], *, cwd: Path, env: Mapping[str, str]) -> str:
    command = [str(arg) for arg in args]
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise CommandError(f"{' '.join(command)} took longer than {TIMEOUT:g}s") from exc
    if done.returncode != 0:
        raise CommandError(
            f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def build_wheel(package_dir: Path, out_dir: Path, *, env: Mapping[str, str] | None = None) -> Path:
    """Build the wheel of the package in `package_dir` into `out_dir` with `uv build --wheel`.

    Args:
        package_dir: The folder holding the package's `pyproject.toml`.
        out_dir: Where the wheel goes (created when missing); other wheels may be there too.
        env: The environment for `uv` (default: `clean_env()`).

    Returns:
        The path of the built wheel.

    Raises:
        CommandError: The build failed, or did not leave exactly one wheel of the package.
    """
    package_dir = Path(package_dir).resolve()
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    pyproject = tomllib.loads((package_dir / "pyproject.toml").read_text(encoding="utf-8"))
    name: str = pyproject["project"]["name"]
    uv = find_uv()
    _run(
        [uv, "build", "--wheel", package_dir, "-o", out_dir],
        cwd=out_dir,
        env=clean_env() if env is None else env,
    )
    prefix = re.sub(r"[-_.]+", "_", name).lower()
    wheels = sorted(out_dir.glob(f"{prefix}-*.whl"))
    if len(wheels) != 1:
        raise CommandError(
            f"expected one {prefix}-*.whl in {out_dir} after building {package_dir}, found "
            f"{[w.name for w in wheels]}"
        )
    return wheels[0]


@dataclass(frozen=True, slots=True)
class Venv:
    """A virtual environment made by `fresh_venv`, and the means to use it.

    Attributes:
        path: Its folder.
        python: Its interpreter.
        env: The environment every command runs in.
        uv: The `uv` executable that installs into it.
    """

    path: Path
    python: Path
    env: Mapping[str, str]
    uv: str

    def install(self, *wheels: Path | str) -> None:
        """`uv pip install` the wheels (or any requirement strings), with their dependencies."""
        self._uv("pip", "install", "--quiet", "--python", self.python, *wheels)

    def run(self, code: str) -> str:
        """Run Python `code` (dedented) in this environment and return what it printed.

        It runs in the environment's folder, so nothing of the workspace is importable.

        Raises:
            CommandError: The code raised (its traceback is in the message).
        """
        return _run([self.python, "-c", textwrap.dedent(code)], cwd=self.path, env=self.env)

    def run_json(self, code: str) -> Any:
        """Run `code` like `run` and parse the last line it printed as JSON."""
        lines = self.run(code).strip().splitlines()
        if not lines:
            raise CommandError("the code printed nothing; it should print one line of JSON")
        return json.loads(lines[-1])

    def distributions(self) -> set[str]:
        """The names of the distributions installed, normalized (`google-genai`)."""
        return {normalize_name(name) for name in self.run_json(_LIST_DISTRIBUTIONS)}

    def _uv(self, *args: str | Path) -> str:
        return _run([self.uv, *args], cwd=self.path, env=self.env)


def fresh_venv(path: Path, *, unset_prefixes: Iterable[str] = ()) -> Venv:
    """Make an empty virtual environment at `path` with `uv venv`, for this Python version.

    Args:
        path: Where to make it (its parent folders are created when missing).
        unset_prefixes: Environment variables to hide from its commands, by prefix (see
            `clean_env`), e.g. `("OPENAI_", "OLLAMA_")`.

    Raises:
        CommandError: `uv` is missing or failed.
    """
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    env = clean_env(unset_prefixes=unset_prefixes)
    uv = find_uv()
    _run(
        [uv, "venv", "--quiet", "--python", sys.executable, path],
        cwd=path.parent,
        env=env,
    )
    python = path / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    return Venv(path=path, python=python, env=env, uv=uv)
