"""The built wheel installs alone (with covey-spec only) and the `reasoning` reference resolves."""

from __future__ import annotations

from pathlib import Path

import pytest

from covey.conformance.wheels import build_wheel, fresh_venv

PACKAGE = Path(__file__).resolve().parent.parent

SMOKE = """
import asyncio
from covey.spec.context import RunContext
from covey.spec.plugins import load

async def main():
    toolset = load("tools", "reasoning")(None)
    async with toolset:
        names = [t.name for t in await toolset.list_tools(RunContext(run_id="r"))]
        done = await toolset.call_tool(
            "analyze", {"result": "4", "analysis": "2 + 2", "next_action": "final_answer"},
            RunContext(run_id="r"),
        )
    print(type(toolset).__name__, *names, done.content)

asyncio.run(main())
"""


@pytest.mark.slow
def test_wheel_installs_alone_and_resolves_the_reference(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    wheels = [build_wheel(PACKAGE, dist), build_wheel(PACKAGE.parent / "spec", dist)]
    assert wheels[0].name == "covey_tools_reasoning-0.1.0-py3-none-any.whl"
    venv = fresh_venv(tmp_path / "venv")
    venv.install(*wheels)
    assert venv.run(SMOKE).strip().splitlines()[-1] == (
        "ReasoningToolset think analyze Analysis recorded. Give your final answer now."
    )
    covey = {n for n in venv.distributions() if n.startswith("covey-")}
    assert covey == {"covey-tools-reasoning", "covey-spec"}
