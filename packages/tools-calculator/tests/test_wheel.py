"""The built wheel installs alone (with covey-spec) and `calculator` resolves through its entry
point."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from covey.conformance.wheels import build_wheel, fresh_venv

PACKAGE = Path(__file__).resolve().parent.parent
WORKSPACE = PACKAGE.parent.parent

SMOKE = textwrap.dedent(
    """
    import asyncio
    from importlib.metadata import entry_points
    from covey.spec import RunContext

    async def main():
        [ep] = entry_points(group="covey.tools", name="calculator")
        toolset = ep.load()(None)
        result = await toolset.call_tool("calculate", {"expression": "6 * 7"}, RunContext(run_id="w"))
        return type(toolset).__name__, result.content

    print(*asyncio.run(main()))
    """
)


@pytest.mark.slow
def test_wheel_installs_alone_and_resolves_calculator(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    wheels = [build_wheel(PACKAGE, dist), build_wheel(WORKSPACE / "packages" / "spec", dist)]
    venv = fresh_venv(tmp_path / "venv")
    venv.install(*wheels)
    assert venv.run(SMOKE).strip().splitlines()[-1] == "CalculatorToolset 42"
    covey = {n for n in venv.distributions() if n.startswith("covey-")}
    assert covey == {"covey-tools-calculator", "covey-spec"}
