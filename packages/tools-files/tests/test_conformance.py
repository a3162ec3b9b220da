"""`FileToolset` passes `ToolsetSuite` read-only and with writing (and deleting) enabled."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from covey.conformance import ToolsetSuite
from covey.tools.files import FileToolset


def _tree(path: Path) -> Path:
    (path / "src").mkdir(parents=True)
    (path / "src" / "app.py").write_text("print('hello')\n")
    (path / "README.md").write_text("hello world\n")
    return path


class TestReadOnly(ToolsetSuite):
    @pytest.fixture
    def toolset(self, tmp_path: Path) -> FileToolset:
        return FileToolset(_tree(tmp_path / "root"))

    @pytest.fixture
    def toolset_calls(self) -> Mapping[str, dict[str, Any]]:
        return {
            "read_file": {"path": "README.md"},
            "list_files": {"path": "src"},
            "search_files": {"query": "hello", "glob": "*.md"},
        }


class TestReadWrite(ToolsetSuite):
    @pytest.fixture
    def toolset(self, tmp_path: Path) -> FileToolset:
        return FileToolset(_tree(tmp_path / "root"), write=True, delete=True)

    @pytest.fixture
    def toolset_calls(self) -> Mapping[str, dict[str, Any]]:
        return {
            "read_file": {"path": "src/app.py", "offset": 0, "limit": 10},
            "list_files": {"recursive": True},
            "search_files": {"query": "hel+o", "regex": True},
            "write_file": {"path": "out/new.txt", "content": "made", "overwrite": True},
            "delete_file": {"path": "src/app.py"},
        }
