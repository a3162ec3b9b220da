"""A package made by `covey new tool-package` builds, installs alone, is found by `covey plugins`,
and passes its own tests there — what a third-party author gets on day one."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from covey.conformance.wheels import Venv, build_wheel, fresh_venv

PACKAGES = Path(__file__).resolve().parents[2]
# What `covey` needs to start, and what the generated package's tests need.
RUNTIME = ("spec", "core", "db-memory", "runtime")
TESTING = ("conformance", "testing")


def run(venv: Venv, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, env=dict(venv.env), capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.slow
def test_a_new_tool_package_installs_alone_is_listed_by_covey_plugins_and_passes_its_tests(
    tmp_path: Path,
) -> None:
    dist = tmp_path / "dist"
    workspace = {name: build_wheel(PACKAGES / name, dist) for name in (*RUNTIME, *TESTING)}
    venv = fresh_venv(tmp_path / "venv")
    venv.install(*(workspace[name] for name in RUNTIME))
    cli = str(venv.path / "bin" / "covey")

    # The template comes from the installed covey-runtime wheel (package data), not the checkout.
    (tmp_path / "work").mkdir()
    made = run(venv, [cli, "new", "tool-package", "acme-weather", "--into", "work"], tmp_path)
    assert made.returncode == 0, made.stderr
    package = tmp_path / "work" / "covey-tools-acme-weather"
    assert f"Created {Path('work') / package.name}" in made.stdout

    wheel = build_wheel(package, dist)
    assert wheel.name == "covey_tools_acme_weather-0.1.0-py3-none-any.whl"
    venv.install(wheel)
    covey = {n for n in venv.distributions() if n.startswith("covey-")}
    assert covey == {
        "covey-tools-acme-weather",
        "covey-spec",
        "covey-core",
        "covey-db-memory",
        "covey-runtime",
    }

    listed = run(venv, [cli, "plugins", "--json"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    tools = [row for row in json.loads(listed.stdout) if row["kind"] == "tools"]
    assert tools == [
        {
            "kind": "tools",
            "name": "acme_weather",
            "distribution": "covey-tools-acme-weather",
            "version": "0.1.0",
            "target": "covey.tools.acme_weather:from_reference",
        }
    ]
    table = run(venv, [cli, "plugins"], tmp_path)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if "acme_weather" in line)
    assert row.split() == ["tools", "acme_weather", "covey-tools-acme-weather", "0.1.0"]

    # The reference resolves in the installed package, through its entry point.
    resolved = venv.run(
        """
        import asyncio
        from covey.spec.context import RunContext
        from covey.spec.plugins import resolve_toolset

        async def main():
            toolset = resolve_toolset("acme_weather:Hi")
            async with toolset:
                result = await toolset.call_tool("greet", {"name": "Ada"}, RunContext(run_id="r"))
            print(type(toolset).__name__, toolset.id, result.content)

        asyncio.run(main())
        """
    )
    assert resolved.strip() == "AcmeWeatherToolset acme_weather Hi, Ada!"

    # An agent takes it by reference, and the README's example runs as written.
    answered = venv.run(
        """
        from covey.core import Agent
        from covey.core.testing import FunctionModel
        from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart

        def model(messages, info):
            done = [p for m in messages if isinstance(m, ModelRequest) for p in m.parts
                    if isinstance(p, ToolReturnPart)]
            if done:
                return ModelResponse(parts=[TextPart(content=done[0].content)])
            call = ToolCallPart(tool_name="greet", args={"name": "Ada"}, tool_call_id="c")
            return ModelResponse(parts=[call])

        agent = Agent(model=FunctionModel(model), tools=["acme_weather:Bonjour"])
        print(agent.run_sync("greet Ada").output)
        """
    )
    assert answered.strip() == "Bonjour, Ada!"
    readme = (package / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", readme, re.DOTALL)
    assert block is not None
    venv.run(block.group(1))

    # Its own tests, with the `test` extra, against the installed wheel (not the source tree).
    venv.install(f"{wheel}[test]", *(workspace[name] for name in TESTING))
    where = venv.run("import covey.tools.acme_weather as m; print(m.__file__)").strip()
    assert "site-packages" in where, where
    tests = run(venv, [str(venv.python), "-m", "pytest", "-q", "-p", "no:cacheprovider"], package)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "10 passed" in tests.stdout, tests.stdout
