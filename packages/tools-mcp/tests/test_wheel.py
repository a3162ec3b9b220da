"""The built wheel installs alone (with covey-spec and the `mcp` SDK), `mcp:<name>` resolves
through the entry point, and importing the package does not import the SDK."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from covey.conformance.wheels import build_wheel, fresh_venv

PACKAGE = Path(__file__).resolve().parent.parent
WORKSPACE = PACKAGE.parent.parent
PY_SERVER = PACKAGE / "tests" / "servers" / "py_server.py"

SMOKE = textwrap.dedent(
    """
    import asyncio, os, sys
    import covey.tools.mcp
    lazy = "mcp" not in sys.modules
    from covey.spec.context import RunContext
    from covey.spec.plugins import resolve_toolset

    async def main():
        toolset = resolve_toolset("mcp:py")
        async with toolset:
            tools = await toolset.list_tools(RunContext(run_id="wheel"))
            result = await toolset.call_tool("add", {"a": 1, "b": 2}, RunContext(run_id="w"))
        return type(toolset).__name__, lazy, len(tools) > 3, result.content["result"]

    print(*asyncio.run(main()))
    """
)


@pytest.mark.slow
def test_wheel_installs_alone_and_resolves_mcp_references(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    wheels = [build_wheel(PACKAGE, dist), build_wheel(WORKSPACE / "packages" / "spec", dist)]
    names = [w.name for w in sorted(dist.glob("*.whl"))]
    assert any(n.startswith("covey_tools_mcp-0.1.0-") for n in names), names

    venv = fresh_venv(tmp_path / "venv")
    venv.install(*wheels)
    config = venv.path / "mcp.json"  # found as ./mcp.json: the smoke runs in the venv's folder
    config.write_text(
        json.dumps({"mcpServers": {"py": {"command": str(venv.python), "args": [str(PY_SERVER)]}}})
    )
    assert venv.run(SMOKE).strip().splitlines()[-1] == "MCPToolset True True 3"
    covey = {n for n in venv.distributions() if n.startswith("covey-")}
    assert covey == {"covey-tools-mcp", "covey-spec"}
