"""`Agent(tools=["shell"])`: the entry point and the safe default it gives."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
from shell_helpers import run

from covey.spec.errors import ConfigurationError
from covey.tools.shell import ShellToolset, from_reference
from covey.tools.shell._compat import ApprovalRequired


def test_the_entry_point_is_from_reference() -> None:
    [entry] = entry_points(group="covey.tools", name="shell")
    assert entry.load() is from_reference


def test_the_default_is_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shell = from_reference(None)
    assert isinstance(shell, ShellToolset) and shell.id == "shell"
    assert shell.cwd == tmp_path.resolve()


async def test_the_default_allows_nothing(tmp_path: Path) -> None:
    shell = from_reference(str(tmp_path))
    assert shell.policy.allow == ()
    with pytest.raises(ApprovalRequired):
        await run(shell, "echo", "hi")


def test_the_argument_is_the_working_directory(tmp_path: Path) -> None:
    assert from_reference(str(tmp_path)).cwd == tmp_path.resolve()
    with pytest.raises(ConfigurationError, match="does not exist"):
        from_reference(str(tmp_path / "missing"))
