"""Every ```python block in docs/*.md (and package READMEs) runs as a test.

Blocks of one page run in order in one namespace, so later blocks build on earlier ones.
Top-level `await` works. A block fenced as ```python title="..." runs too; only ```text,
```bash, ```toml and other languages are left alone.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)


def code_blocks(text: str) -> Iterator[tuple[int, str]]:
    """(line number, code) of each python block in a markdown text."""
    for match in FENCE.finditer(text):
        yield text.count("\n", 0, match.start(1)) + 1, match.group(1)


def run_block(code: str, namespace: dict[str, Any], filename: str, line: int) -> None:
    padded = "\n" * (line - 1) + code
    compiled = compile(
        padded, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )
    result = eval(compiled, namespace)
    if inspect.iscoroutine(result):
        asyncio.run(result)


class MarkdownFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        blocks = list(code_blocks(self.path.read_text()))
        if blocks:
            yield MarkdownPage.from_parent(self, name="code-blocks", blocks=blocks)


class MarkdownPage(pytest.Item):
    def __init__(self, *, blocks: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.blocks = blocks

    def runtest(self) -> None:
        namespace: dict[str, Any] = {"__name__": "__docs__"}
        for line, code in self.blocks:
            run_block(code, namespace, str(self.path), line)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.path.name}: {len(self.blocks)} code blocks"


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".md" and file_path.parent == Path(__file__).parent:
        return MarkdownFile.from_parent(parent, path=file_path)
    return None
