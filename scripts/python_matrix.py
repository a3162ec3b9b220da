"""Run the covey-spec and covey-core tests on other Python versions, each in its own venv.

    python scripts/python_matrix.py [VERSION ...]      (default: 3.12 3.13)

For each version: find the interpreter (`COVEY_PYTHON_3_12=/path/to/python` overrides; then
`python3.12` on PATH; then pyenv's `$PYENV_ROOT/versions/3.12.*`), sync the workspace from
uv.lock into `.venv-3.12` (`uv sync --frozen --all-packages`) and run pytest there. A missing
interpreter is a failure with instructions, never a skip: a matrix that silently ran nothing
would claim support it never checked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VERSIONS = ("3.12", "3.13")
# The interface and the run loop: what every other package builds on.
TEST_PATHS = ("packages/spec/tests", "packages/core/tests")


class MissingInterpreterError(Exception):
    """No interpreter of the wanted version was found."""


def find_interpreter(version: str) -> Path:
    """The interpreter of `version` (e.g. "3.13"); raises with what to do when there is none."""
    variable = f"COVEY_PYTHON_{version.replace('.', '_')}"
    candidates: list[Path] = []
    if os.environ.get(variable):
        candidates.append(Path(os.environ[variable]))
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(Path(on_path))
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}"), reverse=True)
    for candidate in candidates:
        if candidate.is_file() and _reports(candidate) == version:
            return candidate
    raise MissingInterpreterError(
        f"Python {version} not found (looked at ${variable}, python{version} on PATH and "
        f"{pyenv_root}/versions/{version}.*). Install it (`pyenv install {version}`, "
        f"`uv python install {version}` or your package manager) or set {variable}=/path/to/python."
    )


def _reports(interpreter: Path) -> str | None:
    try:
        out = subprocess.run(
            [str(interpreter), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def uv_command() -> list[str]:
    found = os.environ.get("UV") or shutil.which("uv")
    return [found] if found else [sys.executable, "-m", "uv"]


def run_on(version: str, interpreter: Path, pytest_args: list[str]) -> int:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["UV_PROJECT_ENVIRONMENT"] = str(ROOT / f".venv-{version}")
    env.setdefault("UV_SYSTEM_CERTS", "1")
    uv = uv_command()
    python = ["--python", str(interpreter)]
    sync = [*uv, "sync", "--frozen", "--all-packages", "--quiet", *python]
    code = subprocess.call(sync, cwd=ROOT, env=env)
    if code:
        print(f"uv sync for Python {version} failed (exit {code})", file=sys.stderr)
        return code
    tests = [*uv, "run", "--frozen", "--no-sync", *python, "python", "scripts/run_tests.py"]
    return subprocess.call([*tests, "-q", *TEST_PATHS, *pytest_args], cwd=ROOT, env=env)


def main(argv: list[str]) -> int:
    versions = [a for a in argv if not a.startswith("-")] or list(DEFAULT_VERSIONS)
    pytest_args = [a for a in argv if a.startswith("-")]
    try:
        interpreters = {version: find_interpreter(version) for version in versions}
    except MissingInterpreterError as missing:
        print(f"python_matrix: {missing}", file=sys.stderr)
        return 1
    failed: list[str] = []
    for version, interpreter in interpreters.items():
        print(f"== Python {version} ({interpreter}): {' '.join(TEST_PATHS)}", flush=True)
        started = time.monotonic()
        code = run_on(version, interpreter, pytest_args)
        print(f"== Python {version}: exit {code} in {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(version)
    if failed:
        print(f"python_matrix: failed on Python {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
