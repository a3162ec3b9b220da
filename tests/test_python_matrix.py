"""scripts/python_matrix.py: the Python matrix finds its interpreters or fails loudly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "python_matrix.py"


def test_a_missing_interpreter_fails_with_instructions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("COVEY_PYTHON_3_99", str(tmp_path / "nope"))
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "3.99"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "Python 3.99 not found" in result.stderr
    assert "COVEY_PYTHON_3_99=/path/to/python" in result.stderr
    assert "passed" not in result.stdout


def test_the_override_variable_names_the_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from python_matrix import find_interpreter
    finally:
        sys.path.remove(str(SCRIPT.parent))
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    monkeypatch.setenv(f"COVEY_PYTHON_{version.replace('.', '_')}", sys.executable)
    assert find_interpreter(version) == Path(sys.executable)
