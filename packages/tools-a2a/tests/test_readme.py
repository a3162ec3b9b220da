"""The README's example runs."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_example_runs() -> None:
    assert len(BLOCKS) == 1
    exec(compile(BLOCKS[0], str(README), "exec"), {"__name__": "__readme__"})
