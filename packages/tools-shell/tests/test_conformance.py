"""`ShellToolset` passes `ToolsetSuite` unchanged."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from covey.conformance import ToolsetSuite
from covey.tools.shell import ShellToolset


class TestShellToolset(ToolsetSuite):
    @pytest.fixture
    def toolset(self, tmp_path: Path) -> ShellToolset:
        return ShellToolset(allow=["echo"], cwd=tmp_path)

    @pytest.fixture
    def toolset_calls(self) -> Mapping[str, dict[str, Any]]:
        return {"run_command": {"command": ["echo", "hello"]}}
