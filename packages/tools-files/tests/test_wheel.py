"""The built wheel installs alone (with covey-spec) and `files` resolves through its entry point."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from covey.conformance.wheels import build_wheel, fresh_venv

PACKAGE = Path(__file__).resolve().parent.parent
WORKSPACE = PACKAGE.parent.parent

SMOKE = textwrap.dedent(
    """
    import asyncio, sys
    from importlib.metadata import entry_points
    from covey.spec import RunContext

    async def main():
        [ep] = entry_points(group="covey.tools", name="files")
        toolset = ep.load()(sys.argv_root)
        ctx = RunContext(run_id="wheel")
        found = await toolset.call_tool("search_files", {"query": "h.llo", "regex": True}, ctx)
        escape = await toolset.call_tool("read_file", {"path": "../x"}, ctx)
        return type(toolset).__name__, found.content["matches"][0]["path"], escape.is_error

    print(*asyncio.run(main()))
    """
)


@pytest.mark.slow
def test_wheel_installs_alone_and_resolves_files(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    wheels = [build_wheel(PACKAGE, dist), build_wheel(WORKSPACE / "packages" / "spec", dist)]
    venv = fresh_venv(tmp_path / "venv")
    venv.install(*wheels)
    work = tmp_path / "work"
    work.mkdir()
    (work / "a.txt").write_text("hello\n")
    out = venv.run(SMOKE.replace("sys.argv_root", repr(str(work))))
    assert out.strip().splitlines()[-1] == "FileToolset a.txt True"
    covey = {n for n in venv.distributions() if n.startswith("covey-")}
    assert covey == {"covey-tools-files", "covey-spec"}
