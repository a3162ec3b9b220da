"""Every ```python block of docs/*.md and of every README runs as a test, through pytest-examples.

One test per page. The blocks of a page run in order and share one namespace (pytest-examples'
`module_globals`), so a later block builds on an earlier one. A block is a plain script: async
code goes in `async def main()` with `asyncio.run(main())`, as a user would run it. Options on
the fence line (pytest-examples' prefix settings):

- ```python test="skip" — the block is shown, not run (a fragment, or it needs a real service).

Blocks check what they show with `assert`s (pytest-examples' `#>` print comments would be
rewritten to `# >` by `ruff format`, which formats these blocks).

`assert`s in blocks are rewritten by pytest, and a failure points at the markdown line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_examples import EvalExample, find_examples

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    page
    for page in [
        *sorted((ROOT / "docs").glob("*.md")),
        ROOT / "README.md",
        *sorted(ROOT.glob("packages/*/README.md")),
        *sorted(ROOT.glob("apps/*/README.md")),
    ]
    if any(True for _ in find_examples(page))
]


def run_page(page: Path, eval_example: EvalExample) -> int:
    """Run the python blocks of one markdown page in order; returns how many ran."""
    namespace: dict[str, Any] = {}
    ran = 0
    for example in find_examples(page):
        if example.prefix_settings().get("test") == "skip":
            continue
        namespace.update(eval_example.run(example, module_globals=namespace))
        ran += 1
    return ran


@pytest.fixture(autouse=True)
def isolated_process_state() -> Iterator[None]:
    """Blocks may set environment variables; pytest-examples runs each as `__main__`."""
    environ = dict(os.environ)
    main = sys.modules["__main__"]
    yield
    os.environ.clear()
    os.environ.update(environ)
    sys.modules["__main__"] = main


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_page_examples_run(page: Path, eval_example: EvalExample) -> None:
    """Fix: the block named in the traceback (file:line) no longer runs; update it or the code."""
    assert run_page(page, eval_example) > 0, f"{page} has python blocks but none ran"


# --- the runner itself ---------------------------------------------------------------------------


def write_page(tmp_path: Path, *blocks: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text("# A page\n\n" + "\n\nSome text.\n\n".join(blocks) + "\n")
    return page


def test_a_broken_block_fails_and_points_at_its_line(
    tmp_path: Path, eval_example: EvalExample
) -> None:
    page = write_page(tmp_path, "```python\nvalue = 1\n```", "```python\nassert value == 2\n```")
    with pytest.raises(AssertionError) as failure:
        run_page(page, eval_example)
    assert any(str(entry.path) == str(page) for entry in failure.traceback)


def test_blocks_of_a_page_share_one_namespace_and_async_main_runs(
    tmp_path: Path, eval_example: EvalExample
) -> None:
    page = write_page(
        tmp_path,
        "```python\nimport asyncio\n\nseen = []\n```",
        "```python\nasync def main():\n    seen.append('ran')\n\n\nasyncio.run(main())\n```",
        "```python\nassert seen == ['ran']\n```",
    )
    assert run_page(page, eval_example) == 3


def test_a_skipped_block_does_not_run(tmp_path: Path, eval_example: EvalExample) -> None:
    page = write_page(
        tmp_path, '```python test="skip"\nraise SystemExit(1)\n```', "```py\nx = 1\n```"
    )
    assert run_page(page, eval_example) == 1
