"""A root directory with a few files, and a secret outside it that no test may ever read."""

from __future__ import annotations

from pathlib import Path

import pytest

from covey.spec.context import RunContext

SECRET = "TOP-SECRET-outside-the-root"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the root holding `secret.txt`."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text(SECRET + "\n")
    return folder


@pytest.fixture
def root(tmp_path: Path, outside: Path) -> Path:
    folder = tmp_path / "root"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "guide.md").write_text("# Guide\n\nInstall with pip.\nThen run it.\n")
    (folder / "notes.txt").write_text("alpha\nbeta\ngamma\n")
    return folder


@pytest.fixture
def ctx() -> RunContext:
    return RunContext(run_id="test-run")
